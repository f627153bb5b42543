/**
 * Postgres rankings tables and run records, inside a write transaction the store opened.
 *
 * Publishing is two steps so that other producers can reuse them: {@link stageRankings} fills a
 * scratch table (COPY, then the key), and {@link swapIn} replaces the served table by it. Postgres
 * DDL is transactional, so readers see the old table or the complete new one, and a killed run
 * (its transaction rolled back by the server) leaves the old one and no scratch table. The lock
 * that blocks readers is taken only by the DROP at the very end: queries wait milliseconds, then
 * resolve the name again and read the new table.
 */
import type { SQL } from "bun";
import { compareBytes } from "../handles.ts";
import { InvalidTableNameError, validateTableName } from "../names.ts";
import type { Rankings } from "../types.ts";
import { CHUNK_ROWS, copyIn, copyText } from "./pg-copy.ts";
import { quoteIdent, RANKING_COLUMNS, rankingsDDL, RUNS_DDL, RUNS_TABLE, toRunRow } from "./pg-schema.ts";
import type { RunRecord, RunRow } from "./store.ts";

/** Longest identifier Postgres keeps (NAMEDATALEN − 1 bytes); longer ones are silently truncated. */
const MAX_IDENTIFIER = 63;

/** The scratch table of a publication (one writer at a time holds the store's write lock). */
export const SCRATCH = "recsys_next";

/** {@link validateTableName}, and at most 63 bytes: Postgres would truncate a longer name. */
export function validatePgTableName(name: string): string {
  validateTableName(name);
  if (Buffer.byteLength(name) > MAX_IDENTIFIER) {
    throw new InvalidTableNameError(`invalid results table name ${JSON.stringify(name)}: Postgres table names are at most ${MAX_IDENTIFIER} characters`);
  }
  return name;
}

/** The name of a rankings table's key index (within Postgres's identifier length). */
function keyName(table: string): string {
  return `${table.slice(0, MAX_IDENTIFIER - 5)}_pkey`;
}

/** COPY text of the rankings, users in byte order of their handles (the key's order). */
function* rankingChunks(rankings: Rankings, order: readonly number[], counts: { ranked: number; written: number }): Generator<string, void, undefined> {
  const { users, offsets, neighbors, scores } = rankings;
  const names = users.map(copyText);
  let parts: string[] = [];
  let rows = 0;
  for (const u of order) {
    const start = offsets[u];
    const end = offsets[u + 1];
    if (end > start) counts.ranked++;
    const user = names[u];
    for (let k = start; k < end; k++) parts.push(`${user}\t${k - start + 1}\t${names[neighbors[k]]}\t${scores[k]}\n`);
    rows += end - start;
    counts.written += end - start;
    if (rows >= CHUNK_ROWS) {
      yield parts.join("");
      parts = [];
      rows = 0;
    }
  }
  if (parts.length) yield parts.join("");
}

/**
 * Creates `scratch` and fills it with `rankings` (COPY, then the primary key and statistics).
 * Returns users ranked and rows written.
 */
export async function stageRankings(tx: SQL, scratch: string, rankings: Rankings): Promise<{ ranked: number; written: number }> {
  const { users } = rankings;
  // Rows in key order: the index builds from sorted input and each user's rows share a page.
  const order = Array.from({ length: users.length }, (_, i) => i).sort((a, b) => compareBytes(users[a], users[b]));
  const counts = { ranked: 0, written: 0 };
  await tx.unsafe(`DROP TABLE IF EXISTS ${quoteIdent(scratch)}`);
  await tx.unsafe(rankingsDDL(scratch));
  await copyIn(tx, quoteIdent(scratch), RANKING_COLUMNS, rankingChunks(rankings, order, counts));
  await tx.unsafe(`ALTER TABLE ${quoteIdent(scratch)} ADD CONSTRAINT ${quoteIdent(`${scratch}_pkey`)} PRIMARY KEY ("user_handle", "rank")`);
  // Statistics now, so the first lookups are planned on them (autovacuum would come later).
  await tx.unsafe(`ANALYZE ${quoteIdent(scratch)}`);
  return counts;
}

/** Replaces `table` by the staged `scratch` table (and renames its key after the table). */
export async function swapIn(tx: SQL, table: string, scratch: string): Promise<void> {
  await tx.unsafe(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  await tx.unsafe(`ALTER TABLE ${quoteIdent(scratch)} RENAME TO ${quoteIdent(table)}`);
  await tx.unsafe(`ALTER INDEX ${quoteIdent(`${scratch}_pkey`)} RENAME TO ${quoteIdent(keyName(table))}`);
}

/** Records a finished run; returns it as read back. */
export async function recordRun(tx: SQL, table: string, run: RunRecord, counts: { ranked: number; written: number }, stages: Record<string, number>): Promise<RunRow> {
  await tx.unsafe(RUNS_DDL);
  const [row] = await tx.unsafe(
    `INSERT INTO ${RUNS_TABLE} (results_table, method, params, input, users_ranked, rows_written, started_at, finished_at, stages)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    // Objects for json parameters: the driver serializes them (a string would be stored as a JSON string).
    [table, run.method, run.params, run.input, counts.ranked, counts.written, run.startedAt, new Date(), stages],
  );
  return toRunRow(row);
}

/**
 * Replaces the rankings table `table` with `rankings` and records the run, inside `tx` (the
 * caller's write transaction; nothing is visible until it commits).
 */
export async function writeRankings(tx: SQL, table: string, rankings: Rankings, run: RunRecord): Promise<RunRow> {
  validatePgTableName(table);
  const t0 = performance.now();
  const counts = await stageRankings(tx, SCRATCH, rankings);
  await swapIn(tx, table, SCRATCH);
  const stages = { ...run.stages, store: Math.round(performance.now() - t0) / 1000 };
  return recordRun(tx, table, run, counts, stages);
}

/** The most recent run that wrote `table`, or null (also when no run was ever recorded). */
export async function lastRun(sql: SQL, table: string): Promise<RunRow | null> {
  validatePgTableName(table);
  try {
    const rows = await sql.unsafe(`SELECT * FROM ${RUNS_TABLE} WHERE results_table = $1 ORDER BY id DESC LIMIT 1`, [table]);
    return rows.length ? toRunRow(rows[0]) : null;
  } catch (e) {
    if ((e as { errno?: string }).errno === "42P01") return null; // no runs table yet
    throw e;
  }
}
