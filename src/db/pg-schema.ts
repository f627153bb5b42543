/**
 * The Postgres tables: the four input tables (from the one input schema), the bookkeeping tables
 * `recsys_ingests` and `recsys_runs`, and a rankings table. The README's "Postgres" section shows
 * {@link inputTablesDDL} verbatim (a test keeps them equal).
 */
import type { SQL } from "bun";
import { SCHEMA, TABLE_NAMES, type ColumnKind, type TableName } from "../read/schema.ts";
import type { RunRow } from "./store.ts";

export const INGESTS_TABLE = "recsys_ingests";
export const RUNS_TABLE = "recsys_runs";

/** The id of the newest ingest, or null when there is none (or no ingests table): SQLite's `latestIngest`. */
export async function latestPgIngest(tx: SQL): Promise<number | null> {
  const [{ exists }] = await tx.unsafe(`SELECT to_regclass('${INGESTS_TABLE}') IS NOT NULL AS exists`);
  if (!exists) return null;
  const [{ id }] = await tx.unsafe(`SELECT max(id) AS id FROM ${INGESTS_TABLE}`);
  return id === null ? null : Number(id);
}

/** Numbers are double precision (sums of seconds divide as floats); everything else is text, as in SQLite. */
export function pgType(kind: ColumnKind): "double precision" | "text" {
  return kind === "nonNegativeNumber" ? "double precision" : "text";
}

/** A trusted identifier (schema name or validated table name), quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `CREATE TABLE` of one input table, as `recsys ingest` creates it. */
export function inputTableDDL(name: TableName): string {
  const columns = SCHEMA[name].columns.map((c) => `  ${c.name} ${pgType(c.kind)} NOT NULL`);
  return `CREATE TABLE ${name} (\n${columns.join(",\n")}\n);`;
}

/** The four input tables' `CREATE TABLE` statements. */
export function inputTablesDDL(): string {
  return TABLE_NAMES.map(inputTableDDL).join("\n");
}

export const INGESTS_DDL = `CREATE TABLE IF NOT EXISTS ${INGESTS_TABLE} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ingested_at timestamptz NOT NULL,
  source_dir text,
  rows json NOT NULL,
  summary json,
  input json
)`;

// json, not jsonb: jsonb reorders keys, and `stages` lists the stages in the order they ran.
export const RUNS_DDL = `CREATE TABLE IF NOT EXISTS ${RUNS_TABLE} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  results_table text NOT NULL,
  method text NOT NULL,
  params json NOT NULL,
  input json NOT NULL,
  users_ranked integer NOT NULL,
  rows_written bigint NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  stages json NOT NULL
)`;

/** The columns of a rankings table, in COPY order. */
export const RANKING_COLUMNS = ["user_handle", "rank", "similar", "score"] as const;

/**
 * A rankings table without its key (added after the rows are loaded: one index build is faster
 * than maintaining it row by row). `similar` is a reserved word in Postgres, so every column is quoted.
 */
export function rankingsDDL(table: string): string {
  return `CREATE TABLE ${quoteIdent(table)} (
  "user_handle" text NOT NULL,
  "rank" integer NOT NULL,
  "similar" text NOT NULL,
  "score" double precision NOT NULL
)`;
}

/** A `recsys_runs` row as read back (timestamps as ISO strings, like SQLite's). */
export function toRunRow(r: Record<string, unknown>): RunRow {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
  return {
    id: Number(r.id),
    results_table: String(r.results_table),
    method: String(r.method),
    params: r.params as Record<string, unknown>,
    input: r.input,
    users_ranked: Number(r.users_ranked),
    rows_written: Number(r.rows_written),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    stages: r.stages as Record<string, number>,
  };
}
