/**
 * Exact top-n by sparse dot products: for a row u, every row v sharing an item with u is reached
 * through the inverted index (the transpose) and its score ⟨x_u, x_v⟩ accumulated in a dense
 * accumulator, touching only co-occurring rows. Memory per thread is O(rows), never rows².
 *
 * Floating-point order: acc[v] receives x_uk·x_vk for u's items k in increasing column order, and
 * nothing else, so each score has the same bits whichever thread computes the row, and equals the
 * left-to-right sum Σ_k x_uk·x_vk over all columns (zero products change nothing).
 */
import { TopN } from "../rank/topn.ts";
import type { CSR } from "../matrix/csr.ts";

/** Per-row top-n output: row r's entries are at [r·n, r·n + counts[r]). */
export interface TopNOutput {
  n: number;
  counts: Int32Array;
  ids: Int32Array;
  scores: Float64Array;
}

/** Reusable scratch of one thread. */
export interface TopNScratch {
  acc: Float64Array;
  /** 1 for rows in `touched`. */
  seen: Uint8Array;
  touched: Int32Array;
  select: TopN;
}

export function topNScratch(rows: number, n: number): TopNScratch {
  return { acc: new Float64Array(rows), seen: new Uint8Array(rows), touched: new Int32Array(rows + 1), select: new TopN(n) };
}

/**
 * Computes rows [start, end) of the top-n: for each row u, the at most `out.n` other rows v with
 * ⟨x_u, x_v⟩ > 0, best first, ties by lower index. `xt` must be `transpose(x)`.
 */
export function topNRows(x: CSR, xt: CSR, start: number, end: number, out: TopNOutput, scratch: TopNScratch): void {
  const { indptr, indices, data } = x;
  const tIndptr = xt.indptr;
  const tIndices = xt.indices;
  const tData = xt.data;
  const { acc, seen, touched, select } = scratch;
  const n = out.n;
  for (let u = start; u < end; u++) {
    let nTouched = 0;
    for (let p = indptr[u]; p < indptr[u + 1]; p++) {
      const a = data[p];
      const k = indices[p];
      for (let q = tIndptr[k]; q < tIndptr[k + 1]; q++) {
        const v = tIndices[q];
        // Branch-free append: about half the visits are first visits, a branch here mispredicts
        // often enough to double the cost of the loop.
        touched[nTouched] = v;
        nTouched += seen[v] ^ 1;
        seen[v] = 1;
        acc[v] += a * tData[q];
      }
    }
    for (let t = 0; t < nTouched; t++) {
      const v = touched[t];
      const s = acc[v];
      acc[v] = 0;
      seen[v] = 0;
      if (v !== u && s > 0) select.offer(v, s);
    }
    out.counts[u] = select.drain(out.ids, out.scores, u * n);
  }
}
