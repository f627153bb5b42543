/**
 * Exact top-n neighbours by cosine over a dense users × k factor matrix.
 *
 * Rows are L2-normalised once; then each block of query rows is multiplied by the transpose of one
 * tile of candidate rows at a time (Q·Cᵀ, block × tile dot products), only for candidates after
 * the query (each unordered pair once), and every product is offered to both rows' bounded
 * selections. Memory is O(users·k + threads·users·n), never users × users.
 *
 * The inner kernel computes a 4 × 4 block of dot products at once (four query rows against four
 * candidates, sixteen accumulators), each summing over the k factors in index order, so every
 * cosine is bit-identical to the naive loop Σ_f a_f·b_f: ties stay ties, and the result does not
 * depend on tiling or on how rows are split between threads.
 */
import { queryTopN, rankAllPairs, type KernelSetup, type NeighborLists, type SliceSetup, type QueryFilter, type QueryResult } from "./driver.ts";
import { offerRow as offer, type RowSelections } from "./heap.ts";
import { autoThreads, workerEntry } from "../parallel.ts";
import type { ProgressFn } from "../types.ts";

/** Row-wise L2 normalisation into a new array; all-zero (or non-finite-norm) rows stay zero. */
export function normalizeRows(m: Float64Array, rows: number, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    let s = 0;
    for (let f = 0; f < k; f++) s += m[o + f] * m[o + f];
    if (!(s > 0) || !Number.isFinite(s)) continue;
    const inv = 1 / Math.sqrt(s);
    for (let f = 0; f < k; f++) out[o + f] = m[o + f] * inv;
  }
  return out;
}

/** Rows per query block and per candidate tile (a 512 × 32 tile of doubles is 128 KiB: stays in L2). */
const QUERY_BLOCK = 32;
const CANDIDATE_TILE = 512;

/** 1 for rows with a non-zero entry. Zero rows have no direction: no neighbours, never a neighbour. */
export function nonzeroRows(unit: Float64Array, rows: number, k: number): Uint8Array {
  const nonzero = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    for (let f = 0; f < k; f++)
      if (unit[o + f] !== 0) {
        nonzero[r] = 1;
        break;
      }
  }
  return nonzero;
}

/** Offers four pair scores of query q (candidate id -1 = padding; only pairs q < c), both ways. */
function offer4(sel: RowSelections, q: number, c0: number, c1: number, c2: number, c3: number, s0: number, s1: number, s2: number, s3: number): void {
  if (c0 > q) {
    offer(sel, q, c0, s0);
    offer(sel, c0, q, s0);
  }
  if (c1 > q) {
    offer(sel, q, c1, s1);
    offer(sel, c1, q, s1);
  }
  if (c2 > q) {
    offer(sel, q, c2, s2);
    offer(sel, c2, q, s2);
  }
  if (c3 > q) {
    offer(sel, q, c3, s3);
    offer(sel, c3, q, s3);
  }
}

/** Offers four scores of query q (candidate id -1 = padding; q itself skipped) to q's own selection, at q − base. */
function offerOwn4(sel: RowSelections, q: number, base: number, c0: number, c1: number, c2: number, c3: number, s0: number, s1: number, s2: number, s3: number): void {
  const row = q - base;
  if (c0 >= 0 && c0 !== q) offer(sel, row, c0, s0);
  if (c1 >= 0 && c1 !== q) offer(sel, row, c1, s1);
  if (c2 >= 0 && c2 !== q) offer(sel, row, c2, s2);
  if (c3 >= 0 && c3 !== q) offer(sel, row, c3, s3);
}

/**
 * Copies the non-zero rows of [from, to) into `buf` (ids into `ids`), padded with zero rows of id
 * -1 to a multiple of four; returns the padded count (0 when none is non-zero).
 */
