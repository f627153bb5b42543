/**
 * Reading the four input tables: from a directory of CSV files, or from text/streams.
 */
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { TABLE_NAMES, type ProgressFn, type TableName, type Tables } from "../types.ts";
import { parseTable, type CsvSource } from "./csv.ts";
import { InputError } from "./errors.ts";
import { SCHEMA } from "./schema.ts";
import type { IngestSummary, TableSummary } from "./summary.ts";

export { parseTable, type CsvSource, type ParsedTable, type ParseTableOptions } from "./csv.ts";
export { InputError, type InputErrorDetails } from "./errors.ts";
export { SCHEMA, sqlType, type ColumnKind, type ColumnSpec, type TableSpec } from "./schema.ts";
export { formatSummary, type IngestSummary, type TableSummary } from "./summary.ts";

export interface ReadOptions {
  /** Progress as stage `read`, bytes done of all four files' bytes. */
  onProgress?: ProgressFn;
}

/** The tables and what reading them did. */
export interface ReadResult {
  tables: Tables;
  summary: IngestSummary;
}

function fileSize(path: string): number | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads and validates `user_interests.csv`, `user_assessment_scores.csv`,
 * `user_course_views.csv` and `course_tags.csv` from `dir`, streaming each through csv-parse.
 * All four must be present; every file is checked completely before this returns.
 *
 * @throws {InputError} for a missing file or column, a malformed row or value, naming the file,
 *   line, column and what was expected.
 */
export async function readTables(dir: string, options: ReadOptions = {}): Promise<ReadResult> {
  const root = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) {
    throw new InputError({
      file: dir,
      path: root,
      expected: `a directory holding ${TABLE_NAMES.map((t) => SCHEMA[t].file).join(", ")}`,
      got: "no such directory",
    });
  }
  // Every file is looked up before any is parsed, so a missing one fails at once.
  const sizes = new Map<TableName, number>();
  for (const name of TABLE_NAMES) {
    const path = join(root, SCHEMA[name].file);
    const size = fileSize(path);
    if (size === undefined) throw new InputError({ file: SCHEMA[name].file, path, expected: `a file ${path}`, got: "no such file" });
    sizes.set(name, size);
  }
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  let before = 0;
  const tables = {} as Record<TableName, unknown>;
  const summaries: TableSummary[] = [];
  for (const name of TABLE_NAMES) {
    const path = join(root, SCHEMA[name].file);
    const offset = before;
    const parsed = await parseTable(name, Bun.file(path).stream(), {
      path,
      onBytes: options.onProgress && ((bytes) => options.onProgress!("read", offset + bytes, total)),
    });
    tables[name] = parsed.table;
    summaries.push(parsed.summary);
    before += sizes.get(name)!;
  }
  return { tables: tables as unknown as Tables, summary: { dir: root, tables: summaries } };
}

/**
 * Parses the four tables from in-memory text, bytes or streams (the library form of
 * {@link readTables}). Names in messages are the usual file names.
 */
export async function parseTables(sources: Record<TableName, CsvSource>): Promise<ReadResult> {
  const tables = {} as Record<TableName, unknown>;
  const summaries: TableSummary[] = [];
  for (const name of TABLE_NAMES) {
    const parsed = await parseTable(name, sources[name]);
    tables[name] = parsed.table;
    summaries.push(parsed.summary);
  }
  return { tables: tables as unknown as Tables, summary: { tables: summaries } };
}
