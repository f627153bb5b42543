/**
 * The storage boundary: everything recsys keeps (input tables, rankings tables, the runs table)
 * goes through a {@link RankingsStore}. The pipeline, `ingest`, `similar` and the server use only
 * this interface; SQLite (`sqlite.ts`) is one implementation, and another store (Postgres) drops
 * in as one more file plus one line in {@link openStore}.
 *
 * Reads return `T | Promise<T>` ({@link Awaitable}): SQLite answers synchronously, which keeps
 * the server's hot path free of promises; a networked store answers with promises, and every
 * caller handles both.
 */
import type { Dataset } from "../dataset.ts";
import type { Fingerprint } from "../fingerprint.ts";
import type { ModelState } from "../methods/method.ts";
import type { IngestSummary } from "../read/summary.ts";
import type { ProgressFn, Rankings, Tables } from "../types.ts";
import { isPostgresUrl, maskUrl } from "./pg-url.ts";
import type { DiscardResult, FinalizeOptions, ShardJob, ShardRecord, StagedRun } from "./shard-records.ts";

/** A value now, or later. */
export type Awaitable<T> = T | Promise<T>;

/** One stored neighbour: [similar handle, score]. */
export type NeighborRow = [similar: string, score: number];

/** What the runs table records about one pipeline run. */
export interface RunRecord {
  method: string;
  /** Method parameters as given (JSON-serializable). */
  params: Record<string, unknown>;
  /** Input fingerprint (row counts and hash), see `fingerprintDataset`. */
  input: unknown;
  startedAt: Date;
  /** Seconds per stage, in order of execution; the store adds its own (`ingest`, `store`). */
  stages: Record<string, number>;
}

/** A row of the runs table as read back. */
export interface RunRow {
  id: number;
  results_table: string;
  method: string;
  params: Record<string, unknown>;
  input: unknown;
  users_ranked: number;
  rows_written: number;
  started_at: string;
  finished_at: string;
  stages: Record<string, number>;
}

/** Rankings ready to publish, with their run record and the model's state (`Model.state`). */
export interface Ranked {
  rankings: Rankings;
  run: RunRecord;
  /** Stored with the run, in the same transaction, for queries later. */
  model?: ModelState;
}

/** One row of a rankings table, as exported. */
export type RankingRow = [user_handle: string, rank: number, similar: string, score: number];

/** One atomic publication (see {@link RankingsStore.publish}). */
export interface PublishJob {
  /** Rankings table to replace (validated). */
  table: string;
  /** Input tables to replace in the same transaction (a pipeline given CSVs). */
  input?: { tables: Tables; summary: IngestSummary };
  /**
   * The rankings, still being computed. The store takes its write lock only once they are ready
   * (staging `input` meanwhile where it can), so other writers are not held up for the length of
   * a ranking.
   */
  ranked: Promise<Ranked>;
  /**
   * The ingest the rankings were computed from ({@link StoredInput.ingest}, for rankings of the
   * store's own input tables): publishing checks, inside its write transaction, that no other
   * ingest was recorded since, and throws {@link StaleInputError} otherwise. Omitted: no check.
   */
  inputIngest?: number | null;
  /** Progress of the input write (stage `write`). */
  onProgress?: ProgressFn;
}

/** Read access to one rankings table for long-lived readers (server, `similar`). */
export interface TableReader {
  readonly table: string;
  /** Bumped whenever the store changed since the last {@link sync}; caches key on it. */
  readonly generation: number;
  /** Whether the table exists, as of the last {@link sync}. */
  readonly exists: boolean;
  /**
   * Notices a committed change (a new table swapped in, a new run): refreshes {@link exists} and
   * the top-n, bumps {@link generation}. Returns true if something changed. Cheap enough to call
   * per request (implementations may look at most every few milliseconds unless `force`).
   */
  sync(force?: boolean): Awaitable<boolean>;
  /** The stored top-n (largest rank), 0 if the table is empty or missing. */
  topN(): Awaitable<number>;
  /** The first `n` neighbours of `handle`, in rank order; empty if the user has no rows. */
  neighbors(handle: string, n: number): Awaitable<NeighborRow[]>;
  /** The latest run recorded for this table, or null. */
  lastRun(): Awaitable<RunRow | null>;
  /** The store's current input fingerprint (see {@link RankingsStore.inputFingerprint}). */
  inputFingerprint(): Awaitable<Fingerprint | null>;
  /** Throws if the store cannot be read. */
  ping(): Awaitable<void>;
  close(): void;
}

/** Options of {@link RankingsStore.reader}. */
export interface ReaderOptions {
  /**
   * How often to look for a committed change, ms (default 0: on every `sync`). A positive value
   * trades up to that much staleness after a swap for fewer look-ups.
   */
  checkEveryMs?: number;
}