function packRows(unit: Float64Array, nonzero: Uint8Array, k: number, from: number, to: number, ids: Int32Array, buf: Float64Array): number {
  let n = 0;
  for (let r = from; r < to; r++) {
    if (!nonzero[r]) continue;
    ids[n] = r;
    buf.set(unit.subarray(r * k, r * k + k), n * k);
    n++;
  }
  if (n === 0) return 0;
  while (n % 4 !== 0) {
    ids[n] = -1;
    buf.fill(0, n * k, n * k + k);
    n++;
  }
  return n;
}

/**
 * Scores every pair {q, c} with q in `[start, end)` and q < c < rows, over the (already
 * normalised) rows of `unit` (rows × k), skipping all-zero rows (`nonzero[r] = 0`), and offers
 * each score to both q's and c's selection in `sel`. Each unordered pair is scored exactly once
 * over all ranges, so running the ranges [0, rows) in any partition into any number of
 * selections, then merging them ({@link finishSelections}), gives the exact top-n.
 */
export function factorPairsRows(unit: Float64Array, nonzero: Uint8Array, rows: number, k: number, start: number, end: number, sel: RowSelections): void {
  factorBlocks(unit, nonzero, rows, k, start, end, sel, -1);
}

/**
 * A shard's slice (see `SliceSetup`): scores every row q of [start, end) against every other row
 * and offers each score to q's selection only, at q − `base`. The same 4 × 4 blocks, each cosine
 * summed over the factors in index order, so every score has the bits {@link factorPairsRows}
 * gives the pair (a·b and b·a multiply the same numbers in the same order).
 */
export function factorSliceRows(unit: Float64Array, nonzero: Uint8Array, rows: number, k: number, start: number, end: number, sel: RowSelections, base: number): void {
  factorBlocks(unit, nonzero, rows, k, start, end, sel, base);
}

/** The two kernels above: `base` < 0 scores each pair once, both ways; else rows against all rows, own selection only. */
function factorBlocks(unit: Float64Array, nonzero: Uint8Array, rows: number, k: number, start: number, end: number, sel: RowSelections, base: number): void {
  const slice = base >= 0;
  // The query block and the candidate tile are compacted to their non-zero rows and padded with
  // zero rows (id -1) to a multiple of four, so the 4 × 4 kernel needs no edge cases.
  const tileIds = new Int32Array(CANDIDATE_TILE + 4);
  const tile = new Float64Array((CANDIDATE_TILE + 4) * k);
  const qIds = new Int32Array(QUERY_BLOCK + 4);
  const qbuf = new Float64Array((QUERY_BLOCK + 4) * k);

  for (let qa = start; qa < end; qa += QUERY_BLOCK) {
    const nq = packRows(unit, nonzero, k, qa, Math.min(end, qa + QUERY_BLOCK), qIds, qbuf);
    if (nq === 0) continue;
    // Candidates from the block's first row on: pairs with c ≤ q are skipped at offer time (a
    // slice takes every candidate).
    for (let ca = slice ? 0 : qa; ca < rows; ca += CANDIDATE_TILE) {
      const t = packRows(unit, nonzero, k, ca, Math.min(rows, ca + CANDIDATE_TILE), tileIds, tile);
      if (t === 0) continue;
      for (let g = 0; g < nq; g += 4) {
        const p0 = g * k;
        const p1 = p0 + k;
        const p2 = p1 + k;
        const p3 = p2 + k;
        // Padding query rows get id rows (never < c), so they offer nothing.
        const q0 = qIds[g];
        const q1 = qIds[g + 1] < 0 ? rows : qIds[g + 1];
        const q2 = qIds[g + 2] < 0 ? rows : qIds[g + 2];
        const q3 = qIds[g + 3] < 0 ? rows : qIds[g + 3];
        for (let c = 0; c < t; c += 4) {
          const o0 = c * k;
          const o1 = o0 + k;
          const o2 = o1 + k;
          const o3 = o2 + k;
          let a00 = 0, a01 = 0, a02 = 0, a03 = 0;
          let a10 = 0, a11 = 0, a12 = 0, a13 = 0;
          let a20 = 0, a21 = 0, a22 = 0, a23 = 0;
          let a30 = 0, a31 = 0, a32 = 0, a33 = 0;
          for (let f = 0; f < k; f++) {
            const b0 = tile[o0 + f];
            const b1 = tile[o1 + f];
            const b2 = tile[o2 + f];
            const b3 = tile[o3 + f];
            let a = qbuf[p0 + f];
            a00 += a * b0;
            a01 += a * b1;
            a02 += a * b2;
            a03 += a * b3;
            a = qbuf[p1 + f];
            a10 += a * b0;
            a11 += a * b1;
            a12 += a * b2;
            a13 += a * b3;
            a = qbuf[p2 + f];
            a20 += a * b0;
            a21 += a * b1;
            a22 += a * b2;
            a23 += a * b3;
            a = qbuf[p3 + f];
            a30 += a * b0;
            a31 += a * b1;
            a32 += a * b2;
            a33 += a * b3;
          }
          const c0 = tileIds[c];
          const c1 = tileIds[c + 1];
          const c2 = tileIds[c + 2];
          const c3 = tileIds[c + 3];
          if (slice) {
            // Padding query rows (id rows) offer nothing.
            offerOwn4(sel, q0, base, c0, c1, c2, c3, a00, a01, a02, a03);
            if (q1 < rows) offerOwn4(sel, q1, base, c0, c1, c2, c3, a10, a11, a12, a13);
            if (q2 < rows) offerOwn4(sel, q2, base, c0, c1, c2, c3, a20, a21, a22, a23);
            if (q3 < rows) offerOwn4(sel, q3, base, c0, c1, c2, c3, a30, a31, a32, a33);
          } else {
            offer4(sel, q0, c0, c1, c2, c3, a00, a01, a02, a03);
            offer4(sel, q1, c0, c1, c2, c3, a10, a11, a12, a13);
            offer4(sel, q2, c0, c1, c2, c3, a20, a21, a22, a23);
            offer4(sel, q3, c0, c1, c2, c3, a30, a31, a32, a33);
          }
        }
      }
    }
  }
}

