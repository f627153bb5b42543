/**
 * The one top-n driver of every method: every user's top-n ({@link rankAllPairs}) and one user's
 * top-n on demand ({@link queryTopN}), both through the heap of `heap.ts`.
 *
 * A method supplies a *pair kernel*: a function that scores the pairs of rows [start, end) with
 * later rows and offers each score to both rows' selections (each unordered pair exactly once
 * over all ranges). The driver runs it over all rows, on Bun Workers above 2,000 rows (the
 * kernel's worker module calls {@link serveSelections}), or on this thread when asked to or when
 * the worker module is missing, then merges the per-thread selections. A kernel that is
 * deterministic per pair gives bit-identical rankings for any thread count.
 */
import { autoThreads, plannedThreads, runRowsIfAvailable, serveRows, toShared } from "../parallel.ts";
import type { ProgressFn } from "../types.ts";
import { finishSelections, rowSelections, TopN, type RowSelections } from "./heap.ts";

/** Neighbour lists of every row, in CSR form (see `Rankings`, without the handles). */
export interface NeighborLists {
  offsets: Int32Array;
  neighbors: Int32Array;
  scores: Float64Array;
}

/** Scores rows [start, end) against later rows into `sel`. */
export type RowsKernel = (start: number, end: number) => void;

/**
 * Most neighbours kept per user. The rankings hold users × top-n rows (a million at 1,000 users),
 * in memory and in the rankings table: `--top-n 1e9` at 10k users ran past 4 GB. A user never
 * gets more than users − 1 neighbours whatever the top-n.
 */
export const MAX_TOP_N = 1000;

/** Throws a RangeError unless `topN` is an integer in 1..{@link MAX_TOP_N}. */
export function checkTopN(topN: number, name = "topN"): number {
  if (!Number.isInteger(topN) || topN < 1 || topN > MAX_TOP_N) throw new RangeError(`${name} must be an integer in 1..${MAX_TOP_N}, got ${topN}`);
  return topN;
}

/** Makes a kernel over the method's `data` that offers into `sel` (same function on every thread). */
export type KernelSetup<D> = (data: D, sel: RowSelections) => RowsKernel;

/**
 * Makes a *row kernel* for a slice of the rows (a shard): it scores each row of [start, end)
 * against every other row and offers the score to that row's selection only, at index
 * row − `base`. The score of a pair must have the same bits as the pair kernel's, so a slice's
 * top-n equals those rows' top-n in the full ranking.
 */
export type SliceSetup<D> = (data: D, sel: RowSelections, base: number) => RowsKernel;

/** What {@link rankAllPairs} needs from a method. */
export interface PairTask<D> {
  /** Rows (users) to rank: [0, rows). */
  rows: number;
  /** Neighbours kept per row (capped at rows − 1). */
  topN: number;
  /** The kernel's inputs; typed arrays inside are shared with workers (copied into SharedArrayBuffers once). */
  data: D;
  setup: KernelSetup<D>;
  /** The worker module (one that calls {@link serveSelections} with the same setup); see `workerEntry`. */
  worker: URL;
  /** Rows per claim on workers (default: automatic). */
  chunk?: number;
  /** Rows per progress report on this thread (default: about 1% of the rows, at most 1,024). */
  step?: number;
  /** Threads: 1 computes on this thread; default `autoThreads(rows)`. */
  threads?: number;
  onProgress?: ProgressFn;
  /** Told how many threads computed the rows: 1 when the worker module is missing. */
  onThreads?: (threads: number) => void;
  /**
   * Rank only rows [start, end) (a shard's slice), each against every row, with `slice`; the
   * other rows get no neighbours. Each pair of the slice is scored from both sides, so a slice
   * costs (end − start) · rows scores where the whole ranking costs rows² / 2.
   */
  range?: { start: number; end: number; slice: SliceSetup<D> };
}

/** Replaces every typed array in a plain object tree by a SharedArrayBuffer-backed copy. */
function shareDeep<T>(value: T): T {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return toShared(value as unknown as Int32Array) as unknown as T;
  if (Array.isArray(value)) return value.map(shareDeep) as unknown as T;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = shareDeep(v);
    return out as T;
  }
  return value;
}

interface SelectionsPayload<D> {
  data: D;
  selections: RowSelections[];
  /** Set for a slice: the kernel's rows are relative to it (see {@link SliceSetup}). */
  base?: number;
}

/**
 * Every row's top-n other rows, best first, ties by lower row index, as the kernel scores them.
 * Memory beyond the method's data: O(threads · rows · n) selections, never rows².
 */
