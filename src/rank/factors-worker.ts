/**
 * Worker entry of the factor top-n: scores the pairs of the rows it claims into its own
 * selections (`selections[index]` of the payload). Started by `factorTopN` through `runRows`; must
 * be an extra entrypoint of a compiled build.
 */
import { serveRows } from "../parallel.ts";
import { factorPairsRows, type FactorTopNPayload } from "./factors.ts";

serveRows<FactorTopNPayload>((p, index) => {
  const sel = p.selections[index];
  return (start, end) => factorPairsRows(p.unit, p.nonzero, p.rows, p.k, start, end, sel);
});
