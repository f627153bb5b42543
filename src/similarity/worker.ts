/**
 * Worker entry of the similarity top-n: computes the rows it claims into the shared outputs.
 * Started by `similarityTopN` through `runRows`; must be an extra entrypoint of a compiled build.
 */
import { serveRows } from "../parallel.ts";
import { topNRows, topNScratch } from "./topn.ts";
import type { TopNPayload } from "./index.ts";

serveRows<TopNPayload>((p) => {
  const out = { n: p.n, counts: p.counts, ids: p.ids, scores: p.scores };
  const scratch = topNScratch(p.x.rows, p.n);
  return (start, end) => topNRows(p.x, p.xt, start, end, out, scratch);
});
