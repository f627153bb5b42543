/**
 * Worker entry of the similarity top-n: accumulates the rows it claims into its own per-row
 * selections (`heaps[index]` of the payload). Started by `similarityTopN` through `runRows`;
 * must be an extra entrypoint of a compiled build.
 */
import { serveRows } from "../parallel.ts";
import type { TopNPayload } from "./index.ts";
import { accumulateRows, topNScratch } from "./topn.ts";

serveRows<TopNPayload>((p, index) => {
  const heaps = p.heaps[index];
  const scratch = topNScratch(p.x.rows);
  return (start, end) => accumulateRows(p.x, p.xt, start, end, heaps, scratch);
});
