import { Database } from "bun:sqlite";
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
