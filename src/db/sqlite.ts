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
import { lastIngestInput, writeTables } from "./ingest.ts";
import { loadColumns } from "./load.ts";
import { loadModel, saveModel } from "./models.ts";
import { openDatabase, tableExists } from "./open.ts";
import { allRuns, lastRun, rankingsTables, writeRankings } from "./rankings.ts";
import { RankingsReader } from "./reader.ts";
import { MissingTableError, type PublishJob, type RankingRow, type RankingsStore, type ReaderOptions, type RunRow, type StoreOptions, type TableReader } from "./store.ts";

export class SqliteStore implements RankingsStore {
  readonly kind = "sqlite";
  private readonly readers = new Set<TableReader>();

  private constructor(
    readonly location: string,
    /** The open database (for tools and tests that need SQL of their own). */
    readonly db: Database,
  ) {}

  /**
   * Opens (or, unless read-only, creates) the database file at `path`, creating its directory.
   * @throws {DatabaseOpenError} naming the file.
   */
  static open(path: string, options: StoreOptions = {}): SqliteStore {
    const readonly = options.readonly ?? false;
    if (!readonly && (options.create ?? true) && !existsSync(dirname(path))) mkdirSync(dirname(path), { recursive: true });
    return new SqliteStore(path, openDatabase(path, { readonly, create: options.create }));
  }

  async loadDataset(): Promise<Dataset> {
    return Dataset.fromColumns(loadColumns(this.db));
  }

  async writeInput(tables: Tables, summary: IngestSummary, onProgress?: ProgressFn): Promise<void> {
    writeTables(this.db, tables, { summary, onProgress });
  }

  async publish(job: PublishJob): Promise<RunRow> {
    const db = this.db;
    // Without input tables to write there is nothing to overlap: the write lock waits for the
    // rankings, so other writers are not held up for the length of the top-n.
    const early = job.input ? undefined : await job.ranked;
    db.exec("BEGIN IMMEDIATE");
    try {
      let ingest: number | undefined;
      if (job.input) {
        const t0 = performance.now();
        // This thread is busy until the write ends while the workers rank.
        writeTables(db, job.input.tables, { summary: job.input.summary, onProgress: job.onProgress });
        ingest = Math.round(performance.now() - t0) / 1000;
      }
      const { rankings, run, model } = early ?? (await job.ranked);
      // In flow order: the method's top-n ran while the input tables were written.
      const stages = ingest === undefined ? run.stages : { ...run.stages, ingest };
      const row = writeRankings(db, job.table, rankings, { ...run, stages });
      if (model) saveModel(db, row.id, job.table, model);
      db.exec("COMMIT");
      return row;
    } catch (e) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw e;
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
