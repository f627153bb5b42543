/**
 * The Postgres side of sharded runs, the same tables and contract as SQLite's `shards.ts` (what
 * is decided lives in `shard-records.ts`). Every function runs inside the store's write
 * transaction (which holds its advisory lock): a shard killed mid-COPY is rolled back by the
 * server, leaving its previous attempt; a finalize killed mid-swap leaves the served table.
 */
import type { SQL } from "bun";
import { compareBytes } from "../handles.ts";
import type { ModelState } from "../methods/method.ts";
import { copyIn, copyText, CHUNK_ROWS } from "./pg-copy.ts";
import { saveModel } from "./pg-models.ts";
import { recordRun, swapIn, validatePgTableName } from "./pg-rankings.ts";
import { latestPgIngest, quoteIdent, rankingsDDL } from "./pg-schema.ts";
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
  run_key text NOT NULL,
  shard integer NOT NULL,
  shards integer NOT NULL,
  results_table text NOT NULL,
  method text NOT NULL,
  params json NOT NULL,
  input json NOT NULL,
  ingest bigint,
  model_sha256 text NOT NULL,
  users integer NOT NULL,
  first_user integer NOT NULL,
  end_user integer NOT NULL,
  users_ranked integer NOT NULL,
  rows_written bigint NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  stages json NOT NULL,
  finalized_run bigint,
  PRIMARY KEY (run_key, shard)
)`,
  // No key: a shard's rows are deleted and copied in as a whole, and read once, sorted, by the finalize.
  `CREATE TABLE IF NOT EXISTS ${SHARD_ROWS_TABLE} (
  run_key text NOT NULL,
  shard integer NOT NULL,
  "user_handle" text NOT NULL,
  "rank" integer NOT NULL,
  "similar" text NOT NULL,
  "score" double precision NOT NULL
)`,
  `CREATE INDEX IF NOT EXISTS ${SHARD_ROWS_TABLE}_run ON ${SHARD_ROWS_TABLE} (run_key, shard)`,
  `CREATE TABLE IF NOT EXISTS ${SHARD_MODELS_TABLE} (
  run_key text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('f64', 'json')),
  value bytea NOT NULL,
  PRIMARY KEY (run_key, name)
)`,
  `CREATE TABLE IF NOT EXISTS ${SHARD_DISCARDS_TABLE} (
  run_key text PRIMARY KEY,
  shards integer NOT NULL,
  rows_discarded bigint NOT NULL,
  discarded_at timestamptz NOT NULL
)`,
];

async function ensureTables(tx: SQL): Promise<void> {
  for (const ddl of DDL) await tx.unsafe(ddl);
}

/** COPY text of a shard's rows, its users in key order. */
function* sliceChunks(job: ShardJob, counts: { ranked: number; written: number }): Generator<string, void, undefined> {
  const { users, offsets, neighbors, scores } = job.rankings;
  const order = Array.from({ length: job.end - job.start }, (_, i) => job.start + i).sort((a, b) => compareBytes(users[a], users[b]));
  const prefix = `${copyText(job.runKey)}\t${job.shard}\t`;
  let parts: string[] = [];
  for (const u of order) {
    const from = offsets[u];
    const to = offsets[u + 1];
    if (to > from) counts.ranked++;
    const user = copyText(users[u]);
    for (let k = from; k < to; k++) parts.push(`${prefix}${user}\t${k - from + 1}\t${copyText(users[neighbors[k]])}\t${scores[k]}\n`);
    counts.written += to - from;
    if (parts.length >= CHUNK_ROWS) {
      yield parts.join("");
      parts = [];
    }
  }
  if (parts.length) yield parts.join("");
}

/** Stages `job` (inside the write transaction): replaces the shard's earlier attempt, if any. */
export async function stageShard(tx: SQL, job: ShardJob): Promise<ShardRecord> {
  await ensureTables(tx);
  const done = await tx.unsafe(`SELECT finalized_run AS id FROM ${SHARDS_TABLE} WHERE run_key = $1 AND finalized_run IS NOT NULL LIMIT 1`, [job.runKey]);
  if (done.length) throw new RunFinalizedError(job.runKey, Number(done[0].id));
  const discarded = await discardRecord(tx, job.runKey);
  if (discarded) throw new RunDiscardedError(job.runKey, discarded.discardedAt);
  await tx.unsafe(`DELETE FROM ${SHARD_ROWS_TABLE} WHERE run_key = $1 AND shard = $2`, [job.runKey, job.shard]);
  const counts = { ranked: 0, written: 0 };
  await copyIn(tx, SHARD_ROWS_TABLE, ["run_key", "shard", "user_handle", "rank", "similar", "score"], sliceChunks(job, counts));
  if (job.model) {
    await tx.unsafe(`DELETE FROM ${SHARD_MODELS_TABLE} WHERE run_key = $1`, [job.runKey]);
    const put = `INSERT INTO ${SHARD_MODELS_TABLE} (run_key, name, kind, value) VALUES ($1, $2, $3, $4)`;
    for (const [name, a] of Object.entries(job.model.arrays)) await tx.unsafe(put, [job.runKey, name, "f64", Buffer.from(a.buffer, a.byteOffset, a.byteLength)]);
    await tx.unsafe(put, [job.runKey, "meta", "json", Buffer.from(JSON.stringify(job.model.meta))]);
  }
  const finishedAt = new Date();
  await tx.unsafe(
    `INSERT INTO ${SHARDS_TABLE} (run_key, shard, shards, results_table, method, params, input, ingest, model_sha256, users, first_user, end_user, users_ranked, rows_written, started_at, finished_at, stages, finalized_run)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NULL)
     ON CONFLICT (run_key, shard) DO UPDATE SET shards = EXCLUDED.shards, results_table = EXCLUDED.results_table, method = EXCLUDED.method, params = EXCLUDED.params,
       input = EXCLUDED.input, ingest = EXCLUDED.ingest, model_sha256 = EXCLUDED.model_sha256, users = EXCLUDED.users, first_user = EXCLUDED.first_user,
       end_user = EXCLUDED.end_user, users_ranked = EXCLUDED.users_ranked, rows_written = EXCLUDED.rows_written, started_at = EXCLUDED.started_at,
       finished_at = EXCLUDED.finished_at, stages = EXCLUDED.stages, finalized_run = NULL`,
    // Objects for json parameters: the driver serializes them.
    [job.runKey, job.shard, job.shards, job.table, job.run.method, job.run.params, job.run.input, job.ingest, job.modelSha256, job.users, job.start, job.end, counts.ranked, counts.written, job.run.startedAt, finishedAt, job.run.stages],
  );
  return stagedRecord(job, counts, finishedAt);
}

/** The records of run `runKey`, by shard (none when no shard ever ran). */
async function shardRecords(tx: SQL, runKey: string): Promise<ShardRecord[]> {
  const rows: Record<string, unknown>[] = await tx.unsafe(`SELECT * FROM ${SHARDS_TABLE} WHERE run_key = $1 ORDER BY shard`, [runKey]);
  return rows.map(toShardRecord);
}

/**
 * Finalizes run `runKey` inside the write transaction: the SQLite `finalizeShards`, with
 * Postgres's scratch table, key build and transactional swap.
 */
export async function finalizeShards(tx: SQL, runKey: string, location: string, runById: (id: number) => Promise<RunRow>, options: FinalizeOptions = {}): Promise<{ run: RunRow; swapped: boolean }> {
  await ensureTables(tx);
  const records = await shardRecords(tx, runKey);
  const plan = planFinalize(runKey, records, await latestPgIngest(tx), location, options, records.length ? null : await discardRecord(tx, runKey));
  if (plan.kind === "done") return { run: await runById(plan.runId), swapped: false };
  const t0 = performance.now();
  const table = validatePgTableName(plan.table);
  const scratch = "recsys_next";
  await tx.unsafe(`DROP TABLE IF EXISTS ${quoteIdent(scratch)}`);
  await tx.unsafe(rankingsDDL(scratch));
  const copied = await tx.unsafe(
    `INSERT INTO ${quoteIdent(scratch)} ("user_handle", "rank", "similar", "score") SELECT "user_handle", "rank", "similar", "score" FROM ${SHARD_ROWS_TABLE} WHERE run_key = $1 ORDER BY "user_handle" COLLATE "C", "rank"`,
    [runKey],
  );
  if (copied.count !== plan.counts.written) throw new Error(`run ${runKey}: the shards recorded ${plan.counts.written} rows but ${copied.count} are staged; nothing was swapped in`);
  await tx.unsafe(`ALTER TABLE ${quoteIdent(scratch)} ADD CONSTRAINT ${quoteIdent(`${scratch}_pkey`)} PRIMARY KEY ("user_handle", "rank")`);
  await tx.unsafe(`ANALYZE ${quoteIdent(scratch)}`);
  await swapIn(tx, table, scratch);
  const row = await recordRun(tx, table, plan.run, plan.counts, { ...plan.run.stages, finalize: Math.round(performance.now() - t0) / 1000 });
  const model = await shardModel(tx, runKey);
  if (model) await saveModel(tx, row.id, table, model);
  await tx.unsafe(`UPDATE ${SHARDS_TABLE} SET finalized_run = $1 WHERE run_key = $2`, [row.id, runKey]);
  await tx.unsafe(`DELETE FROM ${SHARD_ROWS_TABLE} WHERE run_key = $1`, [runKey]);
  await tx.unsafe(`DELETE FROM ${SHARD_MODELS_TABLE} WHERE run_key = $1`, [runKey]);
  return { run: row, swapped: true };
}

/** Shard 0's model of run `runKey`, or null. */
async function shardModel(tx: SQL, runKey: string): Promise<ModelState | null> {
  const rows: { name: string; kind: string; value: Uint8Array }[] = await tx.unsafe(`SELECT name, kind, value FROM ${SHARD_MODELS_TABLE} WHERE run_key = $1`, [runKey]);
  if (rows.length === 0) return null;
  const state: ModelState = { arrays: {}, meta: {} };
  for (const r of rows) {
    const bytes = new Uint8Array(r.value);
    if (r.kind === "json") state.meta = JSON.parse(new TextDecoder().decode(bytes));
    else state.arrays[r.name] = new Float64Array(bytes.slice().buffer);
  }
  return state;
}

/** True if `table` exists (in the search path). */
async function exists(tx: SQL, table: string): Promise<boolean> {
  const [{ exists }] = await tx.unsafe(`SELECT to_regclass('${table}') IS NOT NULL AS exists`);
  return Boolean(exists);
}

/** The discard record of `runKey`, or null. */
async function discardRecord(tx: SQL, runKey: string): Promise<DiscardRecord | null> {
  if (!(await exists(tx, SHARD_DISCARDS_TABLE))) return null;
  const rows = await tx.unsafe(`SELECT shards, rows_discarded AS rows, discarded_at AS at FROM ${SHARD_DISCARDS_TABLE} WHERE run_key = $1`, [runKey]);
  if (rows.length === 0) return null;
  const at = rows[0].at;
  return { shards: Number(rows[0].shards), rows: Number(rows[0].rows), discardedAt: at instanceof Date ? at.toISOString() : String(at) };
}

/** The run keys with staged shards (see `summarizeStaged`), read in one snapshot (`tx`). */
export async function stagedRuns(tx: SQL, location: string): Promise<StagedRun[]> {
  if (!(await exists(tx, SHARDS_TABLE))) return [];
  const rows: Record<string, unknown>[] = await tx.unsafe(`SELECT * FROM ${SHARDS_TABLE} WHERE finalized_run IS NULL ORDER BY run_key, shard`);
  return summarizeStaged(rows.map(toShardRecord), await latestPgIngest(tx), location);
}

/**
 * Discards run `runKey`'s staged rows, model and records and records the discard, inside the
 * write transaction (all or nothing); the SQLite `discardShards`. Served tables are not touched.
 */
export async function discardShards(tx: SQL, runKey: string, location: string): Promise<DiscardResult> {
  const records = (await exists(tx, SHARDS_TABLE)) ? await shardRecords(tx, runKey) : [];
  const plan = planDiscard(runKey, records, await discardRecord(tx, runKey), location);
  if (plan.kind === "done") return plan.result;
  await ensureTables(tx);
  const removed = (await tx.unsafe(`DELETE FROM ${SHARD_ROWS_TABLE} WHERE run_key = $1`, [runKey])).count;
  if (removed !== plan.rows) throw new Error(`run key ${runKey}: the shards recorded ${plan.rows} rows but ${removed} are staged; nothing was discarded`);
  await tx.unsafe(`DELETE FROM ${SHARD_MODELS_TABLE} WHERE run_key = $1`, [runKey]);
  await tx.unsafe(`DELETE FROM ${SHARDS_TABLE} WHERE run_key = $1`, [runKey]);
  const discardedAt = new Date();
  await tx.unsafe(`INSERT INTO ${SHARD_DISCARDS_TABLE} (run_key, shards, rows_discarded, discarded_at) VALUES ($1, $2, $3, $4)`, [runKey, plan.shards, removed, discardedAt]);
  return { runKey, discarded: true, shards: plan.shards, rows: removed, discardedAt: discardedAt.toISOString() };
}