/** Options of {@link factorTopN}. */
export interface FactorTopNOptions {
  /** Neighbours per row (default 10). */
  topN?: number;
  /** Worker threads (default: see `autoThreads`). */
  threads?: number;
  onProgress?: ProgressFn;
  /** Told how many threads computed the rows: 1 when the worker module is missing. */
  onThreads?: (threads: number) => void;
  /** Rank only rows [start, end) (a shard's slice); the others get no neighbours. */
  rows?: { start: number; end: number };
}

/** What the factor kernel reads (shared with workers): unit rows and which rows are non-zero. */
export interface FactorData {
  unit: Float64Array;
  nonzero: Uint8Array;
  rows: number;
  k: number;
}

/** The factor pair kernel for the top-n driver (the same on every thread). */
export const factorKernel: KernelSetup<FactorData> = (d, sel) => (start, end) => factorPairsRows(d.unit, d.nonzero, d.rows, d.k, start, end, sel);

/** The factor slice kernel for a shard (see `SliceSetup`). */
export const factorSlice: SliceSetup<FactorData> = (d, sel, base) => (start, end) => factorSliceRows(d.unit, d.nonzero, d.rows, d.k, start, end, sel, base);

const WORKER = workerEntry(new URL("./factors-worker.ts", import.meta.url), "src/rank/factors-worker.ts");

/** Unit rows and the non-zero mask of a factor matrix (rows × k, row-major). */
export function factorData(factors: Float64Array, rows: number, k: number): FactorData {
  if (factors.length !== rows * k) throw new RangeError(`factor matrix has ${factors.length} entries, expected ${rows} × ${k}`);
  const unit = normalizeRows(factors, rows, k);
  return { unit, nonzero: nonzeroRows(unit, rows, k), rows, k };
}

