/**
 * Implicit ALS training: alternate the item half-step (items given users) and the user half-step
 * (users given items), `iterations` times, from seeded random factors. The user half-step comes
 * last, so the final user factors are solved against the final item factors (as fold-in solves a
 * new user's; exactly so when the CG steps converge).
 *
 * Both half-steps run over fixed chunks of rows (`halfstep.ts`), on a pool of Bun Workers kept
 * for the whole fit when more than one thread is asked for, else on this thread; the Gram
 * matrices and the loss are summed from the chunks' parts in chunk order on this thread. Same
 * seed, same factors, bit for bit, on any number of threads.
 */
import type { CSR } from "../../matrix/csr.ts";
import { sharedArray, startRowPool, toShared, workerEntry } from "../../parallel.ts";
import { Rng } from "../../random.ts";
import type { ProgressFn } from "../../types.ts";
import type { EpochReport } from "../method.ts";
import { halfStepChunk, halfStepKernels, type HalfStepData, type HalfSteps, type Side } from "./halfstep.ts";
import type { Incidence } from "./incidence.ts";

/** What training needs besides the data. */
export interface AlsTrainOptions {
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  cgSteps: number;
  seed: number;
  /** 1 runs on this thread; more start workers (results never depend on it). */
  threads: number;
  onEpoch?: (epoch: EpochReport) => void;
  onProgress?: ProgressFn;
}

/** What training produced. */
export interface AlsFactors {
  k: number;
  /** users × k, row-major. */
  userFactors: Float64Array;
  /** items × k, row-major. */
  itemFactors: Float64Array;
  /** YᵀY of the final item factors (k × k): what the last user half-step solved against. */
  itemGram: Float64Array;
  /** One entry per iteration (loss after its user half-step). */
  epochs: EpochReport[];
  /** Threads that ran the half-steps (1 when the worker module is missing). */
  threads: number;
}

const WORKER = workerEntry(new URL("./worker.ts", import.meta.url), "src/methods/als/worker.ts");

/** Initial factors: uniform in [0, 0.01) from the seeded generator (as `implicit` starts), 0 for rows without entries. */
function initFactors(rng: Rng, rows: number, k: number, indptr: Int32Array): Float64Array {
  const f = sharedArray(Float64Array, rows * k);
  for (let i = 0; i < f.length; i++) f[i] = rng.next() * 0.01;
  for (let r = 0; r < rows; r++) if (indptr[r] === indptr[r + 1]) f.fill(0, r * k, r * k + k);
  return f;
}

/** The full symmetric Gram matrix from the chunks' upper triangles, summed in chunk order. */
function sumGrams(grams: Float64Array, chunks: number, k: number): Float64Array {
  const g = new Float64Array(k * k);
  for (let c = 0; c < chunks; c++) {
    const o = c * k * k;
    for (let j = 0; j < k; j++) for (let l = j; l < k; l++) g[j * k + l] += grams[o + j * k + l];
  }
  for (let j = 0; j < k; j++) for (let l = j + 1; l < k; l++) g[l * k + j] = g[j * k + l];
  return g;
}

/** The Gram matrix of `rows` × k factors, by the same chunked sums as a half-step. */
function gramOf(f: Float64Array, rows: number, k: number): Float64Array {
  const chunk = halfStepChunk(rows);
  const chunks = Math.ceil(rows / chunk);
  const grams = new Float64Array(chunks * k * k);
  for (let c = 0; c < chunks; c++) {
    const o = c * k * k;
    for (let r = c * chunk; r < Math.min(rows, (c + 1) * chunk); r++)
      for (let j = 0; j < k; j++) {
        const v = f[r * k + j];
        for (let l = j; l < k; l++) grams[o + j * k + l] += v * f[r * k + l];
      }
  }
  return sumGrams(grams, chunks, k);
}