/** Where recsys keeps its tables. */
export interface RankingsStore {
  /** Kind of store, e.g. `sqlite`. */
  readonly kind: string;
  /** Where it is, for messages (a file path; a URL with its password masked). */
  readonly location: string;
  /**
   * The input tables as a dataset, read in one snapshot, with the fingerprint of exactly what was read.
   * @throws {MissingTablesError} naming the tables that are not there yet.
   */
  loadDataset(): Promise<Dataset>;
  /** {@link loadDataset}, with the id of the ingest read in the same snapshot (for {@link PublishJob.inputIngest}). */
  loadInput(): Promise<StoredInput>;
  /** Replaces the four input tables atomically (all or nothing) and records the ingest. */
  writeInput(tables: Tables, summary: IngestSummary, onProgress?: ProgressFn): Promise<void>;
  /**
   * Replaces a rankings table and records its run, atomically (with `job.input`, the input tables
   * too): readers see the old table or the complete new one; any failure leaves everything as it was.
   */
  publish(job: PublishJob): Promise<RunRow>;
  /** A reader of one rankings table (validated name). */
  reader(table: string, options?: ReaderOptions): TableReader;
  /** The most recent run that wrote `table`, or null. */
  lastRun(table: string): Awaitable<RunRow | null>;
  /** Every run recorded, oldest first. */
  runs(): Awaitable<RunRow[]>;
  /** The rankings tables that exist, each with its latest run (null if none is recorded), by name. */
  rankingsTables(): Awaitable<{ table: string; run: RunRow | null }[]>;
  /** The model state stored with run `runId`, or null. */
  loadModel(runId: number): Awaitable<ModelState | null>;
  /**
   * The fingerprint of the input tables as last written (by `ingest` or a pipeline given CSVs),
   * or null if unknown (written by an older version, or by another tool). A run whose recorded
   * input differs ranked other data: its rankings are stale.
   */
  inputFingerprint(): Awaitable<Fingerprint | null>;
  /** Streams a rankings table in key order (user, rank), without loading it whole. */
  scan(table: string): AsyncIterable<RankingRow>;
  /**
   * Stages one shard's slice and its record in one write transaction, replacing an earlier
   * attempt of the same shard (see `shard-records.ts`).
   * @throws {RunFinalizedError} when the run was finalized already.
   */
  stageShard(job: ShardJob): Promise<ShardRecord>;
  /**
   * Swaps a sharded run's staged slices in as one rankings table and records the run, in one
   * write transaction, once every shard is there and they agree; `swapped` is false when an
   * earlier finalize did it already (its run is returned).
   * @throws {ShardsNotReadyError} naming the missing or mismatched shards; nothing changed.
   */
  finalizeShards(runKey: string, options?: FinalizeOptions): Promise<{ run: RunRow; swapped: boolean }>;
  /** The run keys with staged shards (not finalized, not discarded), oldest first, read in one snapshot. */
  stagedRuns(): Promise<StagedRun[]>;
  /**
   * Removes a run key's staged rows, model and records in one write transaction (taking the write
   * lock like every write), and records the key as discarded so no shard stages it again. Touches
   * no rankings table. A repeat finds it done (`discarded` false).
   * @throws {UnknownRunKeyError} for a key never staged; {@link RunNotDiscardableError} for a finalized key.
   */
  discardShards(runKey: string): Promise<DiscardResult>;
  close(): void;
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** Open for reading only (the server in prod). The store must exist. */
  readonly?: boolean;
  /** Create the store if missing (default true unless readonly). */
  create?: boolean;
  /**
   * Most milliseconds a write waits for another run's write to finish (default 60,000), then
   * throws {@link StoreBusyError}.
   */
  lockWaitMs?: number;
  /** Told once, when a write finds another run writing, before it waits. */
  onLockWait?: (message: string) => void;
}

/** The store's input tables as read in one snapshot. */
export interface StoredInput {
  dataset: Dataset;
  /** Id of the latest ingest recorded in that snapshot (null if none is). */
  ingest: number | null;
}

export { StaleInputError, StoreBusyError, StoreWriteError } from "./errors.ts";

/** The input tables are not (all) in the store yet. */
export class MissingTablesError extends Error {
  override name = "MissingTablesError";
  constructor(readonly tables: string[]) {
    super(
      `the database has no ${tables.join(", ")} table${tables.length > 1 ? "s" : ""}: run \`recsys ingest --data-dir DIR\` first (or pass --data-dir to the pipeline)`,
    );
  }
}

/** The rankings table does not exist (the API's 503). */
export class MissingTableError extends Error {
  override name = "MissingTableError";
  constructor(readonly table: string) {
    super(`rankings table "${table}" does not exist yet; create it with \`recsys pipeline --method similarity\` (or --method factorization)`);
  }
}

/** True if `location` is a URL (`postgres://…`) rather than a SQLite file path. */
export function isStoreUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** `location` fit for messages: a URL's password masked, a path as it is. */
export function maskLocation(location: string): string {
  if (isPostgresUrl(location)) return maskUrl(location);
  // Another scheme: everything after the user name up to the last "@" may be a password.
  return isStoreUrl(location) ? location.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):.*@/i, "$1:***@") : location;
}

/**
 * Opens the store at `location`: a SQLite file path (the default). Other stores are chosen by URL
 * scheme here, one line each.
 */
export async function openStore(location: string, options: StoreOptions = {}): Promise<RankingsStore> {
  if (isPostgresUrl(location)) return (await import("./postgres.ts")).PostgresStore.open(location, options);
  if (isStoreUrl(location)) throw new RangeError(`unsupported store ${maskLocation(location)}: give a SQLite file path or a postgres:// URL`);
  const { SqliteStore } = await import("./sqlite.ts");
  return SqliteStore.open(location, options);
}

/** The store cannot be read for now (its file replaced or removed and not yet reopened): the API's 503. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