/**
 * Every row's top-n other rows by cosine of the rows of `factors` (rows × k, row-major): exact,
 * computed tile by tile, best first, ties by lower row index, the row itself and all-zero rows
 * excluded. Cosines may be negative; only the top n are kept. The result is bit-identical for any
 * thread count.
 */
export async function factorTopN(factors: Float64Array, rows: number, k: number, opts: FactorTopNOptions = {}): Promise<NeighborLists> {
  return rankFactorData(factorData(factors, rows, k), opts);
}

/** {@link factorTopN} over prepared {@link FactorData}. */
export function rankFactorData(data: FactorData, opts: FactorTopNOptions = {}): Promise<NeighborLists> {
  const { rows } = data;
  const threads = autoThreads(rows, opts.threads);
  // Early rows pair with more candidates (all later rows) than late ones; small chunks claimed
  // from an atomic counter keep both cores busy to the end.
  const span = opts.rows ? opts.rows.end - opts.rows.start : rows;
  const chunk = Math.max(QUERY_BLOCK, Math.ceil(span / (threads * 32) / QUERY_BLOCK) * QUERY_BLOCK);
  return rankAllPairs({
    rows,
    topN: opts.topN ?? 10,
    data,
    setup: factorKernel,
    worker: WORKER,
    chunk,
    step: QUERY_BLOCK * 8,
    threads,
    onProgress: opts.onProgress,
    onThreads: opts.onThreads,
    range: opts.rows && { ...opts.rows, slice: factorSlice },
  });
}

/**
 * One query's top-n by exact cosine: `query` is a unit factor vector (k entries), e.g. row `self`
 * of `data.unit` or a folded-in profile's; row `self` itself is never returned (-1: none). The
 * same left-to-right sum as the all-users kernel, so a row's answer equals its ranking.
 */
export function factorQuery(data: FactorData, query: Float64Array, self: number, n: number, filter: QueryFilter = {}): QueryResult {
  const { unit, nonzero, rows, k } = data;
  let any = false;
  for (let f = 0; f < k; f++) any ||= query[f] !== 0;
  if (!any) return { ids: new Int32Array(0), scores: new Float64Array(0) };
  return queryTopN(
    n,
    (offer) => {
      for (let c = 0; c < rows; c++) {
        if (c === self || !nonzero[c]) continue;
        const p = c * k;
        let s = 0;
        for (let f = 0; f < k; f++) s += query[f] * unit[p + f];
        offer(c, s);
      }
    },
    filter,
  );
}

/** A profile folded into a factor model: its unit factor vector. */
export interface FactorProfileVector {
  readonly unit: Float64Array;
}

/**
 * The users' unit factor rows of a model that ranks by cosine of factors (factorization, als):
 * every user's top-n, and one user's or profile's on demand, the same way for both.
 */
export class FactorRanking {
  readonly data: FactorData;

  constructor(factors: Float64Array, rows: number, k: number) {
    this.data = factorData(factors, rows, k);
  }

  /** Every user's top-n. */
  rank(users: readonly string[], options: FactorTopNOptions = {}): Promise<{ users: string[] } & NeighborLists> {
    return rankFactorData(this.data, options).then((lists) => ({ users: [...users], ...lists }));
  }

  /** The unit vector of user `subject` (a row) or of a folded profile, and the row to leave out (-1 for a profile). */
  unitOf(subject: number | FactorProfileVector): { unit: Float64Array; self: number } {
    if (typeof subject !== "number") return { unit: subject.unit, self: -1 };
    const k = this.data.k;
    return { unit: this.data.unit.subarray(subject * k, subject * k + k), self: subject };
  }

  /** One subject's top-n by exact cosine (see {@link factorQuery}). */
  query(subject: number | FactorProfileVector, n: number, filter: QueryFilter = {}): QueryResult {
    const { unit, self } = this.unitOf(subject);
    return factorQuery(this.data, unit, self, n, filter);
  }
}
