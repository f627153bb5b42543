/**
 * The SQLite {@link TableReader}: read access to one rankings table for long-lived readers (the
 * server, `recsys similar`):
 * prepared statements only, and the table name is validated once, here.
 *
 * The pipeline replaces the table by DROP + RENAME inside one write transaction. Under WAL a
 * reader sees the old table or the new one, never neither; SQLite re-prepares a statement whose
 * schema changed (SQLITE_SCHEMA) by itself. What remains for us: notice the change (PRAGMA
 * data_version, which moves whenever another connection commits) to drop cached answers and
 * the cached top-n, and recover if the table appears after start-up or a statement is left
 * pointing at a dropped table ("no such table": re-prepare, retry once).
 */
import type { Database, Statement } from "bun:sqlite";
import { validateTableName } from "../names.ts";
import { tableExists } from "./open.ts";
import type { Fingerprint } from "../fingerprint.ts";
import { lastIngestInput } from "./ingest.ts";
import { lastRun } from "./rankings.ts";
import { MissingTableError, type NeighborRow, type ReaderOptions, type RunRow, type TableReader } from "./store.ts";

/** A SQLite rankings table reader that survives the pipeline swapping the table underneath it. */
export class RankingsReader implements TableReader {
  readonly table: string;
  /** Bumped whenever the database changed since the last check; caches key on it. */
  generation = 0;
  private readonly db: Database;
  private readonly checkEveryMs: number;
  private readonly versionStmt: Statement;
  private lookup: Statement | null = null;
  private version = -1;
  private lastCheck = -Infinity;
  private present = false;
  private top = -1;

  constructor(db: Database, table: string, options: ReaderOptions = {}) {
    this.db = db;
    this.table = validateTableName(table);
    this.checkEveryMs = options.checkEveryMs ?? 0;
    this.versionStmt = db.prepare("PRAGMA data_version");
    this.sync(true);
  }

  /**
   * Notices a committed change (looking at most every `checkEveryMs`, or now if `force`),
   * refreshing presence and top-n and bumping {@link generation}. Returns true if something changed.
   */
  sync(force = false): boolean {
    if (!force && this.checkEveryMs > 0) {
      const now = performance.now();
      if (now - this.lastCheck < this.checkEveryMs) return false;
      this.lastCheck = now;
    }
    const v = (this.versionStmt.values() as number[][])[0][0];
    if (v === this.version) return false;
    this.version = v;
    this.generation++;
    this.refresh();
    return true;
  }

  private refresh(): void {
    this.present = tableExists(this.db, this.table);
    this.top = -1;
    if (!this.present) {
      this.lookup?.finalize();
      this.lookup = null;
    }
  }

  /** True if the rankings table exists (as of the last {@link sync}). */
  get exists(): boolean {
    return this.present;
  }

  /** The stored top-n (largest rank), 0 if the table is empty or missing. */
  topN(): number {
    if (this.top < 0) {
      if (!this.present) return 0;
      // MAX over the key's second column is a table scan (~10 ms per 10k users): done lazily, once
      // per change, not per request.
      try {
        const r = this.db.prepare(`SELECT MAX(rank) FROM "${this.table}"`).values() as [number | null][];
        this.top = r[0][0] ?? 0;
      } catch (e) {
        if (!isSchemaChange(e)) throw e;
        this.present = false; // dropped (not swapped) since the last sync
        return 0;
      }
    }
    return this.top;
  }

  /**
   * The first `n` neighbours of `handle` in rank order; empty if the user has no rows.
   * Throws {@link MissingTableError} if the table does not exist.
   */
  neighbors(handle: string, n: number): NeighborRow[] {
    for (let attempt = 0; ; attempt++) {
      if (!this.present) throw new MissingTableError(this.table);
      try {
        this.lookup ??= this.db.prepare(`SELECT similar, score FROM "${this.table}" WHERE user_handle = ?1 ORDER BY rank LIMIT ?2`);
        return this.lookup.values(handle, n) as NeighborRow[];
      } catch (e) {
        if (attempt > 0 || !isSchemaChange(e)) throw e;
        this.lookup?.finalize();
        this.lookup = null;
        this.version = -1; // re-read presence and top-n even if data_version has not moved
        this.sync(true);
      }
    }
  }

  /** The latest run recorded for this table, or null. */
  lastRun(): RunRow | null {
    return lastRun(this.db, this.table);
  }

  /** The input fingerprint of the latest ingest, or null. */
  inputFingerprint(): Fingerprint | null {
    return lastIngestInput(this.db) as Fingerprint | null;
  }

  /** Cheap liveness probe: throws if the database cannot be read. */
  ping(): void {
    this.versionStmt.values();
  }

  /** Finalizes the statements (the caller closes the database). */
  close(): void {
    this.lookup?.finalize();
    this.lookup = null;
    this.versionStmt.finalize();
  }
}

function isSchemaChange(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === "SQLITE_SCHEMA" || /no such table|schema has changed|database schema/i.test(err?.message ?? "");
}
