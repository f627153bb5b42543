/**
 * Reading the ranking methods' input back from the SQLite tables written by `recsys ingest`.
 */
import type { Database } from "bun:sqlite";
import type { InputColumns } from "../dataset.ts";
import { TABLE_NAMES, type TableName } from "../read/schema.ts";
import { latestIngest } from "./ingest.ts";
import { tableExists } from "./open.ts";
import { MissingTablesError } from "./store.ts";

type Row = (string | number)[];

/** Rows of `columns` of `table`, in file (rowid) order. Names come from code, never from input. */
function select<N extends TableName>(db: Database, table: N, columns: readonly (keyof InputColumns[N] & string)[]): Row[] {
  return db.query(`SELECT ${columns.join(", ")} FROM ${table} ORDER BY rowid`).values() as Row[];
}

function strings(rows: Row[], j: number): string[] {
  const out = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = String(rows[i][j]);
  return out;
}

function numbers(rows: Row[], j: number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = Number(rows[i][j]);
  return out;
}

/** The input columns and which recorded ingest they are. */
export interface LoadedInput {
  columns: InputColumns;
  /** Id of the latest recorded ingest when they were read (null if none is recorded). */
  ingest: number | null;
}

/**
 * Loads the columns the ranking methods read from the four input tables, rows in file order, and
 * the id of the latest recorded ingest, all in one read transaction: one WAL snapshot, so the four
 * tables and the id are from the same ingest even if another one commits meanwhile.
 *
 * @throws {MissingTablesError} naming the missing tables and how to create them.
 */
export function loadInput(db: Database): LoadedInput {
  return db.transaction((): LoadedInput => {
    const missing = TABLE_NAMES.filter((name) => !tableExists(db, name));
    if (missing.length) throw new MissingTablesError(missing);
    const ui = select(db, "user_interests", ["user_handle", "interest_tag"]);
    const ua = select(db, "user_assessment_scores", ["user_handle", "assessment_tag", "user_assessment_score"]);
    const uv = select(db, "user_course_views", ["user_handle", "course_id", "level", "view_time_seconds"]);
    const ct = select(db, "course_tags", ["course_id", "course_tags"]);
    const columns: InputColumns = {
      user_interests: { user_handle: strings(ui, 0), interest_tag: strings(ui, 1) },
      user_assessment_scores: { user_handle: strings(ua, 0), assessment_tag: strings(ua, 1), user_assessment_score: numbers(ua, 2) },
      user_course_views: { user_handle: strings(uv, 0), course_id: strings(uv, 1), level: strings(uv, 2), view_time_seconds: numbers(uv, 3) },
      course_tags: { course_id: strings(ct, 0), course_tags: strings(ct, 1) },
    };
    return { columns, ingest: latestIngest(db) };
  })();
}

/** {@link loadInput}'s columns alone. */
export function loadColumns(db: Database): InputColumns {
  return loadInput(db).columns;
}
