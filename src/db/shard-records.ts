/**
 * What a store keeps about a sharded run, and the checks a finalize makes before swapping it in.
 *
 * A shard stages its slice of the rankings and one record (`recsys_shards`) in one write
 * transaction, so a record present means a complete slice. A finalize reads the run's records
 * inside its own write transaction and calls {@link planFinalize}: every shard 0..N−1 present,
 * each from the same input, the same method, options and model, their slices covering the users
 * exactly once; else nothing is swapped and the message names the shards at fault. The stores
 * (`shards.ts` for SQLite, `pg-shards.ts`) only move rows; every decision is made here.
 */
import type { Fingerprint } from "../fingerprint.ts";
import type { ModelState } from "../methods/method.ts";
import type { Rankings } from "../types.ts";
import type { RunRecord } from "./store.ts";

export const SHARDS_TABLE = "recsys_shards";
export const SHARD_ROWS_TABLE = "recsys_shard_rows";
export const SHARD_MODELS_TABLE = "recsys_shard_models";

/** Most shards of one run (a Kubernetes Indexed Job allows 100,000; more than a thousand is no longer a nightly batch). */
export const MAX_SHARDS = 1024;

/** A run key: what all shards of one run and its finalize are given (`--run-key`, e.g. the Job's name). */
const RUN_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Throws a RangeError unless `key` is a valid run key. */
export function checkRunKey(key: string, name = "run key"): string {
  if (!RUN_KEY.test(key)) throw new RangeError(`${name} must be 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit, got ${JSON.stringify(key)}`);
  return key;
}

/** Throws a RangeError unless `shards` is an integer in 1..{@link MAX_SHARDS} and `shard` one of 0..shards−1. */
export function checkShard(shards: number, shard: number, names = { shards: "shards", shard: "shard" }): void {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) throw new RangeError(`${names.shards} must be an integer in 1..${MAX_SHARDS}, got ${shards}`);
  if (!Number.isInteger(shard) || shard < 0 || shard >= shards) throw new RangeError(`${names.shard} must be an integer in 0..${shards - 1} (one less than ${names.shards}), got ${shard}`);
}

/**
 * Users [start, end) of shard `shard` of `shards`, in the dataset's canonical user order. Every
 * user of a slice costs the same (it is scored against all users), so equal counts balance.
 */
export function shardSlice(users: number, shards: number, shard: number): { start: number; end: number } {
  return { start: Math.floor((shard * users) / shards), end: Math.floor(((shard + 1) * users) / shards) };
}

/** One shard's staged slice, as a shard hands it to {@link RankingsStore.stageShard}. */
export interface ShardJob {
  runKey: string;
  shard: number;
  shards: number;
  /** The rankings table the run will replace. */
  table: string;
  /** Users in the input (the slices are taken of this many). */
  users: number;
  start: number;
  end: number;
  /** Rankings over all users, with neighbours only for users [start, end). */
  rankings: Rankings;
  /** Method, the options that decide the rankings (top-n included, threads not), input fingerprint, stages. */
  run: RunRecord;
  /** The store's ingest the input was read from (null: none recorded). */
  ingest: number | null;
  /** sha256 of the model's state ({@link modelSha256}). */
  modelSha256: string;
  /** The model, kept by shard 0 for the finalize to store with the run. */
  model?: ModelState;
}

/** A row of `recsys_shards`. */
export interface ShardRecord {
  runKey: string;
  shard: number;
  shards: number;
  table: string;
  method: string;
  params: Record<string, unknown>;
  input: Fingerprint;
  ingest: number | null;
  modelSha256: string;
  users: number;
  start: number;
  end: number;
  usersRanked: number;
  rowsWritten: number;
  startedAt: string;
  finishedAt: string;
  stages: Record<string, number>;
  /** The run the finalize recorded (null until then). */
  finalizedRun: number | null;
}

/** A sharded run cannot be finalized (missing, mismatched or stale shards); nothing was swapped in. */
/** The record of a shard just staged. */
export function stagedRecord(job: ShardJob, counts: { ranked: number; written: number }, finishedAt: Date): ShardRecord {
  return {
    runKey: job.runKey,
    shard: job.shard,
    shards: job.shards,
    table: job.table,
    method: job.run.method,
    params: job.run.params,
    input: job.run.input as ShardRecord["input"],
    ingest: job.ingest,
    modelSha256: job.modelSha256,
    users: job.users,
    start: job.start,
    end: job.end,
    usersRanked: counts.ranked,
    rowsWritten: counts.written,
    startedAt: job.run.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    stages: job.run.stages,
    finalizedRun: null,
  };
}

