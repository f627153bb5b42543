/**
 * Exact top-n by sparse dot products, each unordered pair scored once.
 *
 * Row u accumulates ⟨x_u, x_v⟩ for every v > u sharing an item with u: the inverted index (the
 * transpose, rows in increasing order per item) lists those v, and a dense accumulator with a
 * touched-list collects the sums, so memory per thread is O(rows), never rows². The score is then
 * offered to both u's and v's bounded selections. A thread owns a full set of per-row selections
 * (`RowSelections`); the sets of all threads are merged at the end (`finishSelections`).
 *
 * Floating-point order: the score of {u, v} is Σ x_uk·x_vk over their shared items k in increasing
 * column order, accumulated from 0, whichever of u and v drives it and whichever thread runs it. It
 * equals the left-to-right dense sum over all columns (zero products change nothing), so results
 * are bit-identical across thread counts and partitions, and against a dense Gram matrix. With
 * shrinkage λ > 0 the sum is then multiplied by n/(n + λ), n counted alongside (see {@link shrink}
 * and `ShrinkageCounter`).
 */
import type { CSR } from "../../matrix/csr.ts";
import type { KernelSetup, SliceSetup } from "../../rank/driver.ts";
import { offerRow, type RowSelections } from "../../rank/heap.ts";
import type { ShrinkageCounter } from "./matrix.ts";

/** Reusable scratch of one thread. */
export interface TopNScratch {
  acc: Float64Array;
  /**
   * Per touched row, the sum of the shared columns' counter adds (only counted with shrinkage,
   * then in place of `seen`; see `ShrinkageCounter`): shrinkage's n is `overlap >>> shift`.
   */
  overlap: Int32Array;
  /** 1 for rows currently in `touched`. */
  seen: Uint8Array;
  touched: Int32Array;
}

export function topNScratch(rows: number): TopNScratch {
  return { acc: new Float64Array(rows), overlap: new Int32Array(rows), seen: new Uint8Array(rows), touched: new Int32Array(rows + 1) };
}

/**
 * Accumulates row u's dot products with the rows sharing an item into `scratch.acc` and lists
 * those rows in `scratch.touched`; returns how many. With `laterOnly`, only rows after u (each
 * unordered pair once, for the all-users ranking); else every row, u itself included. Either way
 * a score is summed over the shared items in increasing column order from 0, so both give the
 * same bits for the same pair.
 */
export function gatherRow(x: CSR, xt: CSR, u: number, laterOnly: boolean, scratch: TopNScratch, adds: Int32Array | null = null): number {
  return gatherEntries(x.indices, x.data, x.indptr[u], x.indptr[u + 1], laterOnly ? u : -1, xt, scratch, adds);
}

/**
 * A pair's score with shrinkage λ: s · n/(n + λ), n = the shared columns that count (see
 * `ShrinkageCounter`; `explainRows` scales each item's contribution by the same factor). λ = 0
 * leaves s untouched.
 */
export function shrink(s: number, n: number, lambda: number): number {
  return lambda > 0 ? s * (n / (n + lambda)) : s;
}

/**
 * {@link gatherRow} for any sparse row: entries `[from, to)` of `indices`/`data` (columns
 * increasing), e.g. a matrix row or a folded-in profile. Rows up to `after` are skipped (-1: none).
 * With `adds` (shrinkage), each touched row's `overlap` sums the shared columns' adds.
 */
export function gatherEntries(indices: Int32Array, data: Float64Array, from: number, to: number, after: number, xt: CSR, scratch: TopNScratch, adds: Int32Array | null = null): number {
  const tIndptr = xt.indptr;
  const tIndices = xt.indices;
  const tData = xt.data;
  const { acc, seen, touched, overlap } = scratch;
  let nTouched = 0;
  for (let p = from; p < to; p++) {
    const a = data[p];
    const k = indices[p];
    let lo = tIndptr[k];
    const stop = tIndptr[k + 1];
    if (after >= 0) {
      // First entry of column k past row `after` (column entries are in increasing row order).
      let hi = stop;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (tIndices[mid] <= after) lo = mid + 1;
        else hi = mid;
      }
    }
    if (adds) {
      // A separate loop, so that the unshrunk kernel pays nothing for the count. The count doubles
      // as the first-visit mark (0: not yet touched; every add is > 0 and sums stay below 2^31),
      // so this loop touches no more memory than the other: (c − 1) >>> 31 is 1 exactly when c = 0.
      const add = adds[k];
      for (let q = lo; q < stop; q++) {
        const v = tIndices[q];
        touched[nTouched] = v;
        nTouched += (overlap[v] - 1) >>> 31;
        overlap[v] += add;
        acc[v] += a * tData[q];
      }
      continue;
    }
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
  return nTouched;
}

