/**
 * Worker entry of the factor top-n: computes the rows it claims into the shared outputs.
 * Started by `factorTopN` through `runRows`; must be an extra entrypoint of a compiled build.
 */
import { serveRows } from "../parallel.ts";
import { factorTopNRows, type FactorTopNPayload } from "./factors.ts";

serveRows<FactorTopNPayload>((p) => (start, end) => factorTopNRows(p.unit, p.nonzero, p.rows, p.k, start, end, p));
