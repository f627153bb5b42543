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

/** A string column being dictionary-encoded row by row (first-seen order; fromEncoded sorts). */
class StringColumn {
  private readonly index = new Map<string, number>();
  readonly dict: string[] = [];
  codes: Int32Array;
  private last: string | undefined;
  private lastCode = -1;

  constructor(capacity: number) {
    this.codes = new Int32Array(capacity);
  }

  set(at: number, raw: unknown): void {
    // TEXT columns come back as strings; String() keeps what a number in one would have read as.
    const v = typeof raw === "string" ? raw : String(raw);
    // Tables list a user's rows together: a repeat skips the hash lookup.
    if (v !== this.last) {
      let c = this.index.get(v);
      if (c === undefined) {
        c = this.dict.length;
        this.index.set(v, c);
        this.dict.push(v);
      }
      this.last = v;
      this.lastCode = c;
    }
    if (at === this.codes.length) this.codes = grow(this.codes, at + 1);
    this.codes[at] = this.lastCode;
  }

  done(rows: number): EncodedStrings {
    return { dict: this.dict, codes: fit(this.codes, rows) };
  }
}

class NumberColumn {
  values: Float64Array;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  set(at: number, raw: unknown): void {
    if (at === this.values.length) this.values = grow(this.values, at + 1);
    this.values[at] = Number(raw);
  }

  done(rows: number): Float64Array {
    return fit(this.values, rows);
  }
}

function grow<T extends Int32Array | Float64Array>(a: T, need: number): T {
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2, 1024));
  next.set(a);
  return next;
}

/** Exactly `rows` long (a copy only when the capacity guess was too large). */
function fit<T extends Int32Array | Float64Array>(a: T, rows: number): T {
  return a.length === rows ? a : (a.slice(0, rows) as T);
}

type Kinds = Record<string, "string" | "number">;
type Read<K extends Kinds> = { [C in keyof K]: K[C] extends "number" ? Float64Array : EncodedStrings };

/**
 * Columns `kinds` of `table`, rows in rowid (file) order, read `chunkRows` at a time by rowid
 * ranges (one prepared statement; each chunk resumes after the last rowid seen, so no OFFSET
 * rescans). Names come from code, never from input.
 */
function readTable<K extends Kinds>(db: Database, table: TableName, kinds: K, chunkRows: number): Read<K> {
  const names = Object.keys(kinds);
  // max(rowid) is one b-tree descent and, for the tables ingest writes (rowids 1..n), the row count
  // exactly: the columns are allocated once, not grown by doubling (which would double the peak).
  const max = Number((db.query(`SELECT max(rowid) FROM ${table}`).values()[0]?.[0] as number | null) ?? 0);
  const capacity = max > 0 && max < 2 ** 31 ? max : 0;
  const columns = names.map((n) => (kinds[n] === "number" ? new NumberColumn(capacity) : new StringColumn(capacity)));
  const stmt = db.prepare(`SELECT rowid, ${names.join(", ")} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${chunkRows}`);
  let rows = 0;
  try {
    let after: number | bigint = MIN_ROWID;
    for (;;) {
      const chunk = stmt.values(after) as unknown[][];
      for (const row of chunk) {
        for (let j = 0; j < columns.length; j++) columns[j].set(rows, row[j + 1]);
        rows++;
      }
      if (chunk.length < chunkRows) break;
      after = chunk[chunk.length - 1][0] as number;
    }
  } finally {
    stmt.finalize();
  }
  return Object.fromEntries(names.map((n, j) => [n, columns[j].done(rows)])) as Read<K>;
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
    const columns: EncodedColumns = {
      user_interests: readTable(db, "user_interests", { user_handle: "string", interest_tag: "string" }, chunkRows),
      user_assessment_scores: readTable(
        db,
        "user_assessment_scores",
        { user_handle: "string", assessment_tag: "string", user_assessment_score: "number" },
        chunkRows,
      ),
      user_course_views: readTable(
        db,
        "user_course_views",
        { user_handle: "string", course_id: "string", level: "string", view_time_seconds: "number" },
        chunkRows,
      ),
      course_tags: readTable(db, "course_tags", { course_id: "string", course_tags: "string" }, chunkRows),
    };
    return { columns, ingest: latestIngest(db) };
  })();
}
