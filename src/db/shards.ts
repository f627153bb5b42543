/**
 * The SQLite side of sharded runs (see `shard-records.ts` for what is decided): one staging table
 * for every run's slices (`recsys_shard_rows`, keyed by run key and shard), one record per staged
 * shard (`recsys_shards`), and shard 0's model (`recsys_shard_models`). Every function runs inside
 * the caller's write transaction, so a shard killed mid-write leaves its previous attempt (or
 * nothing), and a finalize killed mid-swap leaves the served table.
 */
import type { Database } from "bun:sqlite";
import { compareBytes } from "../handles.ts";
import type { ModelState } from "../methods/method.ts";
import { InvalidTableNameError, SCRATCH_MARK, validateTableName } from "../names.ts";
import { latestIngest } from "./ingest.ts";
import { saveModel } from "./models.ts";
import { tableExists } from "./open.ts";
import { rankingsDDL, recordRun, swapIn } from "./rankings.ts";
import {
  planDiscard,
  planFinalize,
  RunDiscardedError,
  RunFinalizedError,
  SHARD_DISCARDS_TABLE,
  SHARD_MODELS_TABLE,
  SHARD_ROWS_TABLE,
  SHARDS_TABLE,
  stagedRecord,
  summarizeStaged,
  toShardRecord,
  type DiscardRecord,
  type DiscardResult,
  type FinalizeOptions,
  type ShardJob,
  type ShardRecord,
  type StagedRun,
} from "./shard-records.ts";
import type { RunRow } from "./store.ts";

const DDL = [
  `CREATE TABLE IF NOT EXISTS ${SHARDS_TABLE} (
  run_key TEXT NOT NULL,
  shard INTEGER NOT NULL,
  shards INTEGER NOT NULL,
  results_table TEXT NOT NULL,
  method TEXT NOT NULL,
  params TEXT NOT NULL,
  input TEXT NOT NULL,
  ingest INTEGER,
  model_sha256 TEXT NOT NULL,
  users INTEGER NOT NULL,
  first_user INTEGER NOT NULL,
  end_user INTEGER NOT NULL,
  users_ranked INTEGER NOT NULL,
  rows_written INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  stages TEXT NOT NULL,
  finalized_run INTEGER,
  PRIMARY KEY (run_key, shard)
) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS ${SHARD_ROWS_TABLE} (
  run_key TEXT NOT NULL,
  shard INTEGER NOT NULL,
  user_handle TEXT NOT NULL,
  rank INTEGER NOT NULL,
  similar TEXT NOT NULL,
  score REAL NOT NULL,
  PRIMARY KEY (run_key, shard, user_handle, rank)
) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS ${SHARD_MODELS_TABLE} (
  run_key TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('f64', 'json')),
  value BLOB NOT NULL,
  PRIMARY KEY (run_key, name)
) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS ${SHARD_DISCARDS_TABLE} (
  run_key TEXT PRIMARY KEY,
  shards INTEGER NOT NULL,
  rows_discarded INTEGER NOT NULL,
  discarded_at TEXT NOT NULL
) WITHOUT ROWID`,
];

function ensureTables(db: Database): void {
  for (const ddl of DDL) db.exec(ddl);
}

