/**
 * The SQLite rankings tables and the runs table: the atomic swap and the run records.
 */
import type { Database } from "bun:sqlite";
import { compareBytes } from "../handles.ts";
import { InvalidTableNameError, SCRATCH_MARK, validateTableName } from "../names.ts";
import type { Rankings } from "../types.ts";
import { tableExists } from "./open.ts";
import type { RunRecord, RunRow } from "./store.ts";

export const RUNS_TABLE = "recsys_runs";

const RUNS_DDL = `CREATE TABLE IF NOT EXISTS ${RUNS_TABLE} (
  id INTEGER PRIMARY KEY,
  results_table TEXT NOT NULL,
  method TEXT NOT NULL,
  params TEXT NOT NULL,
  input TEXT NOT NULL,
  users_ranked INTEGER NOT NULL,
  rows_written INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  stages TEXT NOT NULL
)`;

export function rankingsDDL(table: string): string {
  return `CREATE TABLE "${table}" (
  user_handle TEXT NOT NULL,
  rank INTEGER NOT NULL,
  similar TEXT NOT NULL,
  score REAL NOT NULL,
  PRIMARY KEY (user_handle, rank)
) WITHOUT ROWID`;
}

/**
 * Replaces the rankings table `table` with `rankings` and records the run, atomically.
 *
 * Everything happens in one write transaction: the rows go into a scratch table that is then
 * renamed over the old one. Under WAL, readers keep seeing the previous table until the commit
 * and the complete new one after it; a crash or SIGKILL before the commit leaves the previous
 * table untouched (the uncommitted WAL frames are discarded on the next open).
 */
export function writeRankings(db: Database, table: string, rankings: Rankings, run: RunRecord): RunRow {
  validateTableName(table);
  const scratch = `${table}${SCRATCH_MARK}next`;
  const { users, offsets, neighbors, scores } = rankings;
  // Insert in primary-key (byte) order: B-tree appends instead of random inserts.
  const order = Array.from({ length: users.length }, (_, i) => i).sort((a, b) => compareBytes(users[a], users[b]));
  let written = 0;
  let ranked = 0;
  let row!: RunRow;
  const t0 = performance.now();
  db.transaction(() => {
    // Checked first: DROP TABLE would fail on it only after every row was written.
    const other = db.query("SELECT type FROM sqlite_schema WHERE name = ? COLLATE NOCASE AND type <> 'table'").get(table) as { type: string } | null;
    if (other) throw new InvalidTableNameError(`cannot replace ${JSON.stringify(table)} with rankings: it is a ${other.type}, not a table; choose another results table`);
    db.exec(RUNS_DDL);
    db.exec(`DROP TABLE IF EXISTS "${scratch}"`);
    db.exec(rankingsDDL(scratch));
    const insert = db.prepare(`INSERT INTO "${scratch}" (user_handle, rank, similar, score) VALUES (?, ?, ?, ?)`);
    for (const u of order) {
      const start = offsets[u];
      const end = offsets[u + 1];
      if (end > start) ranked++;
      for (let k = start; k < end; k++) insert.run(users[u], k - start + 1, users[neighbors[k]], scores[k]);
      written += end - start;
    }
    insert.finalize();
    swapIn(db, scratch, table);
    const stages = { ...run.stages, store: Math.round(performance.now() - t0) / 1000 };
    row = recordRun(db, table, run, { ranked, written }, stages);
  }).immediate();
  return row;
}

/** Records a finished run (inside the caller's transaction); returns it as stored. */
export function recordRun(db: Database, table: string, run: RunRecord, counts: { ranked: number; written: number }, stages: Record<string, number>): RunRow {
  db.exec(RUNS_DDL);
  const finished = new Date();
  const id = db
    .query(
      `INSERT INTO ${RUNS_TABLE} (results_table, method, params, input, users_ranked, rows_written, started_at, finished_at, stages)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    )
    .get(
      table,
      run.method,
      JSON.stringify(run.params),
      JSON.stringify(run.input),
      counts.ranked,
      counts.written,
      run.startedAt.toISOString(),
      finished.toISOString(),
      JSON.stringify(stages),
    ) as { id: number };
  return {
    id: id.id,
    results_table: table,
    method: run.method,
    params: run.params,
    input: run.input,
    users_ranked: counts.ranked,
    rows_written: counts.written,
    started_at: run.startedAt.toISOString(),
    finished_at: finished.toISOString(),
    stages,
  };
}

/** Every recorded run, oldest first. */
export function allRuns(db: Database): RunRow[] {
  if (!tableExists(db, RUNS_TABLE)) return [];
  return (db.query(`SELECT * FROM ${RUNS_TABLE} ORDER BY id`).all() as Record<string, unknown>[]).map(runRow);
}

/**
 * The rankings tables that exist (tables with the rankings columns, scratch tables aside), each
 * with its latest recorded run, by name.
 */
export function rankingsTables(db: Database): { table: string; run: RunRow | null }[] {
  // `!` escapes LIKE's `_` wildcard: the bookkeeping tables and the swap's scratch tables are not rankings.
  const names = (db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'recsys!_%' ESCAPE '!' AND name NOT LIKE '%!_!_recsys!_next' ESCAPE '!' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const out: { table: string; run: RunRow | null }[] = [];
  for (const table of names) {
    const cols = (db.query(`PRAGMA table_info("${table.replace(/"/g, '""')}")`).all() as { name: string }[]).map((c) => c.name).join(",");
    if (cols !== "user_handle,rank,similar,score") continue;
    let run: RunRow | null = null;
    try {
      run = lastRun(db, table);
    } catch {
      // a table name recsys would not create: listed without a run
    }
    out.push({ table, run });
  }
  return out;
}

/**
 * Drops `table` and renames `scratch` to it (inside the caller's transaction).
 *
 * Users put views (and triggers elsewhere) over a rankings table. SQLite's default RENAME
 * rewrites and re-checks every view of the schema, so a view over the just-dropped table stopped
 * the swap ("error in view …: no such table"). With `legacy_alter_table` the rename touches only
 * the table itself; a view names its table by name, so once the rename commits it reads the new
 * table. (Replacing the rows in place, DELETE + INSERT, measured no faster — bench/swap.ts — and
 * would keep firing a user's triggers and updating their indexes row by row.)
 */
export function swapIn(db: Database, scratch: string, table: string): void {
  db.exec(`DROP TABLE IF EXISTS "${table}"`);
  db.exec("PRAGMA legacy_alter_table = ON");
  try {
    db.exec(`ALTER TABLE "${scratch}" RENAME TO "${table}"`);
  } finally {
    db.exec("PRAGMA legacy_alter_table = OFF");
  }
}

/** The most recent run that wrote `table`, or null if none is recorded. */
export function lastRun(db: Database, table: string): RunRow | null {
  validateTableName(table);
  if (!tableExists(db, RUNS_TABLE)) return null;
  const r = db
    .query(`SELECT * FROM ${RUNS_TABLE} WHERE results_table = ? ORDER BY id DESC LIMIT 1`)
    .get(table) as Record<string, unknown> | null;
  return r ? runRow(r) : null;
}

function runRow(r: Record<string, unknown>): RunRow {
  return {
    id: Number(r.id),
    results_table: String(r.results_table),
    method: String(r.method),
    params: JSON.parse(String(r.params)),
    input: JSON.parse(String(r.input)),
    users_ranked: Number(r.users_ranked),
    rows_written: Number(r.rows_written),
    started_at: String(r.started_at),
    finished_at: String(r.finished_at),
    stages: JSON.parse(String(r.stages)),
  };
}
