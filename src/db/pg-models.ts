/**
 * The Postgres side of what `recsys similar`/`serve` ask of a store beyond the rankings: run
 * models (`recsys_models`, bytea per Float64Array, written in the publish transaction), the
 * input fingerprint recorded by each ingest, the runs and rankings tables, and a rankings table
 * streamed in key order. The same contract as the SQLite files `models.ts`, `ingest.ts` and
 * `rankings.ts`.
 */
import type { SQL } from "bun";
import type { Fingerprint } from "../fingerprint.ts";
import type { ModelState } from "../methods/method.ts";
import { INGESTS_TABLE, quoteIdent, RUNS_TABLE, toRunRow } from "./pg-schema.ts";
import type { RankingRow, RunRow } from "./store.ts";

export const MODELS_TABLE = "recsys_models";

const MODELS_DDL = `CREATE TABLE IF NOT EXISTS ${MODELS_TABLE} (
  run_id bigint NOT NULL,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('f64', 'json')),
  value bytea NOT NULL,
  PRIMARY KEY (run_id, name)
)`;

/** Postgres's "undefined table": a bookkeeping table not created yet reads as empty. */
function missingTable(e: unknown): boolean {
  return (e as { errno?: string }).errno === "42P01";
}

/** Stores run `runId`'s model and drops earlier runs' models of `table` (inside the caller's transaction). */
export async function saveModel(tx: SQL, runId: number, table: string, state: ModelState): Promise<void> {
  await tx.unsafe(MODELS_DDL);
  await tx.unsafe(`DELETE FROM ${MODELS_TABLE} WHERE run_id IN (SELECT id FROM ${RUNS_TABLE} WHERE results_table = $1 AND id <> $2)`, [table, runId]);
  const insert = `INSERT INTO ${MODELS_TABLE} (run_id, name, kind, value) VALUES ($1, $2, $3, $4) ON CONFLICT (run_id, name) DO UPDATE SET kind = EXCLUDED.kind, value = EXCLUDED.value`;
  for (const [name, array] of Object.entries(state.arrays)) {
    await tx.unsafe(insert, [runId, name, "f64", Buffer.from(array.buffer, array.byteOffset, array.byteLength)]);
  }
  await tx.unsafe(insert, [runId, "meta", "json", Buffer.from(JSON.stringify(state.meta))]);
}

/** Run `runId`'s model, or null. */
export async function loadModel(sql: SQL, runId: number): Promise<ModelState | null> {
  let rows: { name: string; kind: string; value: Uint8Array }[];
  try {
    rows = await sql.unsafe(`SELECT name, kind, value FROM ${MODELS_TABLE} WHERE run_id = $1`, [runId]);
  } catch (e) {
    if (missingTable(e)) return null;
    throw e;
  }
  if (rows.length === 0) return null;
  const state: ModelState = { arrays: {}, meta: {} };
  for (const r of rows) {
    const bytes = new Uint8Array(r.value);
    if (r.kind === "json") state.meta = JSON.parse(new TextDecoder().decode(bytes));
    // A copy of its own: aligned for a Float64Array whatever the driver's buffer.
    else state.arrays[r.name] = new Float64Array(bytes.slice().buffer, 0, bytes.byteLength / 8);
  }
  return state;
}

/** Adds the ingests table's `input` column to one made before it existed (inside a write transaction). */
export async function ensureIngestInput(tx: SQL): Promise<void> {
  await tx.unsafe(`ALTER TABLE ${INGESTS_TABLE} ADD COLUMN IF NOT EXISTS input json`);
}

/** The input fingerprint recorded by the latest ingest, or null. */
export async function inputFingerprint(sql: SQL): Promise<Fingerprint | null> {
  try {
    const rows = await sql.unsafe(`SELECT to_jsonb(i) -> 'input' AS input FROM ${INGESTS_TABLE} i ORDER BY id DESC LIMIT 1`);
    const input = rows[0]?.input;
    return input ? (typeof input === "string" ? JSON.parse(input) : input) : null;
  } catch (e) {
    if (missingTable(e)) return null;
    throw e;
  }
}

/** Every recorded run, oldest first. */
export async function allRuns(sql: SQL): Promise<RunRow[]> {
  try {
    return (await sql.unsafe(`SELECT * FROM ${RUNS_TABLE} ORDER BY id`)).map(toRunRow);
  } catch (e) {
    if (missingTable(e)) return [];
    throw e;
  }
}

/** The rankings tables of the current schema (the rankings columns, bookkeeping and scratch tables aside), each with its latest run. */
export async function rankingsTables(sql: SQL): Promise<{ table: string; run: RunRow | null }[]> {
  const tables: { table_name: string }[] = await sql.unsafe(
    `SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'recsys!_%' ESCAPE '!'
     GROUP BY table_name HAVING string_agg(column_name::text, ',' ORDER BY ordinal_position) = 'user_handle,rank,similar,score' ORDER BY table_name`,
  );
  const runs = await allRuns(sql);
  const latest = new Map<string, RunRow>();
  for (const r of runs) latest.set(r.results_table, r);
  return tables.map((t) => ({ table: t.table_name, run: latest.get(t.table_name) ?? null }));
}

/** Rows of `table` (validated) in key order, fetched a page at a time by key: memory stays flat. */
export async function* scanRankings(sql: SQL, table: string, page = 10_000): AsyncIterable<RankingRow> {
  const q = quoteIdent(table);
  let after: [string, number] | null = null;
  for (;;) {
    const rows: { user_handle: string; rank: number; similar: string; score: number }[] = after
      ? await sql.unsafe(`SELECT "user_handle", "rank", "similar", "score" FROM ${q} WHERE ("user_handle", "rank") > ($1, $2) ORDER BY "user_handle", "rank" LIMIT ${page}`, after)
      : await sql.unsafe(`SELECT "user_handle", "rank", "similar", "score" FROM ${q} ORDER BY "user_handle", "rank" LIMIT ${page}`);
    for (const r of rows) yield [r.user_handle, Number(r.rank), r.similar, Number(r.score)];
    if (rows.length < page) return;
    const last = rows[rows.length - 1];
    after = [last.user_handle, Number(last.rank)];
  }
}
