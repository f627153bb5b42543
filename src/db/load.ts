/**
 * Reading the ranking methods' input back from the SQLite tables written by `recsys ingest`.
 */
import type { Database } from "bun:sqlite";
import type { InputColumns } from "../dataset.ts";
import { SCHEMA, TABLE_NAMES, checkedTable, type TableName } from "../read/schema.ts";
import { tableExists } from "./open.ts";
import { MissingTablesError } from "./store.ts";

/** The columns the methods read, per table (see {@link InputColumns}). */
const METHOD_COLUMNS = {
  user_interests: ["user_handle", "interest_tag"],
  user_assessment_scores: ["user_handle", "assessment_tag", "user_assessment_score"],
  user_course_views: ["user_handle", "course_id", "level", "view_time_seconds"],
  course_tags: ["course_id", "course_tags"],
} as const satisfies { [N in TableName]: readonly (keyof InputColumns[N])[] };

function readColumns(db: Database, table: TableName): Record<string, string[] | Float64Array> {
  const wanted: readonly string[] = METHOD_COLUMNS[table];
  // Names come from the schema, never from input. Columns the methods do not read come back as
  // empty strings (one shared value), so the result is a whole table of the schema.
  const columns = SCHEMA[table].columns;
  const select = columns.map((c) => (wanted.includes(c.name) ? c.name : "''"));
  const rows = db.query(`SELECT ${select.join(", ")} FROM ${table} ORDER BY rowid`).values() as (string | number)[][];
  const out: Record<string, string[] | Float64Array> = {};
  columns.forEach((c, j) => {
    if (c.kind === "nonNegativeNumber") {
      const col = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) col[i] = Number(rows[i][j]);
      out[c.name] = col;
    } else {
      const col = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) col[i] = String(rows[i][j]);
      out[c.name] = col;
    }
  });
  return out;
}

/**
 * Loads the columns the ranking methods read from the four input tables, rows in file order, in
 * one read transaction (all four from the same ingest, even if another one commits meanwhile).
 *
 * @throws {MissingTablesError} naming the missing tables and how to create them.
 */
export function loadColumns(db: Database): InputColumns {
  const missing = TABLE_NAMES.filter((name) => !tableExists(db, name));
  if (missing.length) throw new MissingTablesError(missing);
  return db.transaction(() => ({
    user_interests: checkedTable("user_interests", readColumns(db, "user_interests")),
    user_assessment_scores: checkedTable("user_assessment_scores", readColumns(db, "user_assessment_scores")),
    user_course_views: checkedTable("user_course_views", readColumns(db, "user_course_views")),
    course_tags: checkedTable("course_tags", readColumns(db, "course_tags")),
  }))();
}
