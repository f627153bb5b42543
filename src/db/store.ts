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
import type { IngestSummary } from "../read/summary.ts";
import type { ProgressFn, Rankings, Tables } from "../types.ts";

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

/** Rankings ready to publish, with their run record. */
export interface Ranked {
  rankings: Rankings;
  run: RunRecord;
}

/** One atomic publication (see {@link RankingsStore.publish}). */
export interface PublishJob {
  /** Rankings table to replace (validated). */
  table: string;
  /** Input tables to replace in the same transaction (a pipeline given CSVs). */
  input?: { tables: Tables; summary: IngestSummary };
  /**
   * The rankings, still being computed: the store writes `input` meanwhile, then waits for them
   * inside the same transaction. Without `input` it waits before taking its write lock, so other
   * writers are not held up for the length of a ranking.
   */
  ranked: Promise<Ranked>;
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
  close(): void;
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** Open for reading only (the server in prod). The store must exist. */
  readonly?: boolean;
  /** Create the store if missing (default true unless readonly). */
  create?: boolean;
}

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

/**
 * Opens the store at `location`: a SQLite file path (the default). Other stores are chosen by URL
 * scheme here, one line each.
 */
export async function openStore(location: string, options: StoreOptions = {}): Promise<RankingsStore> {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new RangeError("postgres:// stores are not available in this version; use a SQLite file path");
  }
  const { SqliteStore } = await import("./sqlite.ts");
  return SqliteStore.open(location, options);
}

/** The store cannot be read for now (its file replaced or removed and not yet reopened): the API's 503. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
