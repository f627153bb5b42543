/**
 * The pipeline, in the library: read (or load) → dataset → fit → rank → fingerprint → store, with
 * the atomicity guarantee: the rankings table (and, given CSVs, the input tables) are replaced in
 * one transaction, or nothing changes. The CLI's `pipeline` command is argument parsing around
 * {@link runPipeline}.
 */
import type { Dataset } from "./dataset.ts";
import { openStore, type RankingsStore, type RunRow } from "./db/store.ts";
import { fingerprintDataset, type Fingerprint } from "./fingerprint.ts";
import { resolveOptions, type EpochReport, type Model } from "./methods/method.ts";
import { getMethod } from "./methods/registry.ts";
import { readTables, type ReadResult } from "./read/index.ts";
import type { ProgressFn, Rankings } from "./types.ts";
import { autoThreads } from "./parallel.ts";
import { validateTableName } from "./names.ts";

/** Where the pipeline's input comes from. */
export type PipelineInput =
  /** A directory of the four CSVs: read, then stored as the input tables in the same transaction. */
  | { dataDir: string }
  /** Tables already read (e.g. `readTables`): stored as the input tables in the same transaction. */
  | { read: ReadResult }
  /** The store's own input tables (written earlier by `ingest`). */
  | "store";

/** What {@link runPipeline} needs. */
export interface PipelineOptions {
  input: PipelineInput;
  /**
   * Where to publish (and, with input `"store"`, what to read): an open store, or a SQLite path
   * opened only once the input is read and checked (so bad input creates nothing) and closed at the end.
   */
  store: RankingsStore | string;
  /** A registered method's name (see `methods()`). */
  method: string;
  /** The method's options (checked; defaults filled in). */
  options?: Record<string, unknown>;
  /** Rankings table (default `user_ranking`). */
  table?: string;
  /** Neighbours kept per user (default 10). */
  topN?: number;
  /** Threads of the top-n and of a method that trains in parallel (default: every core above 2,000 users). */
  threads?: number;
  onProgress?: ProgressFn;
  onEpoch?: (epoch: EpochReport) => void;
  /** Called once the input is read, before ranking (e.g. to print the read summary). */
  onRead?: (read: ReadResult) => void;
}

/** What a pipeline run did. */
export interface PipelineResult {
  method: string;
  table: string;
  run: RunRow;
  model: Model;
  rankings: Rankings;
  /** The recorded parameters: top-n, the method's effective options, threads actually used. */
  params: Record<string, unknown>;
  input: Fingerprint;
  /** The read summary when the input came from CSVs. */
  read?: ReadResult;
  /** Method-specific figures (see `Model.details`). */
  details: Record<string, unknown>;
  /** Seconds per stage as recorded, in flow order. */
  stages: Record<string, number>;
  /** Wall-clock seconds of the whole run. */
  seconds: number;
}

/**
 * Ranks every user with `method` and publishes the rankings atomically (see the module comment).
 * Every option is checked before any input is read or the store is written.
 *
 * @example
 * const store = await openStore("data/recsys.db");
 * const r = await runPipeline({ input: { dataDir: "data/sample" }, store, method: "similarity" });
 * console.log(r.run.id, r.run.rows_written);
 * store.close();
 */
export async function runPipeline(opts: PipelineOptions): Promise<PipelineResult> {
  const method = getMethod(opts.method);
  const options = resolveOptions(method, opts.options);
  const table = validateTableName(opts.table ?? "user_ranking");
  const topN = opts.topN ?? 10;
  if (!Number.isInteger(topN) || topN < 1) throw new RangeError(`topN must be a positive integer, got ${topN}`);
  if (opts.threads !== undefined) autoThreads(1, opts.threads);

  const startedAt = new Date();
  const stages: Record<string, number> = {};
  const lap = stopwatch();

  const given = opts.store;
  let opened: RankingsStore | undefined;
  // A path is opened only once the input has been read and checked: bad input creates nothing.
  const open = async (): Promise<RankingsStore> => (typeof given === "string" ? (opened = await openStore(given)) : given);
  try {
    let read: ReadResult | undefined;
    let dataset: Dataset;
    let store: RankingsStore;
    if (opts.input === "store") {
      store = await open();
      dataset = await store.loadDataset();
      stages.load = lap();
    } else {
      read = "read" in opts.input ? opts.input.read : await readTables(opts.input.dataDir, { onProgress: opts.onProgress });
      dataset = read.dataset;
      stages.read = lap();
      opts.onRead?.(read);
      store = await open();
    }

    const model = await method.fit(dataset, options, { threads: opts.threads, onProgress: opts.onProgress, onEpoch: opts.onEpoch });
    let threads = autoThreads(dataset.users.length, opts.threads);
    // The top-n runs on workers from here on; meanwhile this thread fingerprints the input and the
    // store writes the input tables into its open transaction.
    const t0 = performance.now();
    const ranking = model.rankAll({ topN, threads, onProgress: opts.onProgress, onThreads: (used) => (threads = used) });
    // Awaited by the store; this only keeps a rejection from counting as unhandled meanwhile.
    ranking.catch(() => {});
    lap();
    const input = fingerprintDataset(dataset);
    stages.fingerprint = lap();

    const ranked = ranking.then((rankings) => {
      const seconds = Math.round(performance.now() - t0) / 1000;
      const params = { topN, ...model.params, threads };
      const methodStages = Object.fromEntries(Object.entries(model.stages).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
      const run = { method: method.name, params, input, startedAt, stages: { ...stages, ...methodStages, topN: seconds } };
      return { rankings, run, params, details: model.details({ rankings, threads, seconds }) };
    });
    const run = await store.publish({ table, input: read && { tables: read.tables, summary: read.summary }, ranked, onProgress: opts.onProgress });
    const { rankings, params, details } = await ranked;
    return {
      method: method.name,
      table,
      run,
      model,
      rankings,
      params,
      input,
      read,
      details,
      stages: run.stages,
      seconds: Math.round(Date.now() - startedAt.getTime()) / 1000,
    };
  } finally {
    opened?.close();
  }
}

/** Seconds (to the millisecond) since the previous call, or since it was made. */
function stopwatch(): () => number {
  let t = performance.now();
  return () => {
    const now = performance.now();
    const s = Math.round(now - t) / 1000;
    t = now;
    return s;
  };
}
