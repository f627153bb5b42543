/**
 * The pipeline, in the library: read (or load) → dataset → fit → rank → fingerprint → store, with
 * the atomicity guarantee: the rankings table (and, given CSVs, the input tables) are replaced in
 * one transaction, or nothing changes. The CLI's `pipeline` command is argument parsing around
 * {@link runPipeline}.
 */
import type { Dataset } from "./dataset.ts";
import { openStore, type RankingsStore, type RunRow, type StoreOptions } from "./db/store.ts";
import { fingerprintDataset, type Fingerprint } from "./fingerprint.ts";
import { resolveOptions, type EpochReport, type Model } from "./methods/method.ts";
import { getMethod } from "./methods/registry.ts";
import { readTables, type ReadResult } from "./read/index.ts";
import type { ProgressFn, Rankings } from "./types.ts";
import { autoThreads } from "./parallel.ts";
import { checkTopN } from "./rank/driver.ts";
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
  /** How a store given as a path is opened (e.g. how long its write waits for another run's). */
  storeOptions?: StoreOptions;
  /** A registered method's name (see `methods()`). */
  method: string;
  /** The method's options (checked; defaults filled in). */
  options?: Record<string, unknown>;
  /** Rankings table (default `user_ranking`). */
  table?: string;
  /** Neighbours kept per user (default 10, at most `MAX_TOP_N`, 1,000; never more than users − 1). */
  topN?: number;
  /** Threads of the top-n and of a method that trains in parallel (default: every core above 2,000 users; at most 2 per core). */
  threads?: number;
  onProgress?: ProgressFn;
  onEpoch?: (epoch: EpochReport) => void;
  /** Called once the input is read, before ranking (e.g. to print the read summary). */
  onRead?: (read: ReadResult) => void;
  /**
   * Publish even when the run ranked nobody although users have interactions (default false: such
   * a run fails with {@link DegenerateRunError} and the previous table stays served).
   */
  allowEmpty?: boolean;
}

/**
 * A run produced a degenerate model (e.g. training diverged) or no rankings although users have
 * interactions; nothing was published.
 */
export class DegenerateRunError extends Error {
  override name = "DegenerateRunError";
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
  const { method, options, table, topN } = checkRunOptions(opts);

  const startedAt = new Date();
  const stages: Record<string, number> = {};
  const lap = stopwatch();

  const given = opts.store;
  let opened: RankingsStore | undefined;
  // A path is opened only once the input has been read and checked: bad input creates nothing.
  const open = async (): Promise<RankingsStore> => (typeof given === "string" ? (opened = await openStore(given, opts.storeOptions)) : given);
  try {
    let read: ReadResult | undefined;
    let dataset: Dataset;
    let store: RankingsStore;
    // Rankings of the store's own input are published only if that input is still the one read.
    let inputIngest: number | null | undefined;
    if (opts.input === "store") {
      store = await open();
      ({ dataset, ingest: inputIngest } = await store.loadInput());
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
    // store stages the input tables (its write lock waits for the rankings).
    const t0 = performance.now();
    const ranking = model.rankAll({ topN, threads, onProgress: opts.onProgress, onThreads: (used) => (threads = used) });
    // Awaited by the store; this only keeps a rejection from counting as unhandled meanwhile.
    ranking.catch(() => {});
    lap();
    const input = fingerprintDataset(dataset);
    stages.fingerprint = lap();

    const ranked = ranking.then((rankings) => {
      const seconds = Math.round(performance.now() - t0) / 1000;
      checkRun(model, rankings, dataset, opts.allowEmpty ?? false);
      const params = { topN, ...model.params, threads };
      const run = { method: method.name, params, input, startedAt, stages: { ...stages, ...roundedStages(model.stages), topN: seconds } };
      return { rankings, run, params, model: model.state?.(), details: model.details({ rankings, threads, seconds }) };
    });
    const run = await store.publish({ table, input: read && { tables: read.tables, summary: { ...read.summary, input } }, ranked, inputIngest, onProgress: opts.onProgress });
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

/**
 * Refuses to publish a degenerate run: a model that reports a problem (e.g. a diverged training),
 * or no neighbours for anyone although users share items (unless `allowEmpty`).
 */
function checkRun(model: Model, rankings: Rankings, dataset: Dataset, allowEmpty: boolean): void {
  const problem = model.problem?.();
  if (problem) throw new DegenerateRunError(`${model.method}: ${problem}; nothing was published (the previous rankings stay served)`);
  const rows = rankings.neighbors.length;
  const interactions = dataset.interestRows.user.length + dataset.viewRows.user.length + dataset.assessmentRows.user.length;
  if (rows === 0 && interactions > 0 && dataset.users.length > 1 && !allowEmpty) {
    throw new DegenerateRunError(
      `${model.method} ranked no neighbours for any of ${dataset.users.length.toLocaleString("en-US")} users although they have ${interactions.toLocaleString("en-US")} interactions; nothing was published (the previous rankings stay served). Check the method's options, or pass --allow-empty to publish an empty table`,
    );
  }
}

/**
 * A run's method, its checked options (defaults filled in), table and top-n, and a checked
 * thread count: every option of a pipeline or a shard, checked before any input is read.
 */
export function checkRunOptions(opts: { method: string; options?: Record<string, unknown>; table?: string; topN?: number; threads?: number }) {
  const method = getMethod(opts.method);
  const options = resolveOptions(method, opts.options);
  const table = validateTableName(opts.table ?? "user_ranking");
  const topN = checkTopN(opts.topN ?? 10);
  if (opts.threads !== undefined) autoThreads(1, opts.threads);
  return { method, options, table, topN };
}

/** A model's stage seconds rounded to the millisecond, as a run records them. */
export function roundedStages(stages: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v * 1000) / 1000]));
}

/** Seconds (to the millisecond) since the previous call, or since it was made. */
export function stopwatch(): () => number {
  let t = performance.now();
  return () => {
    const now = performance.now();
    const s = Math.round(now - t) / 1000;
    t = now;
    return s;
  };
}
