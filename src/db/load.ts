/**
 * Reading the ranking methods' input back from the SQLite tables written by `recsys ingest`.
 *
 * Each table is read in rowid-ordered chunks and its string columns are dictionary-encoded as the
 * rows arrive (the CSV reader's form, {@link EncodedColumns}): memory holds the columns (one
 * Int32Array code per string cell, one copy of each distinct string), never the whole result as
 * row arrays of JS strings, which at 1M users (55M rows) peaked at several times the columns' size.
 */
import type { Database } from "bun:sqlite";
import type { EncodedColumns } from "../dataset.ts";
import type { EncodedStrings } from "../read/csv.ts";
import { columnBuilder, isNumberColumn, methodColumns, type NumberColumnBuilder, type StringColumnBuilder } from "./column-builders.ts";
import { TABLE_NAMES, type TableName } from "../read/schema.ts";
import { latestIngest } from "./ingest.ts";
import { tableExists } from "./open.ts";
import { MissingTablesError } from "./store.ts";

/**
 * Rows per SELECT: large enough that the per-statement cost vanishes, small enough that one chunk
 * of row arrays (tens of MB at most) is nothing beside the columns.
 */
export const LOAD_CHUNK_ROWS = 65536;

/** Smallest rowid SQLite allows: the first chunk's lower bound, whatever rowids a table uses. */
const MIN_ROWID = -9223372036854775808n;

/**
 * The method columns of `table` ({@link methodColumns}), rows in rowid (file) order, read
 * `chunkRows` at a time by rowid ranges (one prepared statement; each chunk resumes after the last
 * rowid seen, so no OFFSET rescans). Names come from the schema, never from input.
 */
function readTable(db: Database, table: TableName, chunkRows: number): Record<string, EncodedStrings | Float64Array> {
  const specs = methodColumns(table);
  // max(rowid) is one b-tree descent and, for the tables ingest writes (rowids 1..n), the row count
  // exactly: the columns are allocated once, not grown by doubling (which would double the peak).
  const max = Number((db.query(`SELECT max(rowid) FROM ${table}`).values()[0]?.[0] as number | null) ?? 0);
  const capacity = max > 0 && max < 2 ** 31 ? max : 0;
  const numeric = specs.map(isNumberColumn);
  const columns = specs.map((spec) => columnBuilder(spec, capacity));
  const stmt = db.prepare(`SELECT rowid, ${specs.map((c) => c.name).join(", ")} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${chunkRows}`);
  try {
    let after: number | bigint = MIN_ROWID;
    for (;;) {
      const chunk = stmt.values(after) as unknown[][];
      for (const row of chunk) {
        for (let j = 0; j < columns.length; j++) {
          const raw = row[j + 1];
          // TEXT columns come back as strings; String() keeps what a number stored in one reads as.
          if (numeric[j]) (columns[j] as NumberColumnBuilder).push(Number(raw));
          else (columns[j] as StringColumnBuilder).push(typeof raw === "string" ? raw : String(raw));
        }
      }
      if (chunk.length < chunkRows) break;
      after = chunk[chunk.length - 1][0] as number;
    }
  } finally {
    stmt.finalize();
  }
  return Object.fromEntries(specs.map((c, j) => [c.name, columns[j].done()]));
}

/** The input columns and which recorded ingest they are. */
export interface LoadedInput {
  columns: EncodedColumns;
  /** Id of the latest recorded ingest when they were read (null if none is recorded). */
  ingest: number | null;
}

/**
 * Loads the columns the ranking methods read from the four input tables, rows in file order,
 * string columns dictionary-encoded, and the id of the latest recorded ingest, all in one read
 * transaction: one WAL snapshot, so the four tables (every chunk of them) and the id are from the
 * same ingest even if another one commits meanwhile.
 *
 * @param chunkRows rows per SELECT (tests make it small to cross chunk boundaries).
 * @throws {MissingTablesError} naming the missing tables and how to create them.
 */
export function loadInput(db: Database, chunkRows = LOAD_CHUNK_ROWS): LoadedInput {
  if (!(Number.isInteger(chunkRows) && chunkRows > 0)) throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  return db.transaction((): LoadedInput => {
    const missing = TABLE_NAMES.filter((name) => !tableExists(db, name));
    if (missing.length) throw new MissingTablesError(missing);
    const columns = Object.fromEntries(TABLE_NAMES.map((table) => [table, readTable(db, table, chunkRows)])) as unknown as EncodedColumns;
    return { columns, ingest: latestIngest(db) };
  })();
}