/**
 * Scores rows [start, end) against every later row and offers each positive score to both rows'
 * selections in `heaps`. `xt` must be `transpose(x)`.
 */
export function accumulateRows(x: CSR, xt: CSR, start: number, end: number, heaps: RowSelections, scratch: TopNScratch, shrinkage?: Shrinkage): void {
  const { acc, seen, touched, overlap } = scratch;
  const floor = heaps.floor;
  const count = shrinkage !== undefined;
  const adds = shrinkage?.counter.adds ?? null;
  const shift = shrinkage?.counter.shift ?? 0;
  const lambda = shrinkage?.lambda ?? 0;
  for (let u = start; u < end; u++) {
    const nTouched = gatherRow(x, xt, u, true, scratch, adds);
    for (let t = 0; t < nTouched; t++) {
      const v = touched[t];
      const s = count ? shrink(acc[v], overlap[v] >>> shift, lambda) : acc[v];
      acc[v] = 0;
      if (count) overlap[v] = 0;
      else seen[v] = 0;
      if (!(s > 0)) continue;
      // Most offers lose once rows fill up: checking the floor here saves the call; `offerRow`
      // settles ties at the floor by id.
      if (s >= floor[u]) offerRow(heaps, u, v, s);
      if (s >= floor[v]) offerRow(heaps, v, u, s);
    }
  }
}

/** The matrix and its transpose: what the similarity kernel reads (shared with workers). */
export interface SimilarityData {
  x: CSR;
  xt: CSR;
  /** Shrinkage, see {@link shrink} (absent: none). */
  shrinkage?: Shrinkage;
}

/** Shrinkage λ > 0 and how its n is counted. */
export interface Shrinkage {
  lambda: number;
  counter: ShrinkageCounter;
}

/** The similarity pair kernel for the top-n driver (the same on every thread). */
export const similarityKernel: KernelSetup<SimilarityData> = (data, sel) => {
  const scratch = topNScratch(data.x.rows);
  return (start, end) => accumulateRows(data.x, data.xt, start, end, sel, scratch, data.shrinkage);
};

/** A sparse query row: column ids (increasing) and values, in the matrix's column space. */
export interface SparseRow {
  indices: Int32Array;
  data: Float64Array;
}

/**
 * One query's scores against every row, offered to `offer` (each row sharing an item, once, with
 * a score > 0; row `self` never). The query is row `self` of the matrix, or `row` when given (a
 * folded-in profile). Each score is summed over the shared items in increasing column order from
 * 0, by the same {@link gatherEntries} as {@link accumulateRows}: bit-identical to the all-users ranking.
 */
export function scoreUser(data: SimilarityData, self: number, scratch: TopNScratch, offer: (id: number, score: number) => void, row?: SparseRow): void {
  const { acc, seen, touched, overlap } = scratch;
  const count = data.shrinkage !== undefined;
  const lambda = data.shrinkage?.lambda ?? 0;
  const shift = data.shrinkage?.counter.shift ?? 0;
  const adds = data.shrinkage?.counter.adds ?? null;
  const nTouched = row ? gatherEntries(row.indices, row.data, 0, row.indices.length, -1, data.xt, scratch, adds) : gatherRow(data.x, data.xt, self, false, scratch, adds);
  for (let t = 0; t < nTouched; t++) {
    const v = touched[t];
    const s = count ? shrink(acc[v], overlap[v] >>> shift, lambda) : acc[v];
    acc[v] = 0;
    if (count) overlap[v] = 0;
    else seen[v] = 0;
    if (v !== self && s > 0) offer(v, s);
  }
}

/**
 * A shard's slice (see `SliceSetup`): scores rows [start, end) against every other row and offers
 * each positive score to the row's own selection only, at u − `base`. Each row is one
 * {@link scoreUser} query, so its scores (shrinkage included) have the bits of {@link accumulateRows}.
 */
export function accumulateSliceRows(data: SimilarityData, start: number, end: number, heaps: RowSelections, scratch: TopNScratch, base: number): void {
  for (let u = start; u < end; u++) {
    const row = u - base;
    scoreUser(data, u, scratch, (v, s) => offerRow(heaps, row, v, s));
  }
}

/** The similarity slice kernel for a shard (the same on every thread). */
export const similaritySlice: SliceSetup<SimilarityData> = (data, sel, base) => {
  const scratch = topNScratch(data.x.rows);
  return (start, end) => accumulateSliceRows(data, start, end, sel, scratch, base);
};
