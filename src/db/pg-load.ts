/**
 * Reading the ranking methods' input from the four Postgres tables, written by `recsys ingest` or
 * owned by the platform (see the README's "Postgres" section for the columns read).
 *
 * All four tables are read in one REPEATABLE READ transaction, so they come from one snapshot even
 * if an ingest commits meanwhile. Rows come in the tables' physical order, which for tables that
 * `recsys ingest` wrote is file order (COPY appends), so the fingerprint and every sum over rows
 * are those of SQLite on the same files; synchronized scans are turned off so a scan always starts
 * at the first block. Rows are fetched through a cursor in batches: memory holds the columns, never
 * the whole result as row objects.
 */
import type { SQL } from "bun";
import type { InputColumns } from "../dataset.ts";
import { InputError, quoteValue } from "../read/errors.ts";
import { SCHEMA, TABLE_NAMES, type ColumnSpec, type TableName } from "../read/schema.ts";
import { MissingTablesError } from "./store.ts";

/** Rows per FETCH. */
const BATCH = 65_536;

/** The columns of `table` the methods read (a subset of the schema's, in schema order). */
const READ: { [N in TableName]: readonly (keyof InputColumns[N] & string)[] } = {
  user_interests: ["user_handle", "interest_tag"],
  user_assessment_scores: ["user_handle", "assessment_tag", "user_assessment_score"],
  user_course_views: ["user_handle", "course_id", "level", "view_time_seconds"],
  course_tags: ["course_id", "course_tags"],
};

/** Columns of one table as read: strings, or numbers. */
type Columns = Record<string, string[] | Float64Array>;

/**
 * Loads the method columns of the four input tables in one snapshot.
 * @throws {MissingTablesError} naming the tables that are not there.
 * @throws {InputError} for a NULL, an empty handle or a negative number in a column read.
 */
export async function loadColumns(sql: SQL): Promise<InputColumns> {
  return sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
    const present = new Set(
      (await tx`SELECT name FROM unnest(${[...TABLE_NAMES]}::text[]) AS name WHERE to_regclass(quote_ident(name)) IS NOT NULL`).map(
        (r: { name: string }) => r.name,
      ),
    );
    const missing = TABLE_NAMES.filter((t) => !present.has(t));
    if (missing.length) throw new MissingTablesError(missing);
    await tx`SET LOCAL synchronize_seqscans = off`;
    const out: Partial<Record<TableName, Columns>> = {};
    for (const table of TABLE_NAMES) out[table] = await readTable(tx, table);
    return out as unknown as InputColumns;
  });
}

async function readTable(tx: SQL, table: TableName): Promise<Columns> {
  const names = READ[table];
  const specs: ColumnSpec[] = names.map((n) => SCHEMA[table].columns.find((c) => c.name === n)!);
  // Casts let a platform's own column types through (an integer user id, a numeric score).
  // Qualified: a bare "course_tags" in table course_tags would be the whole row when the column is missing.
  const select = specs.map((c) => `t."${c.name}"::${c.kind === "nonNegativeNumber" ? "float8" : "text"}`).join(", ");
  await tx.unsafe(`DECLARE recsys_load NO SCROLL CURSOR FOR SELECT ${select} FROM "${table}" t`).catch((e: { errno?: string; message?: string }) => {
    if (e?.errno === "42703") {
      throw new InputError({ file: `Postgres table ${table}`, expected: `columns ${names.join(", ")} (see the README's Postgres section)`, got: String(e.message) });
    }
    throw e;
  });
  const strings: string[][] = specs.map(() => []);
  const numbers: number[][] = specs.map(() => []);
  let row = 0;
  for (;;) {
    const batch = (await tx.unsafe(`FETCH ${BATCH} FROM recsys_load`).values()) as (string | number | null)[][];
    for (const r of batch) {
      row++;
      for (let j = 0; j < specs.length; j++) {
        const v = r[j];
        const spec = specs[j];
        const bad = (expected: string, got: string) => {
          throw new InputError({ file: `Postgres table ${table}`, column: spec.name, expected, got: `${got} (row ${row} in scan order)` });
        };
        if (v === null) bad("a value in every row", "NULL");
        if (spec.kind === "nonNegativeNumber") {
          if (!((v as number) >= 0) || !Number.isFinite(v)) bad("a non-negative number", String(v));
          numbers[j].push(v as number);
        } else {
          if (spec.kind === "handle" && v === "") bad(`a non-empty ${spec.noun ?? spec.name}`, quoteValue(""));
          strings[j].push(v as string);
        }
      }
    }
    if (batch.length < BATCH) break;
  }
  await tx.unsafe("CLOSE recsys_load");
  return Object.fromEntries(specs.map((c, j) => [c.name, c.kind === "nonNegativeNumber" ? Float64Array.from(numbers[j]) : strings[j]]));
}
