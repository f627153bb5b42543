/**
 * Storing the four input tables in SQLite: all of them replaced in one transaction, so a database
 * never holds a mix of old and new input and a failed write leaves the file exactly as it was.
 */
import type { Database } from "bun:sqlite";
import { rowCount, SCHEMA, sqlType, type AnyTable } from "../read/schema.ts";
import type { IngestSummary } from "../read/summary.ts";
import { tableExists } from "./open.ts";
import { TABLE_NAMES, type ProgressFn, type TableName, type Tables } from "../types.ts";

/** One row per successful ingest: when, from where, how many rows. */
export const INGESTS_TABLE = "recsys_ingests";

const INGESTS_DDL = `CREATE TABLE IF NOT EXISTS ${INGESTS_TABLE} (
  id INTEGER PRIMARY KEY,
  ingested_at TEXT NOT NULL,
  source_dir TEXT,
  rows TEXT NOT NULL,
  summary TEXT NOT NULL,
  input TEXT
)`;

/** Creates the ingests table, adding the `input` column to one made by an older version. */
function ensureIngestsTable(db: Database): void {
  db.exec(INGESTS_DDL);
  const columns = db.query(`PRAGMA table_info(${INGESTS_TABLE})`).all() as { name: string }[];
  if (!columns.some((c) => c.name === "input")) db.exec(`ALTER TABLE ${INGESTS_TABLE} ADD COLUMN input TEXT`);
}

/** The input fingerprint recorded by the latest ingest, or null. */
export function lastIngestInput(db: Database): { rows: Record<string, number>; sha256: string } | null {
  if (!tableExists(db, INGESTS_TABLE)) return null;
  const columns = db.query(`PRAGMA table_info(${INGESTS_TABLE})`).all() as { name: string }[];
  if (!columns.some((c) => c.name === "input")) return null;
  const r = db.query(`SELECT input FROM ${INGESTS_TABLE} ORDER BY id DESC LIMIT 1`).get() as { input: string | null } | null;
  return r?.input ? JSON.parse(r.input) : null;
}

/** Rows per INSERT statement: fewer round trips into SQLite, well under its 32,766-parameter limit. */
const BATCH = 32;

function tableDDL(name: TableName): string {
  const columns = SCHEMA[name].columns.map((c) => `  ${c.name} ${sqlType(c.kind)} NOT NULL`);
  return `CREATE TABLE ${name} (\n${columns.join(",\n")}\n)`;
}

function insertSQL(name: TableName, rows: number): string {
  const width = SCHEMA[name].columns.length;
  const tuple = `(${new Array(width).fill("?").join(", ")})`;
  const names = SCHEMA[name].columns.map((c) => c.name).join(", ");
  return `INSERT INTO ${name} (${names}) VALUES ${new Array(rows).fill(tuple).join(", ")}`;
}


export interface WriteOptions {
  /** Recorded in the `recsys_ingests` row. */
  summary?: IngestSummary;
  /** Progress as stage `write`, rows done of all rows. */
  onProgress?: ProgressFn;
}

/**
 * Replaces the four input tables in `db` with `tables`, in one write transaction: the tables
 * are dropped, created and filled and an ingest row recorded, or (on any error) nothing changes.
 * Rows keep their file order (rowid order). There are no secondary indexes: the methods read
 * whole tables in one scan, and building indexes nobody queries would cost a fifth of the write
 * (add your own for ad-hoc lookups; a re-ingest drops them with the tables).
 */
export function writeTables(db: Database, tables: Tables, options: WriteOptions = {}): void {
  const total = TABLE_NAMES.reduce((n, name) => n + rowCount(tables[name], name), 0);
  let done = 0;
  // SQLite's default page cache serves these appends as well as a large one: pages it spills
  // go to the WAL during the transaction instead of all at once in the commit.
  db.transaction(() => {
    for (const name of TABLE_NAMES) {
      db.exec(`DROP TABLE IF EXISTS ${name}`);
      db.exec(tableDDL(name));
      const table: AnyTable = tables[name];
      const columns = SCHEMA[name].columns.map((c) => table[c.name]);
      const n = rowCount(table, name);
      const width = columns.length;
      const many = db.prepare(insertSQL(name, BATCH));
      const one = db.prepare(insertSQL(name, 1));
      const args: (string | number)[] = new Array(BATCH * width);
      let i = 0;
      for (; i + BATCH <= n; i += BATCH) {
        let k = 0;
        for (let r = i; r < i + BATCH; r++) for (let j = 0; j < width; j++) args[k++] = columns[j][r];
        many.run(...args);
        if ((i & 0x3fff) === 0) options.onProgress?.("write", done + i, total);
      }
      const last: (string | number)[] = new Array(width);
      for (; i < n; i++) {
        for (let j = 0; j < width; j++) last[j] = columns[j][i];
        one.run(...last);
      }
      many.finalize();
      one.finalize();
      done += n;
      options.onProgress?.("write", done, total);
    }
    ensureIngestsTable(db);
    const rows = Object.fromEntries(TABLE_NAMES.map((name) => [name, rowCount(tables[name], name)]));
    db.query(`INSERT INTO ${INGESTS_TABLE} (ingested_at, source_dir, rows, summary, input) VALUES (?, ?, ?, ?, ?)`).run(
      new Date().toISOString(),
      options.summary?.dir ?? null,
      JSON.stringify(rows),
      JSON.stringify(options.summary?.tables ?? null),
      options.summary?.input ? JSON.stringify(options.summary.input) : null,
    );
  }).immediate();
}
