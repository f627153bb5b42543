/**
 * One ALS half-step over a range of rows (users given the items, or items given the users): the
 * kernel that runs on this thread or on workers (`worker.ts`), over fixed chunks of rows.
 *
 * Per row: a few CG steps (`solve.ts`), warm-started from the row's previous factors; a row
 * without observed entries gets zero factors. Per chunk, besides the new factors: the chunk's
 * part of the new side's Gram matrix XᵀX (upper triangle) and, on request, its part of the
 * training loss. Chunks are fixed by the row count alone ({@link halfStepChunk}) and each chunk is
 * summed row by row in order, so adding the chunks' parts in chunk order gives the same bits on
 * any number of threads.
 */
import daxpy from "@stdlib/blas-base-daxpy";
import ddot from "@stdlib/blas-base-ddot";
import { cgScratch, cgSolveRow } from "./solve.ts";

const axpy = daxpy.ndarray;
const dot = ddot.ndarray;

/** What a half-step reads and writes (typed arrays shared with workers). */
export interface HalfStepData {
  k: number;
  /** CG steps per row. */
  steps: number;
  /** Rows per chunk: every kernel call is one chunk, [c·chunk, min(rows, (c+1)·chunk)). */
  chunk: number;
  /** This side's rows × other-side entries: the observed pairs, with w = α·strength (c − 1). */
  indptr: Int32Array;
  indices: Int32Array;
  w: Float64Array;
  /** This side's factors (rows × k): read as the CG start, overwritten with the solution. */
  own: Float64Array;
  /** The other side's factors (fixed). */
  other: Float64Array;
  /** The other side's Gram matrix + λI (k × k). */
  a: Float64Array;
  /** Out: per chunk, the upper triangle of Σ x xᵀ over its new rows (k × k each). */
  grams: Float64Array;
  /** Out, if `loss`: per chunk, Σ over its observed pairs of c(1 − s)² − s², s = x·y. */
  losses: Float64Array;
  loss: boolean;
}

/**
 * Chunk size for `rows` rows: at most 64 chunks, so the per-chunk Gram parts stay small (64 · k²
 * doubles), and never fewer than 128 rows. It depends on the row count only, never on threads.
 */
export function halfStepChunk(rows: number): number {
  return Math.max(128, Math.ceil(rows / 64));
}

/** The two sides of ALS, as a worker pool's payload: each side's half-step over the same shared arrays. */
export interface HalfSteps {
  users: HalfStepData;
  items: HalfStepData;
}

export type Side = keyof HalfSteps;

/** Both sides' kernels, made once (per thread); a run names its side. */
export function halfStepKernels(p: HalfSteps): (side: Side) => (start: number, end: number) => void {
  const kernels = { users: halfStepKernel(p.users), items: halfStepKernel(p.items) };
  return (side) => kernels[side];
}

/** The half-step kernel: solves one chunk of rows [start, end) per call. */
export function halfStepKernel(d: HalfStepData): (start: number, end: number) => void {
  const { k, steps, chunk, indptr, indices, w, own, other, a, grams, losses } = d;
  const scratch = cgScratch(k);
  return (start, end) => {
    if (start % chunk !== 0 || end - start > chunk) throw new RangeError(`half-step rows [${start}, ${end}) are not one chunk of ${chunk}`);
    const c = start / chunk;
    const go = c * k * k;
    grams.fill(0, go, go + k * k);
    let loss = 0;
    for (let u = start; u < end; u++) {
      const xo = u * k;
      const from = indptr[u];
      const to = indptr[u + 1];
      if (from === to) {
        own.fill(0, xo, xo + k);
        continue;
      }
      cgSolveRow(k, a, other, indices, w, from, to, own, xo, steps, scratch);
      if (d.loss) {
        // Observed pair: c(1 − s)² replaces the s² that the Gram term counts for every pair.
        for (let q = from; q < to; q++) {
          const s = dot(k, other, 1, indices[q] * k, own, 1, xo);
          const e = 1 - s;
          loss += (1 + w[q]) * e * e - s * s;
        }
      }
      for (let j = 0; j < k; j++) axpy(k - j, own[xo + j], own, 1, xo + j, grams, 1, go + j * k + j);
    }
    losses[c] = loss;
  };
}