/** A row of the shards table as a record (SQLite gives JSON as text and times as text; Postgres as values and Dates). */
export function toShardRecord(r: Record<string, unknown>): ShardRecord {
  const json = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v);
  const time = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
  return {
    runKey: String(r.run_key),
    shard: Number(r.shard),
    shards: Number(r.shards),
    table: String(r.results_table),
    method: String(r.method),
    params: json(r.params),
    input: json(r.input),
    ingest: r.ingest === null ? null : Number(r.ingest),
    modelSha256: String(r.model_sha256),
    users: Number(r.users),
    start: Number(r.first_user),
    end: Number(r.end_user),
    usersRanked: Number(r.users_ranked),
    rowsWritten: Number(r.rows_written),
    startedAt: time(r.started_at),
    finishedAt: time(r.finished_at),
    stages: json(r.stages),
    finalizedRun: r.finalized_run === null ? null : Number(r.finalized_run),
  };
}

export class ShardsNotReadyError extends Error {
  override name = "ShardsNotReadyError";
  constructor(
    message: string,
    /** The shards not staged yet, when that is all that is wrong (a later finalize may succeed). */
    readonly missing: number[] = [],
  ) {
    super(message);
  }
}

/** The run was finalized already: its shards cannot be staged again (use a new run key). */
export class RunFinalizedError extends Error {
  override name = "RunFinalizedError";
  constructor(
    readonly runKey: string,
    readonly runId: number,
  ) {
    super(`run key ${JSON.stringify(runKey)} was finalized already (run ${runId}); give the next run a new --run-key`);
  }
}

