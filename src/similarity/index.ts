/**
 * Method 1: exact weighted cosine similarity between users, and every user's top-n neighbours.
 *
 * similarity(u, v) = Σ_b w_b · ⟨x_b(u), x_b(v)⟩ over the blocks b = interests, courses,
 * assessments, where x_b(u) is u's block vector (see `buildInteractions`) L2-normalized on its own
 * (absent if u has nothing in b) and the weights sum to 1, so scores lie in [0, 1]. It is computed
 * as a single sparse dot product: each normalized block is scaled by √w_b and the blocks are put
 * side by side, so ⟨X(u), X(v)⟩ is the weighted sum. Exact: every pair of users sharing an item is
 * scored; nothing is sampled or approximated.
 */
import { hstack, nnz, normalizeRows, scale, transpose, type CSR } from "../matrix/csr.ts";
import { BLOCK_NAMES, buildInteractions, type BlockName, type Interactions } from "../matrix/interactions.ts";
import { autoThreads, plannedThreads, runRowsIfAvailable, toShared, workerEntry } from "../parallel.ts";
import type { Dataset, ProgressFn, Rankings } from "../types.ts";
import { finishSelections, rowSelections, usersWithNeighbors, type RowSelections } from "../rank/selections.ts";
import { accumulateRows, topNScratch } from "./topn.ts";
import { DEFAULT_WEIGHTS, normalizeWeights, type Weights } from "./weights.ts";

export { DEFAULT_WEIGHTS, formatWeights, normalizeWeights, parseWeights, type Weights } from "./weights.ts";

/** Size of one block in the similarity matrix. */
export interface BlockStats {
  /** Normalized weight w_b (0: the block is left out of the matrix). */
  weight: number;
  /** Distinct items of the block. */
  items: number;
  /** Non-zero entries of the block (zero values, e.g. 0-second courses, are not stored). */
  nnz: number;
  /** Users with a (non-zero) vector in the block. */
  users: number;
}

/** The weighted user × item matrix whose row dot products are the similarities. */
export interface UserItemMatrix {
  /** Users with at least one interaction, in canonical handle order (the matrix rows). */
  users: string[];
  weights: Weights;
  /** Blocks with positive weight side by side, each row L2-normalized per block and scaled by √w_b. */
  matrix: CSR;
  blocks: Record<BlockName, BlockStats>;
}

/**
 * Builds the weighted similarity matrix from a dataset (tags normalized, as `readTables` and
 * `loadDataset` deliver them). `weights` default to {@link DEFAULT_WEIGHTS} and are validated and
 * normalized to sum to 1 (see `normalizeWeights`).
 */
export function buildUserItemMatrix(dataset: Dataset, weights: Partial<Weights> = DEFAULT_WEIGHTS): UserItemMatrix {
  return weightInteractions(buildInteractions(dataset), weights);
}

/** {@link buildUserItemMatrix} from interaction blocks already built. */
export function weightInteractions(interactions: Interactions, weights: Partial<Weights> = DEFAULT_WEIGHTS): UserItemMatrix {
  const w = normalizeWeights(weights);
  const parts: CSR[] = [];
  const blocks = {} as Record<BlockName, BlockStats>;
  for (const name of BLOCK_NAMES) {
    const { items, values } = interactions.blocks[name];
    const unit = normalizeRows(values);
    let users = 0;
    for (let u = 0; u < unit.rows; u++) if (unit.indptr[u + 1] > unit.indptr[u]) users++;
    blocks[name] = { weight: w[name], items: items.length, nnz: nnz(unit), users };
    if (w[name] > 0) parts.push(scale(unit, Math.sqrt(w[name])));
  }
  return { users: interactions.users, weights: w, matrix: hstack(parts), blocks };
}

/** Options of {@link similarityTopN}. */
export interface TopNOptions {
  /** Neighbours per user (default 10). */
  topN?: number;
  /**
   * Threads: 1 computes inline; more starts that many workers. Default: `autoThreads` (every core
   * above 2,000 users, else 1). Results are identical either way.
   */
  threads?: number;
  onProgress?: ProgressFn;
  /** Told how many threads computed the rows: 1 when the worker module is missing (see `WorkersUnavailableError`). */
  onThreads?: (threads: number) => void;
}

/** What a similarity worker receives (all typed arrays SharedArrayBuffer-backed). */
export interface TopNPayload {
  x: CSR;
  xt: CSR;
  /** One set of per-row selections per worker. */
  heaps: RowSelections[];
}

function sharedCSR(m: CSR): CSR {
  return { rows: m.rows, cols: m.cols, indptr: toShared(m.indptr), indices: toShared(m.indices), data: toShared(m.data) };
}

