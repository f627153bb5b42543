/**
 * Taking a SQLite store's write lock and naming what goes wrong: a writer that finds another
 * recsys run holding the lock says so and waits for it (politely, without blocking the event
 * loop), then fails with {@link StoreBusyError} instead of SQLite's "database is locked"; a full
 * disk or a read-only file becomes a {@link StoreWriteError} naming the database.
 */
import type { Database } from "bun:sqlite";
import { StoreBusyError, StoreWriteError } from "./errors.ts";
import { BUSY_TIMEOUT_MS } from "./open.ts";

/** How long a writer waits by default for another run's write to finish. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;

export interface LockOptions {
  /** Most milliseconds to wait for another writer (default {@link DEFAULT_LOCK_WAIT_MS}). */
  waitMs?: number;
  /** Told once, as soon as another writer is found holding the lock. */
  onWait?: (message: string) => void;
}

/** SQLite's result code, when `e` is one of its errors. */
function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : undefined;
}

/** Result codes whose message is about the file or the disk, not about recsys: named with the file. */
const ABOUT_THE_FILE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|PERM)/;

/** `e`, or a {@link StoreWriteError} naming `location` when it is about the file or disk. */
export function namedWriteError(e: unknown, location: string): unknown {
  const code = sqliteCode(e);
  return code && ABOUT_THE_FILE.test(code) ? new StoreWriteError(location, (e as Error).message) : e;
}

/**
 * BEGIN IMMEDIATE on `db`: takes the write lock now, or, while another connection holds it (or
 * recovers the WAL), says
 * so once through `onWait` and tries again every 100 ms until `waitMs` have passed.
 *
 * @throws {StoreBusyError} when the lock stayed taken.
 */
export async function beginWrite(db: Database, location: string, options: LockOptions = {}): Promise<void> {
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const start = performance.now();
  let told = false;
  // SQLite's own busy handler would sleep inside the call, blocking this thread for the whole wait.
  db.exec("PRAGMA busy_timeout = 0");
  try {
    for (;;) {
      try {
        db.exec("BEGIN IMMEDIATE");
        return;
      } catch (e) {
        // Extended codes count too: SQLITE_BUSY_RECOVERY is another connection rebuilding the WAL
        // index (after a killed writer, or when several processes open the file at once).
        if (!sqliteCode(e)?.startsWith("SQLITE_BUSY")) throw namedWriteError(e, location);
      }
      const waited = performance.now() - start;
      if (waited >= waitMs) throw new StoreBusyError(location, waitMs);
      if (!told) {
        told = true;
        options.onWait?.(`another recsys run is writing ${location}; waiting up to ${Math.round(waitMs / 100) / 10} s for it to finish`);
      }
      await Bun.sleep(Math.min(100, waitMs - waited));
    }
  } finally {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}