/** sha256 over a model state's arrays, by name (its `meta` holds timings, which differ between equal fits). */
export function modelSha256(state: ModelState | undefined): string {
  const hasher = new Bun.CryptoHasher("sha256");
  for (const name of Object.keys(state?.arrays ?? {}).sort()) {
    const a = state!.arrays[name];
    hasher.update(`${name}:${a.length}\n`);
    hasher.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return hasher.digest("hex");
}

/** What a finalize does once {@link planFinalize} agrees. */
export type FinalizePlan =
  /** The run was finalized already (by an earlier or a concurrent finalize): nothing to do. */
  | { kind: "done"; runId: number }
  | { kind: "swap"; table: string; run: RunRecord; counts: { ranked: number; written: number } };

/** Options of a finalize. */
export interface FinalizeOptions {
  /** Shards expected (`--shards` given to the finalize too); checked against the records. */
  shards?: number;
  /** Table expected (`--table` given to the finalize); checked against the records. */
  table?: string;
  /** Publish even if no shard ranked anybody although users have interactions. */
  allowEmpty?: boolean;
}

const list = (ns: number[]) => (ns.length > 12 ? `${ns.slice(0, 12).join(", ")} and ${ns.length - 12} more` : ns.join(", "));
const plural = (n: number, word: string) => `${word}${n === 1 ? "" : "s"}`;

/**
 * Decides a finalize of `runKey` from its shard records (read inside the finalize's write
 * transaction) and the store's current ingest. Throws {@link ShardsNotReadyError} naming what is
 * wrong, or {@link RunDiscardedError} when no record is left because the key was discarded
 * (`discarded`, its discard record); nothing has been written then.
 */
export function planFinalize(runKey: string, records: ShardRecord[], currentIngest: number | null, location: string, options: FinalizeOptions = {}, discarded: DiscardRecord | null = null): FinalizePlan {
  if (records.length === 0) {
    if (discarded) throw new RunDiscardedError(runKey, discarded.discardedAt);
    throw new ShardsNotReadyError(`no shard of run ${JSON.stringify(runKey)} is staged in ${location}: run \`recsys pipeline --shards N --shard I --run-key ${runKey}\` for every I first; nothing was swapped in`);
  }
  const finalized = records.find((r) => r.finalizedRun !== null);
  if (finalized) return { kind: "done", runId: finalized.finalizedRun! };
  const byShard = [...records].sort((a, b) => a.shard - b.shard);
  const ref = byShard[0];
  const n = options.shards ?? ref.shards;
  const notReady = (what: string) => new ShardsNotReadyError(`run ${JSON.stringify(runKey)} cannot be finalized: ${what}; nothing was swapped in (the served table is unchanged)`);
  const wrongCount = byShard.filter((r) => r.shards !== n).map((r) => r.shard);
  if (wrongCount.length) throw notReady(`${plural(wrongCount.length, "shard")} ${list(wrongCount)} ${wrongCount.length === 1 ? "was" : "were"} run with a --shards other than ${n}`);
  if (options.table !== undefined && options.table !== ref.table) throw notReady(`its shards rank table ${ref.table}, not ${options.table}`);
  const present = new Set(byShard.map((r) => r.shard));
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !present.has(i));
  if (missing.length) {
    const e = notReady(`${plural(missing.length, "shard")} ${list(missing)} of ${n} ${missing.length === 1 ? "is" : "are"} missing (not run yet, still running, or failed); run ${missing.length === 1 ? "it" : "them"} again with the same --run-key, then finalize`);
    throw new ShardsNotReadyError(e.message, missing);
  }
  const differ = (what: string, same: (r: ShardRecord) => boolean) => {
    const odd = byShard.filter((r) => !same(r)).map((r) => r.shard);
    if (odd.length) throw notReady(`${plural(odd.length, "shard")} ${list(odd)} ${odd.length === 1 ? "has" : "have"} another ${what} than shard ${ref.shard}; run ${odd.length === 1 ? "it" : "them"} again`);
  };
  differ("input (fingerprint)", (r) => r.input.sha256 === ref.input.sha256 && r.ingest === ref.ingest && r.users === ref.users);
  differ("results table", (r) => r.table === ref.table);
  differ("method or options", (r) => r.method === ref.method && JSON.stringify(r.params) === JSON.stringify(ref.params));
  differ("model (its factors differ)", (r) => r.modelSha256 === ref.modelSha256);
  const badSlice = byShard.filter((r) => {
    const s = shardSlice(ref.users, n, r.shard);
    return r.start !== s.start || r.end !== s.end;
  });
  if (badSlice.length) throw notReady(`${plural(badSlice.length, "shard")} ${list(badSlice.map((r) => r.shard))} ranked another slice of the users than planned`);
  if (currentIngest !== ref.ingest) {
    const which = (id: number | null) => (id === null ? "an unrecorded ingest" : `ingest ${id}`);
    throw notReady(`the input tables of ${location} were replaced (now ${which(currentIngest)}) after the shards read ${which(ref.ingest)}; run every shard again with a new --run-key`);
  }
  const counts = { ranked: 0, written: 0 };
  const stages: Record<string, number> = {};
  for (const r of byShard) {
    counts.ranked += r.usersRanked;
    counts.written += r.rowsWritten;
    // The slowest shard's time per stage: with one machine per shard, that is the run's.
    for (const [k, v] of Object.entries(r.stages)) stages[k] = Math.max(stages[k] ?? 0, v);
  }
  const interactions = ref.input.rows.user_interests + ref.input.rows.user_course_views + ref.input.rows.user_assessment_scores;
  if (counts.written === 0 && interactions > 0 && ref.users > 1 && !options.allowEmpty) {
    throw notReady(`its shards ranked no neighbours for any of ${ref.users.toLocaleString("en-US")} users although they have ${interactions.toLocaleString("en-US")} interactions (pass --allow-empty to publish an empty table)`);
  }
  const startedAt = new Date(Math.min(...byShard.map((r) => Date.parse(r.startedAt))));
  return {
    kind: "swap",
    table: ref.table,
    run: { method: ref.method, params: { ...ref.params, shards: n, runKey }, input: ref.input, startedAt, stages: { ...stages } },
    counts,
  };
}

/**
 * Run keys whose staged rows were discarded (`recsys pipeline --discard`): one row per key. It
 * closes the key, as a finalize does: a straggling shard of a discarded run cannot stage its rows
 * again afterwards, and a repeated discard finds the key done instead of unknown.
 */
export const SHARD_DISCARDS_TABLE = "recsys_shard_discards";

/** A run key with staged shards, as `recsys pipeline --staged` lists it. */
export interface StagedRun {
  runKey: string;
  method: string;
  /** The rankings table its finalize would replace. */
  table: string;
  /** Shards the run expects: the `--shards` its lowest staged shard was given (as the finalize reads it). */
  shards: number;
  /** Shards staged, ascending. Each is complete: a shard's record commits with its whole slice. */
  present: number[];
  /** Shards of 0..shards−1 not staged (not run yet, still running, or failed). */
  missing: number[];
  /** `current`: every staged shard read the input the store holds now; `stale`: it was replaced since, so the finalize would refuse. */
  input: "current" | "stale";
  /** Rows staged for the key (what a discard removes). */
  rows: number;
  /** When its first shard started, and when its last shard was staged (ISO 8601). */
  startedAt: string;
  stagedAt: string;
  /** Why a finalize would refuse the key now; null when it would swap the key in. */
  problem: string | null;
}

