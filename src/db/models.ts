/**
 * The SQLite models table: what a run's method needs to answer queries later (`Model.state`),
 * keyed by the run. Written in the rankings' own transaction, so a rankings table and the model
 * that produced it are replaced together; a run's model replaces the models of earlier runs of
 * the same rankings table (only the served run's model is ever loaded).
 *
 * One row per array: Float64Array bytes as a BLOB (little-endian, as every platform Bun runs on),
 * and the model's small JSON facts as one `meta` row.
 */
import type { Database } from "bun:sqlite";
import type { ModelState } from "../methods/method.ts";
import { tableExists } from "./open.ts";
import { RUNS_TABLE } from "./rankings.ts";

export const MODELS_TABLE = "recsys_models";

const MODELS_DDL = `CREATE TABLE IF NOT EXISTS ${MODELS_TABLE} (
  run_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('f64', 'json')),
  value BLOB NOT NULL,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID`;

/** Stores run `runId`'s model state and drops the models of earlier runs of `table` (inside the caller's transaction). */
export function saveModel(db: Database, runId: number, table: string, state: ModelState): void {
  db.exec(MODELS_DDL);
  db.query(`DELETE FROM ${MODELS_TABLE} WHERE run_id IN (SELECT id FROM ${RUNS_TABLE} WHERE results_table = ? AND id <> ?)`).run(table, runId);
  const insert = db.prepare(`INSERT OR REPLACE INTO ${MODELS_TABLE} (run_id, name, kind, value) VALUES (?, ?, ?, ?)`);
  for (const [name, array] of Object.entries(state.arrays)) insert.run(runId, name, "f64", new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  insert.run(runId, "meta", "json", JSON.stringify(state.meta));
  insert.finalize();
}

/** Run `runId`'s model state, or null if none was stored (a run of an older version, or a method that keeps none). */
export function loadModel(db: Database, runId: number): ModelState | null {
  if (!tableExists(db, MODELS_TABLE)) return null;
  const rows = db.query(`SELECT name, kind, value FROM ${MODELS_TABLE} WHERE run_id = ?`).all(runId) as { name: string; kind: string; value: Uint8Array | string }[];
  if (rows.length === 0) return null;
  const state: ModelState = { arrays: {}, meta: {} };
  for (const r of rows) {
    if (r.kind === "json") state.meta = JSON.parse(typeof r.value === "string" ? r.value : new TextDecoder().decode(r.value));
    else {
      const bytes = r.value as Uint8Array;
      // Copy into an aligned buffer of its own (a BLOB's bytes need not be 8-byte aligned).
      state.arrays[r.name] = new Float64Array(bytes.slice().buffer, 0, bytes.byteLength / 8);
    }
  }
  return state;
}
