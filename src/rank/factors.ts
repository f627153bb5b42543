/**
 * Exact top-n neighbours by cosine over a dense users × k factor matrix.
 *
 * Rows are L2-normalised once; then each block of query rows is multiplied by the transpose of one
 * tile of candidate rows at a time (Q·Cᵀ, blocks × tile dot products), and the products feed a
 * bounded {@link TopN} per query row. Memory is O(users·k + users·n), never users × users.
 *
 * The inner kernel computes a 4 × 4 block of dot products at once (four query rows against four
 * candidates, sixteen accumulators),
 * summing over the k factors in index order, so every cosine is bit-identical to the naive loop
 * Σ_f a_f·b_f whichever side is the query: ties stay ties and the result does not depend on tiling
 * or on how rows are split between threads.
 */
import { defaultThreads, runRows, sharedArray, toShared, workerEntry } from "../parallel.ts";
import type { ProgressFn } from "../types.ts";
import { TopN } from "./topn.ts";

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

/** Top-n output for all rows, `n` slots per row (fixed stride `n`), `counts[r]` of them used. */
export interface FactorTopNOutput {
  n: number;
  counts: Int32Array;
  ids: Int32Array;
  scores: Float64Array;
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

/**
 * Exact top-`out.n` by dot product of the (already normalised) rows `[start, end)` of `unit`
 * (rows × k) against every row, excluding the row itself and all-zero rows (`nonzero[r] = 0`); a
 * zero query row gets no neighbours. Ties go to the lower row index. Writes row r's neighbours at
 * `out.ids[r*n ..]`, best first.
 */
export function factorTopNRows(
  unit: Float64Array,
  nonzero: Uint8Array,
  rows: number,
  k: number,
  start: number,
  end: number,
  out: FactorTopNOutput,
): void {
  const n = out.n;
  const heaps: TopN[] = [];
  for (let b = 0; b < QUERY_BLOCK; b++) heaps.push(new TopN(n));
  // Candidate tile compacted to its non-zero rows and padded with zero rows (id -1) to a multiple of
  // four; the query block likewise, so the 4 × 4 kernel needs no edge cases.
  const tileIds = new Int32Array(CANDIDATE_TILE + 4);
  const tile = new Float64Array((CANDIDATE_TILE + 4) * k);
  const qIds = new Int32Array(QUERY_BLOCK + 4);
  const qbuf = new Float64Array((QUERY_BLOCK + 4) * k);
  const thresholds = new Float64Array(QUERY_BLOCK + 4);
  const tmpIds = new Int32Array(n);
  const tmpScores = new Float64Array(n);

  for (let qa = start; qa < end; qa += QUERY_BLOCK) {
    const qb = Math.min(end, qa + QUERY_BLOCK);
    let nq = 0;
    for (let q = qa; q < qb; q++) {
      if (!nonzero[q]) continue;
      qIds[nq] = q;
      qbuf.set(unit.subarray(q * k, q * k + k), nq * k);
      nq++;
    }
    thresholds.fill(-Infinity);
    while (nq % 4 !== 0) {
      qIds[nq] = -1;
      qbuf.fill(0, nq * k, nq * k + k);
      nq++;
    }
    for (let ca = 0; ca < rows && nq > 0; ca += CANDIDATE_TILE) {
      const cb = Math.min(rows, ca + CANDIDATE_TILE);
      let t = 0;
      for (let c = ca; c < cb; c++) {
        if (!nonzero[c]) continue;
        tileIds[t] = c;
        tile.set(unit.subarray(c * k, c * k + k), t * k);
        t++;
      }
      if (t === 0) continue;
      while (t % 4 !== 0) {
        tileIds[t] = -1;
        tile.fill(0, t * k, t * k + k);
        t++;
      }
      for (let g = 0; g < nq; g += 4) {
        const p0 = g * k;
        const p1 = p0 + k;
        const p2 = p1 + k;
        const p3 = p2 + k;
        const q0 = qIds[g];
        const q1 = qIds[g + 1];
        const q2 = qIds[g + 2];
        const q3 = qIds[g + 3];
        const h0 = heaps[q0 - qa];
        const h1 = q1 >= 0 ? heaps[q1 - qa] : h0;
        const h2 = q2 >= 0 ? heaps[q2 - qa] : h0;
        const h3 = q3 >= 0 ? heaps[q3 - qa] : h0;
        const t0 = thresholds[g];
        const t1 = thresholds[g + 1];
        const t2 = thresholds[g + 2];
        const t3 = thresholds[g + 3];
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
          offer4(h0, t0, q0, c0, c1, c2, c3, a00, a01, a02, a03);
          if (q1 >= 0) offer4(h1, t1, q1, c0, c1, c2, c3, a10, a11, a12, a13);
          if (q2 >= 0) offer4(h2, t2, q2, c0, c1, c2, c3, a20, a21, a22, a23);
          if (q3 >= 0) offer4(h3, t3, q3, c0, c1, c2, c3, a30, a31, a32, a33);
        }
      }
      for (let g = 0; g < nq; g++) if (qIds[g] >= 0) thresholds[g] = refreshThreshold(heaps[qIds[g] - qa], n, tmpIds, tmpScores);
    }
    for (let q = qa; q < qb; q++) out.counts[q] = heaps[q - qa].drain(out.ids, out.scores, q * n);
  }
}