/**
 * The staged run keys from the records not finalized (read in one snapshot) and the store's
 * current ingest, oldest first. `problem` is {@link planFinalize}'s own verdict, so the listing
 * cannot disagree with the finalize.
 */
export function summarizeStaged(records: ShardRecord[], currentIngest: number | null, location: string): StagedRun[] {
  const byKey = new Map<string, ShardRecord[]>();
  for (const r of records) {
    if (r.finalizedRun !== null) continue;
    const list = byKey.get(r.runKey) ?? [];
    list.push(r);
    byKey.set(r.runKey, list);
  }
  const out: StagedRun[] = [];
  for (const [runKey, list] of byKey) {
    list.sort((a, b) => a.shard - b.shard);
    const ref = list[0];
    const present = list.map((r) => r.shard);
    const have = new Set(present);
    let problem: string | null = null;
    try {
      planFinalize(runKey, list, currentIngest, location);
    } catch (e) {
      if (!(e instanceof ShardsNotReadyError)) throw e;
      problem = e.message;
    }
    out.push({
      runKey,
      method: ref.method,
      table: ref.table,
      shards: ref.shards,
      present,
      missing: Array.from({ length: ref.shards }, (_, i) => i).filter((i) => !have.has(i)),
      input: list.every((r) => r.ingest === currentIngest) ? "current" : "stale",
      rows: list.reduce((n, r) => n + r.rowsWritten, 0),
      startedAt: new Date(Math.min(...list.map((r) => Date.parse(r.startedAt)))).toISOString(),
      stagedAt: new Date(Math.max(...list.map((r) => Date.parse(r.finishedAt)))).toISOString(),
      problem,
    });
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || (a.runKey < b.runKey ? -1 : a.runKey > b.runKey ? 1 : 0));
}

/** What a discard did: `discarded` false when an earlier discard of the key had done it already. */
export interface DiscardResult {
  runKey: string;
  discarded: boolean;
  /** The shards whose staged rows were removed (those the earlier discard removed, when done already). */
  shards: number;
  rows: number;
  /** When the key was discarded (ISO 8601). */
  discardedAt: string;
}

/** A run key recorded as discarded (a row of {@link SHARD_DISCARDS_TABLE}). */
export interface DiscardRecord {
  shards: number;
  rows: number;
  discardedAt: string;
}

/** A discard names a run key the store has never staged. */
export class UnknownRunKeyError extends Error {
  override name = "UnknownRunKeyError";
  constructor(
    readonly runKey: string,
    location: string,
  ) {
    super(`run key ${JSON.stringify(runKey)} has nothing staged in ${location} (no shard of it was ever staged there); nothing discarded. \`recsys pipeline --staged\` lists the staged run keys`);
  }
}

/** A discard names a finalized run key: nothing of it is staged, and its records keep the key closed. */
export class RunNotDiscardableError extends Error {
  override name = "RunNotDiscardableError";
  constructor(
    readonly runKey: string,
    readonly runId: number,
  ) {
    super(`run key ${JSON.stringify(runKey)} was finalized (run ${runId}): nothing of it is staged (the finalize removed its rows), and its records stay so that the key takes no more shards; nothing discarded`);
  }
}

/** The run key was discarded: its shards cannot be staged or finalized again (use a new run key). */
export class RunDiscardedError extends Error {
  override name = "RunDiscardedError";
  constructor(
    readonly runKey: string,
    readonly discardedAt: string,
  ) {
    super(`run key ${JSON.stringify(runKey)} was discarded at ${discardedAt}; give the next run a new --run-key`);
  }
}

/** What a discard does once {@link planDiscard} agrees. */
export type DiscardPlan = { kind: "done"; result: DiscardResult } | { kind: "discard"; shards: number; rows: number };

/**
 * Decides a discard of `runKey` from its records and its discard record (read inside the
 * discard's write transaction). A key discarded already is done (a repeat is harmless); a
 * finalized key is refused (its records close it to more shards, and nothing of it is staged);
 * a key never staged is refused as unknown (a typo must not pass as success).
 */
export function planDiscard(runKey: string, records: ShardRecord[], discarded: DiscardRecord | null, location: string): DiscardPlan {
  const finalized = records.find((r) => r.finalizedRun !== null);
  if (finalized) throw new RunNotDiscardableError(runKey, finalized.finalizedRun!);
  if (records.length === 0) {
    if (discarded) return { kind: "done", result: { runKey, discarded: false, ...discarded } };
    throw new UnknownRunKeyError(runKey, location);
  }
  return { kind: "discard", shards: records.length, rows: records.reduce((n, r) => n + r.rowsWritten, 0) };
}
