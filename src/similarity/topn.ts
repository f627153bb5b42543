/**
 * Exact top-n by sparse dot products, each unordered pair scored once.
 *
 * Row u accumulates ⟨x_u, x_v⟩ for every v > u sharing an item with u: the inverted index (the
 * transpose, rows in increasing order per item) lists those v, and a dense accumulator with a
 * touched-list collects the sums, so memory per thread is O(rows), never rows². The score is then
 * offered to both u's and v's bounded selections. A thread owns a full set of per-row selections
 * ({@link RowHeaps}); the sets of all threads are merged at the end ({@link mergeRowHeaps}).
 *
 * Floating-point order: the score of {u, v} is Σ x_uk·x_vk over their shared items k in increasing
 * column order, accumulated from 0, whichever of u and v drives it and whichever thread runs it. It
 * equals the left-to-right dense sum over all columns (zero products change nothing), so results
 * are bit-identical across thread counts and partitions, and against a dense Gram matrix.
 */
import { TopN } from "../rank/topn.ts";
import type { CSR } from "../matrix/csr.ts";
import { sharedArray } from "../parallel.ts";

/**
 * Bounded per-row selections in flat arrays: row r's kept candidates are the binary min-heap
 * `ids/scores[r·n, r·n + counts[r])`, its root the worst kept (lowest score, then highest id), so a
 * losing offer costs one comparison. Same order as `TopN`: score desc, ties by lower id.
 */
export interface RowHeaps {
  n: number;
  counts: Int32Array;
  ids: Int32Array;
  scores: Float64Array;
  /**
   * The score of row r's worst kept entry once it holds n, else -1 (scores offered are > 0): a
   * compact copy of the heap roots, so the common losing offer reads 8 bytes per row, not 3 arrays.
   */
  floor: Float64Array;
}

/** Empty selections for `rows` rows; `shared` backs them with SharedArrayBuffers for workers. */
export function rowHeaps(rows: number, n: number, shared = false): RowHeaps {
  const h: RowHeaps = shared
    ? { n, counts: sharedArray(Int32Array, rows), ids: sharedArray(Int32Array, rows * n), scores: sharedArray(Float64Array, rows * n), floor: sharedArray(Float64Array, rows) }
    : { n, counts: new Int32Array(rows), ids: new Int32Array(rows * n), scores: new Float64Array(rows * n), floor: new Float64Array(rows) };
  h.floor.fill(-1);
  return h;
}

/** Reusable scratch of one thread. */
export interface TopNScratch {
  acc: Float64Array;
  /** 1 for rows currently in `touched`. */
  seen: Uint8Array;
  touched: Int32Array;
}

export function topNScratch(rows: number): TopNScratch {
  return { acc: new Float64Array(rows), seen: new Uint8Array(rows), touched: new Int32Array(rows + 1) };
}

/** True if (s1, i1) ranks strictly below (s2, i2). */
function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 > i2);
}

/** Offers (id, score) to row r's selection. */
export function offer(h: RowHeaps, r: number, id: number, score: number): void {
  const n = h.n;
  const base = r * n;
  const hs = h.scores;
  const hi = h.ids;
  const count = h.counts[r];
  if (count < n) {
    let i = count;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(score, id, hs[base + p], hi[base + p])) break;
      hs[base + i] = hs[base + p];
      hi[base + i] = hi[base + p];
      i = p;
    }
    hs[base + i] = score;
    hi[base + i] = id;
    h.counts[r] = count + 1;
    if (count + 1 === n) h.floor[r] = hs[base];
    return;
  }
  if (!worse(hs[base], hi[base], score, id)) return;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const rr = l + 1;
    const c = rr < n && worse(hs[base + rr], hi[base + rr], hs[base + l], hi[base + l]) ? rr : l;
    if (!worse(hs[base + c], hi[base + c], score, id)) break;
    hs[base + i] = hs[base + c];
    hi[base + i] = hi[base + c];
    i = c;
  }
  hs[base + i] = score;
  hi[base + i] = id;
  h.floor[r] = hs[base];
}

/**
 * Scores rows [start, end) against every later row and offers each positive score to both rows'
 * selections in `heaps`. `xt` must be `transpose(x)`.
 */
export function accumulateRows(x: CSR, xt: CSR, start: number, end: number, heaps: RowHeaps, scratch: TopNScratch): void {
  const { indptr, indices, data } = x;
  const tIndptr = xt.indptr;
  const tIndices = xt.indices;
  const tData = xt.data;
  const { acc, seen, touched } = scratch;
  const floor = heaps.floor;
  for (let u = start; u < end; u++) {
    let nTouched = 0;
    for (let p = indptr[u]; p < indptr[u + 1]; p++) {
      const a = data[p];
      const k = indices[p];
      // First entry of column k past row u (column entries are in increasing row order).
      let lo = tIndptr[k];
      let hi = tIndptr[k + 1];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (tIndices[mid] <= u) lo = mid + 1;
        else hi = mid;
      }
      const stop = tIndptr[k + 1];
      for (let q = lo; q < stop; q++) {
        const v = tIndices[q];
        // Branch-free append: about half the visits are first visits, and a branch here
        // mispredicts often enough to double the cost of the loop.
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
      if (!(s > 0)) continue;
      // Most offers lose once rows fill up; `offer` settles ties at the floor by id.
      if (s >= floor[u]) offer(heaps, u, v, s);
      if (s >= floor[v]) offer(heaps, v, u, s);
    }
  }
}

/** Per-row top-n output: row r's entries are at [r·n, r·n + counts[r]), best first. */
export interface TopNOutput {
  n: number;
  counts: Int32Array;
  ids: Int32Array;
  scores: Float64Array;
}

/**
 * Merges the per-thread selections of every row into its final top-n, best first. Each candidate
 * of a row was offered to exactly one thread's selection, so the union of the kept ones contains
 * the overall best.
 */
export function mergeRowHeaps(parts: readonly RowHeaps[], rows: number, n: number): TopNOutput {
  const out: TopNOutput = { n, counts: new Int32Array(rows), ids: new Int32Array(rows * n), scores: new Float64Array(rows * n) };
  const select = new TopN(n);
  for (let r = 0; r < rows; r++) {
    for (const h of parts) {
      const base = r * h.n;
      for (let j = 0; j < h.counts[r]; j++) select.offer(h.ids[base + j], h.scores[base + j]);
    }
    out.counts[r] = select.drain(out.ids, out.scores, r * n);
  }
  return out;
}