/** Offers four candidates (id -1 = padding) to a query row's selector, skipping the row itself. */
function offer4(h: TopN, thr: number, q: number, c0: number, c1: number, c2: number, c3: number, s0: number, s1: number, s2: number, s3: number): void {
  // A score strictly below the worst kept one would be rejected anyway; most are, so test first.
  if (s0 >= thr && c0 >= 0 && c0 !== q) h.offer(c0, s0);
  if (s1 >= thr && c1 >= 0 && c1 !== q) h.offer(c1, s1);
  if (s2 >= thr && c2 >= 0 && c2 !== q) h.offer(c2, s2);
  if (s3 >= thr && c3 >= 0 && c3 !== q) h.offer(c3, s3);
}

/**
 * Lower bound for useful offers to a full selector: its worst kept score. TopN does not expose it,
 * so drain (best first) and offer the entries back; done once per tile, it is cheap.
 */
function refreshThreshold(h: TopN, n: number, ids: Int32Array, scores: Float64Array): number {
  if (h.size < n) return -Infinity;
  h.drain(ids, scores, 0);
  for (let i = 0; i < n; i++) h.offer(ids[i], scores[i]);
  return scores[n - 1];
}

/** CSR arrays from a fixed-stride output. */
export function compactTopN(out: FactorTopNOutput, rows: number): { offsets: Int32Array; neighbors: Int32Array; scores: Float64Array } {
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r] + out.counts[r];
  const neighbors = new Int32Array(offsets[rows]);
  const scores = new Float64Array(offsets[rows]);
  for (let r = 0; r < rows; r++) {
    const from = r * out.n;
    neighbors.set(out.ids.subarray(from, from + out.counts[r]), offsets[r]);
    scores.set(out.scores.subarray(from, from + out.counts[r]), offsets[r]);
  }
  return { offsets, neighbors, scores };
}

/** Above this many rows, {@link factorTopN} uses worker threads by default. */
export const PARALLEL_THRESHOLD = 2000;

/** Options of {@link factorTopN}. */
export interface FactorTopNOptions {
  /** Neighbours per row (default 10). */
  topN?: number;
  /** Worker threads (default: all cores above {@link PARALLEL_THRESHOLD} rows, else 1). */
  threads?: number;
  onProgress?: ProgressFn;
}

/** What a factor top-n worker receives (arrays backed by SharedArrayBuffers). */
export interface FactorTopNPayload extends FactorTopNOutput {
  unit: Float64Array;
  nonzero: Uint8Array;
  rows: number;
  k: number;
}

const WORKER = workerEntry(new URL("./factors-worker.ts", import.meta.url), "src/rank/factors-worker.ts");

/**
 * Every row's top-n other rows by cosine of the rows of `factors` (rows × k, row-major): exact,
 * computed tile by tile, best first, ties by lower row index, the row itself and all-zero rows
 * excluded. Cosines may be negative; only the top n are kept. The result is bit-identical for any
 * thread count.
 */
export async function factorTopN(
  factors: Float64Array,
  rows: number,
  k: number,
  opts: FactorTopNOptions = {},
): Promise<{ offsets: Int32Array; neighbors: Int32Array; scores: Float64Array }> {
  const topN = opts.topN ?? 10;
  if (!Number.isInteger(topN) || topN < 1) throw new RangeError(`topN must be a positive integer, got ${topN}`);
  if (factors.length !== rows * k) throw new RangeError(`factor matrix has ${factors.length} entries, expected ${rows} × ${k}`);
  const threads = opts.threads ?? (rows > PARALLEL_THRESHOLD ? defaultThreads() : 1);
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const n = Math.min(topN, Math.max(rows - 1, 0));
  const report = opts.onProgress;
  if (n === 0) {
    report?.("top-n", rows, rows);
    return { offsets: new Int32Array(rows + 1), neighbors: new Int32Array(0), scores: new Float64Array(0) };
  }
  let out: FactorTopNOutput;
  if (threads === 1) {
    const unit = normalizeRows(factors, rows, k);
    const nonzero = nonzeroRows(unit, rows, k);
    out = { n, counts: new Int32Array(rows), ids: new Int32Array(rows * n), scores: new Float64Array(rows * n) };
    const step = 256;
    for (let start = 0; start < rows; start += step) {
      const end = Math.min(rows, start + step);
      factorTopNRows(unit, nonzero, rows, k, start, end, out);
      report?.("top-n", end, rows);
    }
  } else {
    const unit = toShared(normalizeRows(factors, rows, k));
    const payload: FactorTopNPayload = {
      unit,
      nonzero: toShared(nonzeroRows(unit, rows, k)),
      rows,
      k,
      n,
      counts: sharedArray(Int32Array, rows),
      ids: sharedArray(Int32Array, rows * n),
      scores: sharedArray(Float64Array, rows * n),
    };
    // Chunks of whole query blocks; ~16 per thread balance the two cores well.
    const chunk = Math.max(QUERY_BLOCK, Math.ceil(rows / (threads * 16) / QUERY_BLOCK) * QUERY_BLOCK);
    await runRows({ worker: WORKER, rows, payload, threads, chunk, onProgress: report && ((done, total) => report("top-n", done, total)) });
    out = payload;
  }
  return compactTopN(out, rows);
}