/** Stages `job` (inside a write transaction): replaces the shard's earlier attempt, if any. */
export function stageShard(db: Database, job: ShardJob): ShardRecord {
  ensureTables(db);
  const done = db.query(`SELECT finalized_run AS id FROM ${SHARDS_TABLE} WHERE run_key = ? AND finalized_run IS NOT NULL LIMIT 1`).get(job.runKey) as { id: number } | null;
  if (done) throw new RunFinalizedError(job.runKey, done.id);
  const discarded = discardRecord(db, job.runKey);
  if (discarded) throw new RunDiscardedError(job.runKey, discarded.discardedAt);
  db.query(`DELETE FROM ${SHARD_ROWS_TABLE} WHERE run_key = ? AND shard = ?`).run(job.runKey, job.shard);
  const { users, offsets, neighbors, scores } = job.rankings;
  // In key order (bytes): B-tree appends.
  const order = Array.from({ length: job.end - job.start }, (_, i) => job.start + i).sort((a, b) => compareBytes(users[a], users[b]));
  const insert = db.prepare(`INSERT INTO ${SHARD_ROWS_TABLE} (run_key, shard, user_handle, rank, similar, score) VALUES (?, ?, ?, ?, ?, ?)`);
  let ranked = 0;
  let written = 0;
  for (const u of order) {
    const from = offsets[u];
    const to = offsets[u + 1];
    if (to > from) ranked++;
    for (let k = from; k < to; k++) insert.run(job.runKey, job.shard, users[u], k - from + 1, users[neighbors[k]], scores[k]);
    written += to - from;
  }
  insert.finalize();
  if (job.model) {
    db.query(`DELETE FROM ${SHARD_MODELS_TABLE} WHERE run_key = ?`).run(job.runKey);
    const put = db.prepare(`INSERT INTO ${SHARD_MODELS_TABLE} (run_key, name, kind, value) VALUES (?, ?, ?, ?)`);
    for (const [name, a] of Object.entries(job.model.arrays)) put.run(job.runKey, name, "f64", new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    put.run(job.runKey, "meta", "json", JSON.stringify(job.model.meta));
    put.finalize();
  }
  const record = stagedRecord(job, { ranked, written }, new Date());
  db.query(
    `INSERT OR REPLACE INTO ${SHARDS_TABLE} (run_key, shard, shards, results_table, method, params, input, ingest, model_sha256, users, first_user, end_user, users_ranked, rows_written, started_at, finished_at, stages, finalized_run)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
  ).run(
    record.runKey,
    record.shard,
    record.shards,
    record.table,
    record.method,
    JSON.stringify(record.params),
    JSON.stringify(record.input),
    record.ingest,
    record.modelSha256,
    record.users,
    record.start,
    record.end,
    record.usersRanked,
    record.rowsWritten,
    record.startedAt,
    record.finishedAt,
    JSON.stringify(record.stages),
  );
  return record;
}

/** The records of run `runKey`, by shard. */
export function shardRecords(db: Database, runKey: string): ShardRecord[] {
  if (!tableExists(db, SHARDS_TABLE)) return [];
  const rows = db.query(`SELECT * FROM ${SHARDS_TABLE} WHERE run_key = ? ORDER BY shard`).all(runKey) as Record<string, unknown>[];
  return rows.map(toShardRecord);
}

/**
 * Finalizes run `runKey` (inside a write transaction): checks its records ({@link planFinalize}),
 * fills a scratch table from the staged slices in key order, swaps it in, records the run with
 * shard 0's model, marks the records finalized and drops the staged rows. `done` is true when an
 * earlier finalize had done it all already; `lastRun` reads that run back.
 */
export function finalizeShards(db: Database, runKey: string, location: string, lastRun: (id: number) => RunRow, options: FinalizeOptions = {}): { run: RunRow; swapped: boolean } {
  const records = shardRecords(db, runKey);
  const plan = planFinalize(runKey, records, latestIngest(db), location, options, records.length ? null : discardRecord(db, runKey));
  if (plan.kind === "done") return { run: lastRun(plan.runId), swapped: false };
  const t0 = performance.now();
  const table = validateTableName(plan.table);
  const other = db.query("SELECT type FROM sqlite_schema WHERE name = ? COLLATE NOCASE AND type <> 'table'").get(table) as { type: string } | null;
  if (other) throw new InvalidTableNameError(`cannot replace ${JSON.stringify(table)} with rankings: it is a ${other.type}, not a table; choose another results table`);
  const scratch = `${table}${SCRATCH_MARK}next`;
  db.exec(`DROP TABLE IF EXISTS "${scratch}"`);
  db.exec(rankingsDDL(scratch));
  const copied = db.query(`INSERT INTO "${scratch}" (user_handle, rank, similar, score) SELECT user_handle, rank, similar, score FROM ${SHARD_ROWS_TABLE} WHERE run_key = ? ORDER BY user_handle, rank`).run(runKey);
  // The records say how many rows the shards committed; anything else is a bug, not a swap.
  if (copied.changes !== plan.counts.written) throw new Error(`run ${runKey}: the shards recorded ${plan.counts.written} rows but ${copied.changes} are staged; nothing was swapped in`);
  swapIn(db, scratch, table);
  const row = recordRun(db, table, plan.run, plan.counts, { ...plan.run.stages, finalize: Math.round(performance.now() - t0) / 1000 });
  const model = shardModel(db, runKey);
  if (model) saveModel(db, row.id, table, model);
  db.query(`UPDATE ${SHARDS_TABLE} SET finalized_run = ? WHERE run_key = ?`).run(row.id, runKey);
  db.query(`DELETE FROM ${SHARD_ROWS_TABLE} WHERE run_key = ?`).run(runKey);
  db.query(`DELETE FROM ${SHARD_MODELS_TABLE} WHERE run_key = ?`).run(runKey);
  return { run: row, swapped: true };
}

/** Shard 0's model of run `runKey`, or null (a method that keeps none). */
function shardModel(db: Database, runKey: string): ModelState | null {
  const rows = db.query(`SELECT name, kind, value FROM ${SHARD_MODELS_TABLE} WHERE run_key = ?`).all(runKey) as { name: string; kind: string; value: Uint8Array | string }[];
  if (rows.length === 0) return null;
  const state: ModelState = { arrays: {}, meta: {} };
  for (const r of rows) {
    if (r.kind === "json") state.meta = JSON.parse(typeof r.value === "string" ? r.value : new TextDecoder().decode(r.value));
    // An aligned copy of its own (a BLOB's bytes need not be 8-byte aligned).
    else state.arrays[r.name] = new Float64Array((r.value as Uint8Array).slice().buffer);
  }
  return state;
}

/** The discard record of `runKey`, or null. */
function discardRecord(db: Database, runKey: string): DiscardRecord | null {
  if (!tableExists(db, SHARD_DISCARDS_TABLE)) return null;
  const row = db.query(`SELECT shards, rows_discarded AS rows, discarded_at AS at FROM ${SHARD_DISCARDS_TABLE} WHERE run_key = ?`).get(runKey) as { shards: number; rows: number; at: string } | null;
  return row && { shards: row.shards, rows: row.rows, discardedAt: row.at };
}

/** The run keys with staged shards (see `summarizeStaged`); the caller reads in one transaction. */
export function stagedRuns(db: Database, location: string): StagedRun[] {
  if (!tableExists(db, SHARDS_TABLE)) return [];
  const rows = db.query(`SELECT * FROM ${SHARDS_TABLE} WHERE finalized_run IS NULL ORDER BY run_key, shard`).all() as Record<string, unknown>[];
  return summarizeStaged(rows.map(toShardRecord), latestIngest(db), location);
}

/**
 * Discards run `runKey`'s staged rows, model and records and records the discard (inside a write
 * transaction): all of it or, on any failure, none. Only the staging tables are touched, never a
 * served rankings table. See `planDiscard` for what is refused.
 */
export function discardShards(db: Database, runKey: string, location: string): DiscardResult {
  const plan = planDiscard(runKey, shardRecords(db, runKey), discardRecord(db, runKey), location);
  if (plan.kind === "done") return plan.result;
  ensureTables(db);
  const removed = db.query(`DELETE FROM ${SHARD_ROWS_TABLE} WHERE run_key = ?`).run(runKey).changes;
  // The records say how many rows the shards committed; anything else is a bug: roll it all back.
  if (removed !== plan.rows) throw new Error(`run key ${runKey}: the shards recorded ${plan.rows} rows but ${removed} are staged; nothing was discarded`);
  db.query(`DELETE FROM ${SHARD_MODELS_TABLE} WHERE run_key = ?`).run(runKey);
  db.query(`DELETE FROM ${SHARDS_TABLE} WHERE run_key = ?`).run(runKey);
  const discardedAt = new Date().toISOString();
  db.query(`INSERT INTO ${SHARD_DISCARDS_TABLE} (run_key, shards, rows_discarded, discarded_at) VALUES (?, ?, ?, ?)`).run(runKey, plan.shards, removed, discardedAt);
  return { runKey, discarded: true, shards: plan.shards, rows: removed, discardedAt };
}
