/**
 * Reading the ranking methods' input back from the database written by `recsys ingest`.
 */
import type { Database } from "bun:sqlite";
import { TABLE_NAMES, type Dataset, type TableName } from "../types.ts";
import { tableExists } from "./open.ts";

/** The input tables are not (all) in the database yet. */
export class MissingTablesError extends Error {
  override name = "MissingTablesError";
  constructor(readonly tables: TableName[]) {
    super(
      `the database has no ${tables.join(", ")} table${tables.length > 1 ? "s" : ""}: run \`recsys ingest --data-dir DIR\` first (or pass --data-dir to the pipeline)`,
    );
  }
}

/** The columns each method input needs, per table (see {@link Dataset}). */
const DATASET_COLUMNS: { [N in TableName]: readonly (keyof Dataset[N] & string)[] } = {
  user_interests: ["user_handle", "interest_tag"],
  user_assessment_scores: ["user_handle", "assessment_tag", "user_assessment_score"],
  user_course_views: ["user_handle", "course_id", "level", "view_time_seconds"],
  course_tags: ["course_id", "course_tags"],
};

const NUMERIC = new Set(["user_assessment_score", "view_time_seconds"]);

function readColumns(db: Database, table: TableName, columns: readonly string[]): Record<string, string[] | Float64Array> {
  // Names come from the constant above, never from input.
  const rows = db.query(`SELECT ${columns.join(", ")} FROM ${table} ORDER BY rowid`).values() as (string | number)[][];
  const out: Record<string, string[] | Float64Array> = {};
  columns.forEach((name, j) => {
    if (NUMERIC.has(name)) {
      const col = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) col[i] = rows[i][j] as number;
      out[name] = col;
    } else {
      const col = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) col[i] = rows[i][j] as string;
      out[name] = col;
    }
  });
  return out;
}

/**
 * Loads the columns the ranking methods read from the four input tables, rows in file order.
 *
 * @throws {MissingTablesError} naming the missing tables and how to create them.
 */
export function loadDataset(db: Database): Dataset {
  const missing = TABLE_NAMES.filter((name) => !tableExists(db, name));
  if (missing.length) throw new MissingTablesError(missing);
  const dataset = {} as Record<TableName, unknown>;
  db.transaction(() => {
    // One read transaction: all four tables from the same ingest, even if another one commits meanwhile.
    for (const name of TABLE_NAMES) dataset[name] = readColumns(db, name, DATASET_COLUMNS[name]);
  })();
  return dataset as unknown as Dataset;
}