const WORKER = workerEntry(new URL("./worker.ts", import.meta.url), "src/similarity/worker.ts");

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Every user's top-n most similar other users with a score > 0, best first, ties by lower user
 * index (= handle order). Rows without any positive score get no neighbours. Memory beyond the
 * matrix and its transpose: O(users) scratch and O(users × topN) selections per thread.
 */
export async function similarityTopN(m: UserItemMatrix, opts: TopNOptions = {}): Promise<Rankings> {
  const topN = positiveInteger("topN", opts.topN ?? 10);
  const rows = m.matrix.rows;
  const threads = autoThreads(rows, opts.threads);
  // No row can have more neighbours than there are other rows; this bounds the output buffers.
  const n = Math.min(topN, Math.max(rows - 1, 0));
  const report = opts.onProgress;
  if (n === 0) {
    report?.("top-n", rows, rows);
    return { users: m.users, offsets: new Int32Array(rows + 1), neighbors: new Int32Array(0), scores: new Float64Array(0) };
  }
  const xt = transpose(m.matrix);
  let parts: RowSelections[] | undefined;
  if (threads > 1) {
    const planned = plannedThreads(rows, threads);
    const payload: TopNPayload = {
      x: sharedCSR(m.matrix),
      xt: sharedCSR(xt),
      heaps: Array.from({ length: planned.threads }, () => rowSelections(rows, n, true)),
    };
    const task = { worker: WORKER, rows, payload, threads: planned.threads, chunk: planned.chunk, onProgress: report && ((done: number, total: number) => report("top-n", done, total)) };
    if (await runRowsIfAvailable(task)) {
      parts = payload.heaps;
      opts.onThreads?.(planned.threads);
    }
  }
  // One thread by request, or because no worker module is there to run (same rows, same result).
  if (!parts) {
    opts.onThreads?.(1);
    parts = [rowSelections(rows, n)];
    const scratch = topNScratch(rows);
    const step = Math.max(1, Math.min(1024, Math.ceil(rows / 100)));
    for (let start = 0; start < rows; start += step) {
      const end = Math.min(rows, start + step);
      accumulateRows(m.matrix, xt, start, end, parts[0], scratch);
      report?.("top-n", end, rows);
    }
  }
  return { users: m.users, ...finishSelections(parts, rows) };
}

/** Options of {@link rankBySimilarity} and {@link similarityRun}. */
export interface SimilarityOptions extends TopNOptions {
  /** Block weights (normalized to sum 1); default interests 0.5, courses 0.3, assessments 0.2. */
  weights?: Partial<Weights>;
}

/** Figures of a similarity run, for summaries and the runs table. */
export interface SimilarityStats {
  /** Users with at least one interaction (the ranked users). */
  users: number;
  /** Ranked users that got at least one neighbour. */
  usersWithNeighbors: number;
  weights: Weights;
  blocks: Record<BlockName, BlockStats>;
  /** Non-zero entries of the whole weighted matrix. */
  nnz: number;
  /** Neighbour rows produced. */
  rows: number;
  threads: number;
  /** Wall-clock seconds per stage: building the matrix, then the top-n. */
  seconds: { matrix: number; topN: number };
}

/** {@link rankBySimilarity} with the run's figures. */
export async function similarityRun(dataset: Dataset, opts: SimilarityOptions = {}): Promise<{ rankings: Rankings; stats: SimilarityStats }> {
  const t0 = performance.now();
  opts.onProgress?.("matrix", 0, 1);
  const m = buildUserItemMatrix(dataset, opts.weights ?? DEFAULT_WEIGHTS);
  opts.onProgress?.("matrix", 1, 1);
  const t1 = performance.now();
  let threads = autoThreads(m.users.length, opts.threads);
  const rankings = await similarityTopN(m, { ...opts, threads, onThreads: (used) => (threads = used) });
  const t2 = performance.now();
  return {
    rankings,
    stats: {
      users: m.users.length,
      usersWithNeighbors: usersWithNeighbors(rankings),
      weights: m.weights,
      blocks: m.blocks,
      nnz: nnz(m.matrix),
      rows: rankings.neighbors.length,
      threads,
      seconds: { matrix: (t1 - t0) / 1000, topN: (t2 - t1) / 1000 },
    },
  };
}

/**
 * Ranks every user with at least one interaction by exact weighted cosine similarity: their
 * `topN` (default 10) most similar other users with a positive score. Uses worker threads for
 * large inputs (see {@link TopNOptions.threads}); the result does not depend on the thread count.
 */
export async function rankBySimilarity(dataset: Dataset, opts: SimilarityOptions = {}): Promise<Rankings> {
  return (await similarityRun(dataset, opts)).rankings;
}
