/**
 * The SQLite {@link RankingsStore}: one database file in WAL mode, so readers (the server) are
 * never blocked by the pipeline and see the previous rankings table or the complete new one.
 */
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Dataset } from "../dataset.ts";
import type { Fingerprint } from "../fingerprint.ts";
import type { ModelState } from "../methods/method.ts";
import { validateTableName } from "../names.ts";
import type { IngestSummary } from "../read/summary.ts";
import type { ProgressFn, Tables } from "../types.ts";
import { StaleInputError } from "./errors.ts";
import { copyStagedTables, lastIngestInput, latestIngest, stageTables, writeTables } from "./ingest.ts";
import { loadInput } from "./load.ts";
import { loadModel, saveModel } from "./models.ts";
import { openDatabase, tableExists } from "./open.ts";
import { allRuns, lastRun, rankingsTables, writeRankings } from "./rankings.ts";
import { RankingsReader } from "./reader.ts";
import { MissingTableError, type PublishJob, type RankingRow, type RankingsStore, type ReaderOptions, type RunRow, type StoredInput, type StoreOptions, type TableReader } from "./store.ts";
import { beginWrite, namedWriteError, type LockOptions } from "./write.ts";
import type { DiscardResult, FinalizeOptions, ShardJob, ShardRecord, StagedRun } from "./shard-records.ts";
import { discardShards, finalizeShards, stagedRuns, stageShard } from "./shards.ts";

/** Schema name of a pipeline's private staging database (SQLite's temporary file, gone on close). */
const STAGE = "recsys_stage";

export class SqliteStore implements RankingsStore {
  readonly kind = "sqlite";
  private readonly readers = new Set<TableReader>();

  private constructor(
    readonly location: string,
    /** The open database (for tools and tests that need SQL of their own). */
    readonly db: Database,
    private readonly lock: LockOptions,
  ) {}

  /**
   * Opens (or, unless read-only, creates) the database file at `path`, creating its directory.
   * @throws {DatabaseOpenError} naming the file.
   */
  static open(path: string, options: StoreOptions = {}): SqliteStore {
    const readonly = options.readonly ?? false;
    if (!readonly && (options.create ?? true) && !existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true });
    return new SqliteStore(path, openDatabase(path, { readonly, create: options.create }), { waitMs: options.lockWaitMs, onWait: options.onLockWait });
  }

  async loadDataset(): Promise<Dataset> {
    return (await this.loadInput()).dataset;
  }

  async loadInput(): Promise<StoredInput> {
    const { columns, ingest } = loadInput(this.db);
    return { dataset: Dataset.fromEncoded(columns), ingest };
  }

  async writeInput(tables: Tables, summary: IngestSummary, onProgress?: ProgressFn): Promise<void> {
    await this.write(() => writeTables(this.db, tables, { summary, onProgress }));
  }

  /**
   * Given input tables, they are staged in a private temporary database while the ranking runs
   * (no lock on the store meanwhile); the write lock is taken only once the rankings are ready,
   * for copying the staged tables in and swapping the rankings table, in one transaction.
   */
  async publish(job: PublishJob): Promise<RunRow> {
    const db = this.db;
    let staged: { seconds: number } | undefined;
    if (job.input) {
      const t0 = performance.now();
      db.exec(`ATTACH '' AS ${STAGE}`);
      staged = { seconds: 0 };
      try {
        // Throwaway: no journal to keep, nothing to sync.
        db.exec(`PRAGMA ${STAGE}.journal_mode = OFF`);
        db.exec(`PRAGMA ${STAGE}.synchronous = OFF`);
        stageTables(db, STAGE, job.input.tables, job.onProgress);
      } catch (e) {
        db.exec(`DETACH ${STAGE}`);
        throw namedWriteError(e, "the temporary database staging the input tables (in SQLITE_TMPDIR, TMPDIR or /var/tmp)");
      }
      staged.seconds = Math.round(performance.now() - t0) / 1000;
    }
    try {
      const { rankings, run, model } = await job.ranked;
      return await this.write(() => {
        if (job.inputIngest !== undefined) {
          const current = latestIngest(db);
          if (current !== job.inputIngest) throw new StaleInputError(this.location, job.inputIngest, current);
        }
        let stages = run.stages;
        if (job.input && staged) {
          const t0 = performance.now();
          copyStagedTables(db, STAGE, job.input.tables, job.input.summary);
          // In flow order: the input was staged while the top-n ran, then copied in.
          stages = { ...stages, ingest: staged.seconds, ingestCopy: Math.round(performance.now() - t0) / 1000 };
        }
        const row = writeRankings(db, job.table, rankings, { ...run, stages });
        if (model) saveModel(db, row.id, job.table, model);
        return row;
      });
    } finally {
      if (staged) db.exec(`DETACH ${STAGE}`);
    }
  }

  async stageShard(job: ShardJob): Promise<ShardRecord> {
    return this.write(() => stageShard(this.db, job));
  }

  async finalizeShards(runKey: string, options: FinalizeOptions = {}): Promise<{ run: RunRow; swapped: boolean }> {
    return this.write(() => finalizeShards(this.db, runKey, this.location, (id) => allRuns(this.db).find((r) => r.id === id)!, options));
  }

  async stagedRuns(): Promise<StagedRun[]> {
    // One read transaction: the records and the current ingest from the same snapshot.
    return this.db.transaction(() => stagedRuns(this.db, this.location))();
  }

  async discardShards(runKey: string): Promise<DiscardResult> {
    return this.write(() => discardShards(this.db, runKey, this.location));
  }

  /** Runs `body` in a write transaction taken with {@link beginWrite}; failures about the file name it. */
  private async write<T>(body: () => T): Promise<T> {
    const db = this.db;
    await beginWrite(db, this.location, this.lock);
    try {
      const result = body();
      db.exec("COMMIT");
      return result;
    } catch (e) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw namedWriteError(e, this.location);
    }
  }

  reader(table: string, options: ReaderOptions = {}): TableReader {
    const reader = new RankingsReader(this.db, table, options);
    this.readers.add(reader);
    return reader;
  }

  lastRun(table: string): RunRow | null {
    return lastRun(this.db, table);
  }

  runs(): RunRow[] {
    return allRuns(this.db);
  }

  rankingsTables(): { table: string; run: RunRow | null }[] {
    return rankingsTables(this.db);
  }

  loadModel(runId: number): ModelState | null {
    return loadModel(this.db, runId);
  }

  inputFingerprint(): Fingerprint | null {
    return lastIngestInput(this.db) as Fingerprint | null;
  }

  async *scan(table: string): AsyncIterable<RankingRow> {
    validateTableName(table);
    if (!tableExists(this.db, table)) throw new MissingTableError(table);
    // Rows one at a time from SQLite's cursor: memory stays flat however large the table.
    const stmt = this.db.prepare(`SELECT user_handle, rank, similar, score FROM "${table}" ORDER BY user_handle, rank`);
    try {
      for (const row of stmt.iterate() as IterableIterator<Record<string, unknown>>) {
        yield [row.user_handle as string, row.rank as number, row.similar as string, row.score as number];
      }
    } finally {
      stmt.finalize();
    }
  }

  close(): void {
    for (const r of this.readers) r.close();
    this.readers.clear();
    this.db.close();
  }
}