export async function rankAllPairs<D>(task: PairTask<D>): Promise<NeighborLists> {
  const { rows } = task;
  checkTopN(task.topN);
  if (task.range && !(task.range.start === 0 && task.range.end === rows)) return rankSlice(task, task.range);
  const threads = autoThreads(rows, task.threads);
  // No row can have more neighbours than there are other rows; this bounds the output buffers.
  const n = Math.min(task.topN, Math.max(rows - 1, 0));
  const report = task.onProgress;
  if (n === 0) {
    report?.("top-n", rows, rows);
    task.onThreads?.(1);
    return { offsets: new Int32Array(rows + 1), neighbors: new Int32Array(0), scores: new Float64Array(0) };
  }
  if (threads > 1) {
    const planned = plannedThreads(rows, threads, task.chunk);
    const payload: SelectionsPayload<D> = {
      data: shareDeep(task.data),
      selections: Array.from({ length: planned.threads }, () => rowSelections(rows, n, true)),
    };
    const run = {
      worker: task.worker,
      rows,
      payload,
      threads: planned.threads,
      chunk: planned.chunk,
      onProgress: report && ((done: number, total: number) => report("top-n", done, total)),
    };
    if (await runRowsIfAvailable(run)) {
      task.onThreads?.(planned.threads);
      return finishSelections(payload.selections, rows);
    }
  }
  // One thread by request, or because no worker module is there to run (same rows, same result).
  task.onThreads?.(1);
  const sel = rowSelections(rows, n);
  const kernel = task.setup(task.data, sel);
  const step = task.step ?? Math.max(1, Math.min(1024, Math.ceil(rows / 100)));
  for (let start = 0; start < rows; start += step) {
    const end = Math.min(rows, start + step);
    kernel(start, end);
    report?.("top-n", end, rows);
  }
  return finishSelections([sel], rows);
}

/**
 * {@link rankAllPairs} of rows [start, end) only: the slice's rows are claimed in chunks like all
 * rows are (relative to `start` on workers), each thread keeps selections for the slice alone,
 * and the merged lists are spread back over all rows (empty outside the slice).
 */
async function rankSlice<D>(task: PairTask<D>, range: { start: number; end: number; slice: SliceSetup<D> }): Promise<NeighborLists> {
  const { rows } = task;
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end) throw new RangeError(`row range must lie within 0..${rows}, got [${start}, ${end})`);
  const m = end - start;
  const n = Math.min(task.topN, Math.max(rows - 1, 0));
  const threads = autoThreads(m, task.threads);
  const report = task.onProgress;
  let lists: NeighborLists | undefined;
  if (n > 0 && m > 0 && threads > 1) {
    const planned = plannedThreads(m, threads, task.chunk);
    const payload: SelectionsPayload<D> = { data: shareDeep(task.data), selections: Array.from({ length: planned.threads }, () => rowSelections(m, n, true)), base: start };
    const run = { worker: task.worker, rows: m, payload, threads: planned.threads, chunk: planned.chunk, onProgress: report && ((done: number, total: number) => report("top-n", done, total)) };
    if (await runRowsIfAvailable(run)) {
      task.onThreads?.(planned.threads);
      lists = finishSelections(payload.selections, m);
    }
  }
  if (!lists) {
    task.onThreads?.(1);
    if (n === 0 || m === 0) {
      report?.("top-n", m, m);
      return { offsets: new Int32Array(rows + 1), neighbors: new Int32Array(0), scores: new Float64Array(0) };
    }
    const sel = rowSelections(m, n);
    const kernel = range.slice(task.data, sel, start);
    const step = task.step ?? Math.max(1, Math.min(1024, Math.ceil(m / 100)));
    for (let s = 0; s < m; s += step) {
      const e = Math.min(m, s + step);
      kernel(start + s, start + e);
      report?.("top-n", e, m);
    }
    lists = finishSelections([sel], m);
  }
  const offsets = new Int32Array(rows + 1);
  for (let r = start; r < end; r++) offsets[r + 1] = lists.offsets[r - start + 1];
  offsets.fill(lists.offsets[m], end + 1);
  return { offsets, neighbors: lists.neighbors, scores: lists.scores };
}

/**
 * Worker side of {@link rankAllPairs}: call once at the top level of the method's worker module
 * with the same setups the method passes as `PairTask.setup` and `PairTask.range.slice`.
 */
export function serveSelections<D>(setup: KernelSetup<D>, slice?: SliceSetup<D>): void {
  serveRows<SelectionsPayload<D>>((p, index) => {
    if (p.base === undefined) return setup(p.data, p.selections[index]);
    if (!slice) throw new Error("this worker module ranks no row slices (serveSelections was given no SliceSetup)");
    const kernel = slice(p.data, p.selections[index], p.base);
    const base = p.base;
    // Claims are relative to the slice: rows [start, end) of it are rows base + start… of the data.
    return (start, end) => kernel(base + start, base + end);
  });
}

/** One user's neighbours: ids (row indices) best first, with their scores. */
export interface QueryResult {
  ids: Int32Array;
  scores: Float64Array;
}

/** Which candidates a query may return. */
export interface QueryFilter {
  /** Only ids whose entry is 1. */
  eligible?: Uint8Array | null;
  /** Only scores ≥ this. */
  minScore?: number;
}

/**
 * One query's top-n: `candidates` offers (id, score) pairs (each id at most once); ids whose
 * `eligible` entry is 0 and scores below `minScore` are skipped, so filters (exclude, within,
 * a floor) are masks, not plumbing. Best first, ties by lower id: the order of {@link rankAllPairs}.
 */
export function queryTopN(n: number, candidates: (offer: (id: number, score: number) => void) => void, filter: QueryFilter = {}): QueryResult {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  const top = new TopN(n);
  const { eligible, minScore } = filter;
  if (eligible || minScore !== undefined) {
    const floor = minScore ?? -Infinity;
    candidates((id, score) => {
      if ((!eligible || eligible[id]) && score >= floor) top.offer(id, score);
    });
  } else {
    candidates((id, score) => top.offer(id, score));
  }
  const ids = new Int32Array(top.size);
  const scores = new Float64Array(top.size);
  top.drain(ids, scores, 0);
  return { ids, scores };
}
