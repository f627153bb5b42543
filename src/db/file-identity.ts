/**
 * Which file a path names right now (device and inode), so that a long-lived reader notices its
 * SQLite database replaced under it (`mv new.db served.db`), and the side files of a replaced
 * database, which must not outlive it.
 *
 * Why the side files matter: SQLite finds a database's write-ahead log and its index by name
 * (`FILE-wal`, `FILE-shm`), and nothing in them says which database they belong to. After a
 * `mv`, the old file's log still sits next to the new file; the next connection to open the new
 * file reads the old log's pages as the new file's, and corrupts it.
 */
import { statSync, unlinkSync } from "node:fs";

/** A file as the filesystem identifies it. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** The identity of the file at `path` now, or null if there is none. */
export function identityOf(path: string): FileIdentity | null {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? { dev: st.dev, ino: st.ino } : null;
}

export function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;
}

/** The identities of a database's write-ahead log and its index, as they are now. */
export interface SideFiles {
  wal: FileIdentity | null;
  shm: FileIdentity | null;
}

export function sideFilesOf(path: string): SideFiles {
  return { wal: identityOf(`${path}-wal`), shm: identityOf(`${path}-shm`) };
}

/**
 * Removes the `-wal` and `-shm` next to `path` that are still the files `recorded` while the
 * database they belong to was at `path`; a log another database has made since is left alone.
 * Call it once that database has been replaced and closed. Returns the paths removed.
 */
export function removeStaleSideFiles(path: string, recorded: SideFiles): string[] {
  const removed: string[] = [];
  for (const [suffix, id] of [["-wal", recorded.wal], ["-shm", recorded.shm]] as const) {
    const file = path + suffix;
    if (id === null || !sameFile(identityOf(file), id)) continue;
    try {
      unlinkSync(file);
      removed.push(file);
    } catch {
      // Gone meanwhile, or a read-only directory (where no one can have written a log either).
    }
  }
  return removed;
}
