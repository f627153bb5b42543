/**
 * The pipeline split into shards that any job scheduler runs (a Kubernetes Indexed Job, an
 * Airflow task per shard, cron on a few machines): every shard reads the store's input tables,
 * fits the model (deterministic for the options, so every shard fits the same one: the
 * finalize checks that by hash), ranks its fixed slice of the users against all users and stages
 * the slice ({@link runShard}); {@link finalizeRun} then swaps all slices in as one table. The
 * rankings equal the unsharded pipeline's row for row.
 */
import { openStore, type RankingsStore, type RunRow, type StoreOptions } from "./db/store.ts";
import { checkRunKey, checkShard, modelSha256, shardSlice, type DiscardResult, type FinalizeOptions, type ShardRecord, type StagedRun } from "./db/shard-records.ts";
import { fingerprintDataset } from "./fingerprint.ts";
import type { EpochReport } from "./methods/method.ts";
import { validateTableName } from "./names.ts";
import { checkRunOptions, DegenerateRunError, roundedStages, stopwatch } from "./pipeline.ts";
import type { ProgressFn } from "./types.ts";

/** What {@link runShard} needs. */
export interface ShardOptions {
  /** The store whose input tables every shard reads and where the slices are staged (an open store, or a SQLite path). */
  store: RankingsStore | string;
  storeOptions?: StoreOptions;
  /** The key all shards of one run and its finalize share (e.g. the Job's name). */
  runKey: string;
  shards: number;
  /** This shard: 0..shards − 1. */
  shard: number;
  method: string;
  options?: Record<string, unknown>;
  /** Rankings table the finalize will replace (default `user_ranking`). */
  table?: string;
  topN?: number;
  threads?: number;
  onProgress?: ProgressFn;
  onEpoch?: (epoch: EpochReport) => void;
}

/** What a shard did. */
export interface ShardResult {
  record: ShardRecord;
  /** Seconds per stage (load, the method's fit stages, fingerprint, top-n, stage). */
  stages: Record<string, number>;
  seconds: number;
}

/**
 * Runs shard `shard` of `shards`: load, fit, rank users [lo, hi) (see `shardSlice`), stage the
 * slice with its record. Running a shard again replaces its earlier attempt.
 */
export async function runShard(opts: ShardOptions): Promise<ShardResult> {
  const { method, options, table, topN } = checkRunOptions(opts);
  checkRunKey(opts.runKey);
  checkShard(opts.shards, opts.shard);
  const startedAt = new Date();
  const t0 = performance.now();
  const stages: Record<string, number> = {};
  const lap = stopwatch();
  const store = typeof opts.store === "string" ? await openStore(opts.store, opts.storeOptions) : opts.store;
  try {
    const { dataset, ingest } = await store.loadInput();
    stages.load = lap();
    const model = await method.fit(dataset, options, { onProgress: opts.onProgress, onEpoch: opts.onEpoch });
    lap();
    const problem = model.problem?.();
    if (problem) throw new DegenerateRunError(`${model.method}: ${problem}; shard ${opts.shard} staged nothing`);
    const users = dataset.users.length;
    const { start, end } = shardSlice(users, opts.shards, opts.shard);
    const t = performance.now();
    const ranking = model.rankAll({ topN, threads: opts.threads, onProgress: opts.onProgress, rows: { start, end } });
    ranking.catch(() => {});
    // This thread fingerprints the input and hashes the model while the workers rank.
    const input = fingerprintDataset(dataset);
    const state = model.state?.();
    const sha = modelSha256(state);
    const rankings = await ranking;
    const topNSeconds = Math.round(performance.now() - t) / 1000;
    lap();
    // Threads are left out of the recorded options: shards on different machines may differ there, never in results.
    const run = { method: method.name, params: { topN, ...model.params }, input, startedAt, stages: { ...stages, ...roundedStages(model.stages), topN: topNSeconds } };
    const record = await store.stageShard({
      runKey: opts.runKey,
      shard: opts.shard,
      shards: opts.shards,
      table,
      users,
      start,
      end,
      rankings,
      run,
      ingest,
      modelSha256: sha,
      model: opts.shard === 0 ? state : undefined,
    });
    const all = { ...run.stages, stage: lap() };
    return { record, stages: all, seconds: Math.round(performance.now() - t0) / 1000 };
  } finally {
    if (typeof opts.store === "string") store.close();
  }
}

/** What {@link finalizeRun} needs. */
export interface FinalizeRunOptions extends FinalizeOptions {
  store: RankingsStore | string;
  storeOptions?: StoreOptions;
  runKey: string;
}

/**
 * Swaps the staged slices of run `runKey` in as one rankings table, atomically, once all shards
 * are there and agree (see `planFinalize`); safe to repeat and to run concurrently (the second
 * finds the run done: `swapped` false).
 */
export async function finalizeRun(opts: FinalizeRunOptions): Promise<{ run: RunRow; swapped: boolean }> {
  checkRunKey(opts.runKey);
  if (opts.shards !== undefined) checkShard(opts.shards, 0);
  if (opts.table !== undefined) validateTableName(opts.table);
  const store = typeof opts.store === "string" ? await openStore(opts.store, opts.storeOptions) : opts.store;
  try {
    return await store.finalizeShards(opts.runKey, { shards: opts.shards, table: opts.table, allowEmpty: opts.allowEmpty });
  } finally {
    if (typeof opts.store === "string") store.close();
  }
}

/** The run keys with staged shards in `store` (see `StagedRun`), oldest first. */
export async function stagedRuns(opts: { store: RankingsStore | string; storeOptions?: StoreOptions }): Promise<StagedRun[]> {
  const store = typeof opts.store === "string" ? await openStore(opts.store, opts.storeOptions) : opts.store;
  try {
    return await store.stagedRuns();
  } finally {
    if (typeof opts.store === "string") store.close();
  }
}

/**
 * Discards the staged rows of run `runKey` (a failed run, a mistyped key) in one write
 * transaction; the served tables and other keys' staged rows are untouched. Safe to repeat.
 */
export async function discardRun(opts: { store: RankingsStore | string; storeOptions?: StoreOptions; runKey: string }): Promise<DiscardResult> {
  checkRunKey(opts.runKey);
  const store = typeof opts.store === "string" ? await openStore(opts.store, opts.storeOptions) : opts.store;
  try {
    return await store.discardShards(opts.runKey);
  } finally {
    if (typeof opts.store === "string") store.close();
  }
}
