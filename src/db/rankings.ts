import type { Database } from "bun:sqlite";
import { compareBytes, compareHandles } from "../handles.ts";
import { validateTableName } from "../names.ts";
import type { Rankings } from "../types.ts";
import { tableExists } from "./open.ts";

/** One served neighbour: the REST API's element shape. */
export interface Neighbor {
  similar: string;
  score: number;
}

/** What the runs table records about one pipeline run. */
export interface RunRecord {
  method: string;
  /** Method parameters as given (JSON-serializable). */
  params: Record<string, unknown>;
  /** Input fingerprint (row counts and hash), see `fingerprintDataset`. */
  input: unknown;
  startedAt: Date;
  /** Seconds per stage, in order of execution; `store` (this write) is added. */
  stages: Record<string, number>;
}

/** A row of the runs table as read back. */
export interface RunRow {
  id: number;
  results_table: string;
  method: string;
  params: Record<string, unknown>;
  input: unknown;
  users_ranked: number;
  rows_written: number;
  started_at: string;
  finished_at: string;
  stages: Record<string, number>;
}

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

function rankingsDDL(table: string): string {
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
  const scratch = `${table}__recsys_next`;
  const { users, offsets, neighbors, scores } = rankings;
  // Insert in primary-key (byte) order: B-tree appends instead of random inserts.
  const order = Array.from({ length: users.length }, (_, i) => i).sort((a, b) => compareBytes(users[a], users[b]));
  let written = 0;
  let ranked = 0;
  let row!: RunRow;
  const t0 = performance.now();
  db.transaction(() => {
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
    db.exec(`DROP TABLE IF EXISTS "${table}"`);
    db.exec(`ALTER TABLE "${scratch}" RENAME TO "${table}"`);
    const finished = new Date();
    const stages = { ...run.stages, store: Math.round(performance.now() - t0) / 1000 };
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
        ranked,
        written,
        run.startedAt.toISOString(),
        finished.toISOString(),
        JSON.stringify(stages),
      ) as { id: number };
    row = {
      id: id.id,
      results_table: table,
      method: run.method,
      params: run.params,
      input: run.input,
      users_ranked: ranked,
      rows_written: written,
      started_at: run.startedAt.toISOString(),
      finished_at: finished.toISOString(),
      stages,
    };
  }).immediate();
  return row;
}

/** The most recent run that wrote `table`, or null if none is recorded. */
export function lastRun(db: Database, table: string): RunRow | null {
  validateTableName(table);
  if (!tableExists(db, RUNS_TABLE)) return null;
  const r = db
    .query(`SELECT * FROM ${RUNS_TABLE} WHERE results_table = ? ORDER BY id DESC LIMIT 1`)
    .get(table) as Record<string, unknown> | null;
  if (!r) return null;
  return {
    ...(r as unknown as RunRow),
    params: JSON.parse(r.params as string),
    input: JSON.parse(r.input as string),
    stages: JSON.parse(r.stages as string),
  };
}

/**
 * Top `n` neighbours of `handle` from the rankings table, best first; an empty array if the
 * user has no rows. Scores are returned as stored (rounding is the API's business).
 */
export function readNeighbors(db: Database, table: string, handle: string, n: number): Neighbor[] {
  validateTableName(table);
  return db
    .query(`SELECT similar, score FROM "${table}" WHERE user_handle = ? ORDER BY rank LIMIT ?`)
    .all(handle, n) as Neighbor[];
}

/** Largest stored rank (the table's top-n), 0 if empty. */
export function storedTopN(db: Database, table: string): number {
  validateTableName(table);
  const r = db.query(`SELECT MAX(rank) AS n FROM "${table}"`).get() as { n: number | null };
  return r.n ?? 0;
}

/** Reads a whole rankings table back into {@link Rankings} form (users that have rows). */
export function readRankings(db: Database, table: string): Rankings {
  validateTableName(table);
  const rows = db.query(`SELECT user_handle, rank, similar, score FROM "${table}"`).values() as [string, number, string, number][];
  const byUser = new Map<string, [number, string, number][]>();
  const all = new Set<string>();
  for (const [u, rank, similar, score] of rows) {
    let list = byUser.get(u);
    if (!list) byUser.set(u, (list = []));
    list.push([rank, similar, score]);
    all.add(u);
    all.add(similar);
  }
  const users = [...all].sort(compareHandles);
  const index = new Map(users.map((u, i) => [u, i] as const));
  const offsets = new Int32Array(users.length + 1);
  for (let i = 0; i < users.length; i++) offsets[i + 1] = offsets[i] + (byUser.get(users[i])?.length ?? 0);
  const neighbors = new Int32Array(rows.length);
  const scores = new Float64Array(rows.length);
  for (let i = 0; i < users.length; i++) {
    const list = byUser.get(users[i]);
    if (!list) continue;
    list.sort((a, b) => a[0] - b[0]);
    for (let k = 0; k < list.length; k++) {
      neighbors[offsets[i] + k] = index.get(list[k][1])!;
      scores[offsets[i] + k] = list[k][2];
    }
  }
  return { users, offsets, neighbors, scores };
}

