import { constants, Database } from "bun:sqlite";
import { statSync } from "node:fs";

/** How long a statement waits for a lock another connection holds, ms (writers wait longer: see write.ts). */
export const BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  /** Open read-only (the server in prod). The file must exist. */
  readonly?: boolean;
  /** Create the file if missing (default true unless readonly). */
  create?: boolean;
}

/**
 * Opens a SQLite database configured for this tool: WAL (readers never wait for the pipeline),
 * a busy timeout (a writer waits for another writer instead of failing), foreign keys on.
 *
 * Read-only, a WAL database needs its `-shm` file, which SQLite creates next to it: in a
 * read-only directory or filesystem (a read-only volume, a bind mount) it cannot, and the open
 * fails with "unable to open database file". The file is then opened as immutable (SQLite's
 * `immutable=1`: no locks, no `-shm`, the file taken as unchanging), unless a non-empty `-wal`
 * holds transactions that opening it so would silently leave out.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database {
  const readonly = options.readonly ?? false;
  if (isDirectory(path)) throw new DatabaseOpenError(path, "it is a directory, not a database file", true);
  let db: Database | undefined;
  try {
    db = readonly
      ? new Database(path, { readonly: true, strict: true })
      : new Database(path, { create: options.create ?? true, readwrite: true, strict: true });
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Reading the schema is what notices a file that is not a database.
    db.query("SELECT count(*) FROM sqlite_master").get();
    if (!readonly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
    }
    return db;
  } catch (e) {
    db?.close();
    if (readonly && isCantOpen(e)) {
      const immutable = openImmutable(path);
      if (immutable) return immutable;
    }
    throw new DatabaseOpenError(path, (e as Error).message, (e as { code?: string }).code === "SQLITE_NOTADB");
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isCantOpen(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === "SQLITE_CANTOPEN" || /unable to open database file/.test(err?.message ?? "");
}

/**
 * The read-only database at `path` opened as immutable, or null if that fails too (the file is
 * then unreadable for another reason, reported as such). Throws if its `-wal` holds data.
 */
function openImmutable(path: string): Database | null {
  const wal = statSync(`${path}-wal`, { throwIfNoEntry: false });
  if (wal && wal.size > 0) {
    throw new DatabaseOpenError(
      path,
      `it cannot be read here without its write-ahead log ${path}-wal, which needs a ${path}-shm that cannot be created (read-only directory?); ` +
        `checkpoint the log into the file before publishing it read-only: sqlite3 FILE "PRAGMA wal_checkpoint(TRUNCATE)"`,
    );
  }
  let db: Database | undefined;
  try {
    // A URI filename is the only way to pass immutable=1; ?, # and % in the path are escaped.
    const uri = `file:${path.replace(/[?#%]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}?immutable=1`;
    db = new Database(uri, constants.SQLITE_OPEN_READONLY | constants.SQLITE_OPEN_URI);
    db.query("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch {
    db?.close();
    return null;
  }
}

/** The database file could not be opened or is not a SQLite database; names the file. */
export class DatabaseOpenError extends Error {
  override name = "DatabaseOpenError";
  constructor(
    readonly path: string,
    reason: string,
    /** The path names something that is not a database (a CSV, a directory): bad input, not a failure. */
    readonly notADatabase = false,
  ) {
    super(`cannot open database ${path}: ${reason}`);
  }
}

/** True if a table (or view) of that name exists. */
export function tableExists(db: Database, name: string): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?").get(name) != null;
}