/** Trains user and item factors on `inc` (see the module comment). */
export async function trainAls(inc: Incidence, o: AlsTrainOptions): Promise<AlsFactors> {
  const k = o.factors;
  const nUsers = inc.userItems.rows;
  const nItems = inc.userItems.cols;
  const rng = new Rng(o.seed);
  const users = initFactors(rng, nUsers, k, inc.userItems.indptr);
  const items = initFactors(rng, nItems, k, inc.itemUsers.indptr);
  // The solvers read w = c − 1 = α·strength. `a` (the other side's Gram + λI) is shared by both.
  const a = sharedArray(Float64Array, k * k);
  const side = (m: CSR, own: Float64Array, other: Float64Array, loss: boolean): HalfStepData => {
    const chunk = halfStepChunk(m.rows);
    const chunks = Math.ceil(m.rows / chunk);
    return {
      k,
      steps: o.cgSteps,
      chunk,
      indptr: toShared(m.indptr),
      indices: toShared(m.indices),
      w: toShared(m.data.map((s) => o.alpha * s)),
      own,
      other,
      a,
      grams: sharedArray(Float64Array, chunks * k * k),
      losses: sharedArray(Float64Array, chunks),
      loss,
    };
  };
  // The loss is taken after the user half-step, which ends an iteration.
  const sides: HalfSteps = { users: side(inc.userItems, users, items, true), items: side(inc.itemUsers, items, users, false) };
  let totalConfidence = 0;
  for (const s of inc.userItems.data) totalConfidence += 1 + o.alpha * s;
  const weight = totalConfidence + nUsers * nItems - inc.userItems.data.length;
  const total = o.iterations * (nUsers + nItems);
  let done = 0;

  // Workers stay up for the whole fit (a pool per half-step would start them, and compile the
  // kernel, 2 × iterations times); without the worker module, this thread runs the same chunks.
  const pool = o.threads > 1 ? await startRowPool<HalfSteps, Side>(WORKER, sides, o.threads) : undefined;
  const kernels = pool ? undefined : halfStepKernels(sides);
  try {
    /** Solves `name`'s rows against the other side's Gram `g`; returns the new Gram and loss part. */
    const halfStep = async (name: Side, g: Float64Array) => {
      const d = sides[name];
      const rows = d.indptr.length - 1;
      a.set(g);
      for (let j = 0; j < k; j++) a[j * k + j] += o.regularization;
      const before = done;
      const report = o.onProgress && ((rowsDone: number) => o.onProgress?.("train", before + rowsDone, total));
      if (pool) await pool.run(rows, d.chunk, name, report);
      else {
        const kernel = kernels!(name);
        for (let start = 0; start < rows; start += d.chunk) {
          kernel(start, Math.min(rows, start + d.chunk));
          report?.(Math.min(rows, start + d.chunk));
        }
      }
      done += rows;
      const chunks = Math.ceil(rows / d.chunk);
      let loss = 0;
      for (let c = 0; c < chunks; c++) loss += d.losses[c];
      return { gram: sumGrams(d.grams, chunks, k), loss };
    };

    let userGram = gramOf(users, nUsers, k);
    // Set by every iteration's item half-step (there is at least one iteration).
    let itemGram: Float64Array = new Float64Array(k * k);
    const epochs: EpochReport[] = [];
    for (let it = 0; it < o.iterations; it++) {
      const t0 = performance.now();
      itemGram = (await halfStep("items", userGram)).gram;
      const step = await halfStep("users", itemGram);
      userGram = step.gram;
      // Σ_all pairs c(p − s)² + λ(‖X‖² + ‖Y‖²), with Σ_all s² = Σ_u xᵀ(YᵀY)x = ⟨YᵀY, XᵀX⟩, divided
      // by Σ_all pairs c (as `implicit`'s training loss).
      let cross = 0;
      let norms = 0;
      for (let j = 0; j < k; j++) {
        for (let l = 0; l < k; l++) cross += itemGram[j * k + l] * userGram[j * k + l];
        norms += itemGram[j * k + j] + userGram[j * k + j];
      }
      const loss = weight > 0 ? (cross + step.loss + o.regularization * norms) / weight : 0;
      const report: EpochReport = { epoch: it + 1, epochs: o.iterations, loss, seconds: (performance.now() - t0) / 1000 };
      epochs.push(report);
      o.onEpoch?.(report);
    }
    o.onProgress?.("train", total, total);
    return { k, userFactors: users, itemFactors: items, itemGram, epochs, threads: pool?.threads ?? 1 };
  } finally {
    pool?.close();
  }
}
