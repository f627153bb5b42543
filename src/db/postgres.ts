/**
 * The Postgres {@link RankingsStore}, through Bun's built-in client (`Bun.SQL`): the same tables
 * and contract as SQLite (`sqlite.ts`) on a database that several machines share.
 *
 * Every write is one transaction that first takes the store's write lock (a transaction-level
 * advisory lock: one writer at a time, as SQLite's BEGIN IMMEDIATE; readers never take it), so a
 * failure or a killed process leaves everything as it was. Adding a table to the same transaction
 * (a model beside its rankings) is one more call inside {@link PostgresStore.publish}'s callback;
 * a new read is one more method over `this.sql`.
 *
 * The location is the URL with its password masked; every error that leaves this store is
 * scrubbed of secrets.
 */
import type { SQL } from "bun";
import { Dataset } from "../dataset.ts";
import { InvalidTableNameError } from "../names.ts";
import { InputError } from "../read/errors.ts";
import { rowCount, SCHEMA } from "../read/schema.ts";
import type { IngestSummary } from "../read/summary.ts";
import { TABLE_NAMES, type ProgressFn, type Tables } from "../types.ts";
import { connect, PgConnectError, PgStoreError, storeError } from "./pg-connect.ts";
import { CHUNK_ROWS, columnChunks, copyIn, CopyValueError, type CopyColumn } from "./pg-copy.ts";
import { loadInputColumns } from "./pg-load.ts";
import { allRuns, ensureIngestInput, inputFingerprint, loadModel, rankingsTables, saveModel, scanRankings } from "./pg-models.ts";
import type { Fingerprint } from "../fingerprint.ts";
import type { ModelState } from "../methods/method.ts";
import { PgTableReader } from "./pg-reader.ts";
import { lastRun, validatePgTableName, writeRankings } from "./pg-rankings.ts";
import { INGESTS_DDL, INGESTS_TABLE, inputTableDDL, latestPgIngest } from "./pg-schema.ts";
import { PgUrlError, type PgUrl } from "./pg-url.ts";
import { discardShards, finalizeShards, stagedRuns, stageShard } from "./pg-shards.ts";
import { RunDiscardedError, RunFinalizedError, RunNotDiscardableError, ShardsNotReadyError, UnknownRunKeyError, type DiscardResult, type FinalizeOptions, type ShardJob, type ShardRecord, type StagedRun } from "./shard-records.ts";
import { MissingTableError, MissingTablesError, StaleInputError, type PublishJob, type RankingRow, type RankingsStore, type ReaderOptions, type RunRow, type StoredInput, type StoreOptions, type TableReader } from "./store.ts";

/** Key of the advisory lock every write transaction takes ("recsys" in ASCII). */
const WRITE_LOCK = 0x726563737973;

/** Errors that already say what is wrong and hold no secret: passed through as they are. */
const OWN_ERRORS = [MissingTablesError, MissingTableError, InputError, InvalidTableNameError, PgConnectError, PgStoreError, PgUrlError, ShardsNotReadyError, RunFinalizedError, RunDiscardedError, UnknownRunKeyError, RunNotDiscardableError];

export class PostgresStore implements RankingsStore {
  readonly kind = "postgres";
  /** The URL, password masked. */
  readonly location: string;
  private readonly readers = new Set<TableReader>();

  private constructor(
    /** The pooled client (for tools and tests that need SQL of their own). */
    readonly sql: SQL,
    private readonly url: PgUrl,
  ) {
    this.location = url.masked;
  }

  /**
   * Connects (one round trip, so a bad URL, host or password fails here). Read-only makes every
   * transaction read-only on the server. Nothing is created until the first write.
   * @throws {PgUrlError} for a malformed URL; {@link PgConnectError} when it cannot connect or log in.
   */
  static async open(location: string, options: StoreOptions = {}): Promise<PostgresStore> {
    const { sql, url } = await connect(location, { readonly: options.readonly });
    return new PostgresStore(sql, url);
  }

  async loadDataset(): Promise<Dataset> {
    return (await this.loadInput()).dataset;
  }

  async loadInput(): Promise<StoredInput> {
    const { columns, ingest } = await this.guard(() => loadInputColumns(this.sql), "reading the input tables");
    return { dataset: Dataset.fromEncoded(columns), ingest };
  }

  async writeInput(tables: Tables, summary: IngestSummary, onProgress?: ProgressFn): Promise<void> {
    await this.write((tx) => writeInputTables(tx, tables, summary, onProgress), "writing the input tables");
  }

  async publish(job: PublishJob): Promise<RunRow> {
    validatePgTableName(job.table);
    // Without input tables to write there is nothing to overlap: the lock waits for the rankings.
    const early = job.input ? undefined : await job.ranked;
    return this.write(async (tx) => {
      let ingest: number | undefined;
      if (job.input) {
        const t0 = performance.now();
        await writeInputTables(tx, job.input.tables, job.input.summary, job.onProgress);
        ingest = Math.round(performance.now() - t0) / 1000;
      }
      const { rankings, run, model } = early ?? (await job.ranked);
      if (job.inputIngest !== undefined && !job.input) {
        // The input ranked must still be the input stored (the lock is held: no ingest can commit now).
        const current = await latestPgIngest(tx);
        if (current !== job.inputIngest) throw new StaleInputError(this.location, job.inputIngest, current);
      }
      const stages = ingest === undefined ? run.stages : { ...run.stages, ingest };
      const row = await writeRankings(tx, job.table, rankings, { ...run, stages });
      if (model) await saveModel(tx, row.id, job.table, model);
      return row;
    }, `publishing table ${job.table}`);
  }

  reader(table: string, options: ReaderOptions = {}): TableReader {
    const reader = new PgTableReader(this.sql, this.url, table, options);
    this.readers.add(reader);
    return reader;
  }

  lastRun(table: string): Promise<RunRow | null> {
    return this.guard(() => lastRun(this.sql, table), "reading recsys_runs");
  }

  runs(): Promise<RunRow[]> {
    return this.guard(() => allRuns(this.sql), "reading recsys_runs");
  }

  rankingsTables(): Promise<{ table: string; run: RunRow | null }[]> {
    return this.guard(() => rankingsTables(this.sql), "listing the rankings tables");
  }

  loadModel(runId: number): Promise<ModelState | null> {
    return this.guard(() => loadModel(this.sql, runId), "reading recsys_models");
  }

  inputFingerprint(): Promise<Fingerprint | null> {
    return this.guard(() => inputFingerprint(this.sql), "reading recsys_ingests");
  }

  async *scan(table: string): AsyncIterable<RankingRow> {
    validatePgTableName(table);
    const [{ exists }] = await this.guard(() => this.sql.unsafe(`SELECT to_regclass($1) IS NOT NULL AS exists`, [`"${table}"`]), "reading the rankings table");
    if (!exists) throw new MissingTableError(table);
    yield* scanRankings(this.sql, table);
  }

  close(): void {
    for (const r of this.readers) r.close();
    this.readers.clear();
    // Waits for queries already sent, then closes every connection; nothing is left to report.
    this.sql.close().catch(() => {});
  }

  stageShard(job: ShardJob): Promise<ShardRecord> {
    validatePgTableName(job.table);
    return this.write((tx) => stageShard(tx, job), `staging shard ${job.shard} of run ${job.runKey}`);
  }

  finalizeShards(runKey: string, options: FinalizeOptions = {}): Promise<{ run: RunRow; swapped: boolean }> {
    const runById = async (id: number) => (await allRuns(this.sql)).find((r) => r.id === id)!;
    return this.write((tx) => finalizeShards(tx, runKey, this.location, runById, options), `finalizing run ${runKey}`);
  }

  stagedRuns(): Promise<StagedRun[]> {
    return this.guard(
      () =>
        this.sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", (tx) => stagedRuns(tx, this.location)) as Promise<StagedRun[]>,
      "listing the staged run keys",
    );
  }

  discardShards(runKey: string): Promise<DiscardResult> {
    return this.write((tx) => discardShards(tx, runKey, this.location), `discarding run key ${runKey}`);
  }

  /** One write transaction holding the store's write lock; rolled back on any error. */
  private write<T>(work: (tx: SQL) => Promise<T>, what: string): Promise<T> {
    return this.guard(
      () =>
        this.sql.begin(async (tx) => {
          await tx.unsafe(`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
          return work(tx);
        }) as Promise<T>,
      what,
    );
  }

  /** Runs `work`, turning driver errors into scrubbed one-line {@link PgStoreError}s. */
  private async guard<T>(work: () => Promise<T>, what: string): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (OWN_ERRORS.some((kind) => e instanceof kind)) throw e;
      throw storeError(e, this.url, `${what} in ${this.location}`);
    }
  }
}

/**
 * Replaces the four input tables inside `tx` (DROP, CREATE, COPY in file order) and records the
 * ingest. The tables have no indexes: the methods read them whole.
 */
async function writeInputTables(tx: SQL, tables: Tables, summary: IngestSummary, onProgress?: ProgressFn): Promise<void> {
  const total = TABLE_NAMES.reduce((n, name) => n + rowCount(tables[name], name), 0);
  let done = 0;
  for (const name of TABLE_NAMES) {
    const specs = SCHEMA[name].columns;
    const names = specs.map((c) => c.name);
    const table: Record<string, CopyColumn> = tables[name];
    const n = rowCount(tables[name], name);
    await tx.unsafe(`DROP TABLE IF EXISTS ${name}`);
    await tx.unsafe(inputTableDDL(name));
    let written = 0;
    try {
      await copyIn(tx, name, names, columnChunks(name, names, names.map((c) => table[c]), n), () => {
        written = Math.min(n, written + CHUNK_ROWS);
        onProgress?.("write", done + written, total);
      });
    } catch (e) {
      if (e instanceof CopyValueError && e.where) {
        throw new InputError({ file: SCHEMA[name].file, column: e.where.column, expected: "text without NUL characters (Postgres cannot store them)", got: `one in row ${e.where.row} of the rows kept` });
      }
      throw e;
    }
    done += n;
    onProgress?.("write", done, total);
  }
  await tx.unsafe(INGESTS_DDL);
  await ensureIngestInput(tx);
  const rows = Object.fromEntries(TABLE_NAMES.map((name) => [name, rowCount(tables[name], name)]));
  await tx.unsafe(`INSERT INTO ${INGESTS_TABLE} (ingested_at, source_dir, rows, summary, input) VALUES ($1, $2, $3, $4, $5)`, [
    new Date(),
    summary.dir ?? null,
    rows,
    summary.tables ?? null,
    summary.input ?? null,
  ]);
}
