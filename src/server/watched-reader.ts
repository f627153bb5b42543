/**
 * The server's reader of a SQLite file it opened itself: a {@link TableReader} that notices the
 * file replaced at its path (an operator's `mv new.db served.db`) and reopens it, instead of
 * serving the deleted file for ever.
 *
 * Every look for a committed change (at most every `checkEveryMs`), and a timer as often (at
 * least every 100 ms) when no request comes, compare the device and inode at the path with the
 * open file's: the old file's log must go even if no one asks. On a change it closes the old
 * database, removes the old file's `-wal` and `-shm` if they are still there (see
 * file-identity.ts: left next to the new file they would corrupt it), then opens the new one.
 * Until that succeeds (the path is empty between an `rm` and a `mv`, or the new file is not a
 * database) every request is answered 503 and the open is retried at the next look.
 */
import { identityOf, removeStaleSideFiles, sameFile, sideFilesOf, type FileIdentity, type SideFiles } from "../db/file-identity.ts";
import type { Fingerprint } from "../fingerprint.ts";
import { StoreUnavailableError, type Awaitable, type NeighborRow, type RankingsStore, type ReaderOptions, type RunRow, type TableReader } from "../db/store.ts";

export interface WatchedReaderOptions extends ReaderOptions {
  /** Told about each replacement noticed: reopened (and side files removed), or why not yet. */
  onReplaced?: (message: string) => void;
}

export class WatchedReader implements TableReader {
  private current: { store: RankingsStore; reader: TableReader } | null;
  private file: FileIdentity | null;
  private side: SideFiles;
  /** Generations of the readers closed so far, so that ours only ever grows. */
  private base = 0;
  private lastLook = -Infinity;
  private failure = "";
  private readonly timer: ReturnType<typeof setInterval>;

  /**
   * `store` is open on `path` (and is closed with this reader); `open` opens the file at `path`
   * again (synchronously: a request then never waits on a promise for it).
   */
  constructor(
    private readonly path: string,
    readonly table: string,
    store: RankingsStore,
    private readonly open: () => RankingsStore,
    private readonly options: WatchedReaderOptions = {},
  ) {
    this.file = identityOf(path);
    this.side = sideFilesOf(path);
    this.current = { store, reader: store.reader(table, options) };
    this.timer = setInterval(() => this.look(false), Math.max(100, options.checkEveryMs ?? 0));
    this.timer.unref();
  }

  get generation(): number {
    return this.base + (this.current?.reader.generation ?? 0);
  }

  get exists(): boolean {
    return this.current?.reader.exists ?? false;
  }

  sync(force = false): Awaitable<boolean> {
    this.look(force);
    return this.live().sync(force);
  }

  topN(): Awaitable<number> {
    return this.live().topN();
  }

  neighbors(handle: string, n: number): Awaitable<NeighborRow[]> {
    return this.live().neighbors(handle, n);
  }

  lastRun(): Awaitable<RunRow | null> {
    return this.live().lastRun();
  }

  ping(): Awaitable<void> {
    this.look(true);
    return this.live().ping();
  }

  close(): void {
    clearInterval(this.timer);
    this.drop();
  }

  inputFingerprint(): Awaitable<Fingerprint | null> {
    return this.live().inputFingerprint();
  }

  /** The store open on the file now at the path (for the server's other tables and models). */
  get store(): RankingsStore {
    this.live();
    return this.current!.store;
  }

  private live(): TableReader {
    if (!this.current) throw new StoreUnavailableError(this.failure);
    return this.current.reader;
  }

  /** Compares the file at the path with the open one (throttled unless `force`); reopens on a change. */
  private look(force: boolean): void {
    const every = this.options.checkEveryMs ?? 0;
    if (!force && every > 0) {
      const now = performance.now();
      if (now - this.lastLook < every) return;
      this.lastLook = now;
    }
    const now = identityOf(this.path);
    if (this.current && sameFile(now, this.file)) {
      // Side files appear once a connection uses the log: keep knowing which are this file's.
      this.side = sideFilesOf(this.path);
      return;
    }
    if (!this.current && now === null) return; // still nothing there: the reason stands
    this.reopen(now);
  }

  private reopen(now: FileIdentity | null): void {
    const replaced = this.current !== null;
    const before = this.failure;
    // A failure is told once, not at every retry.
    const tell = (message: string) => {
      if (this.failure !== before || this.failure === "") this.options.onReplaced?.(message);
    };
    this.drop();
    // Closed first, then the old file's log removed, then the new file opened: opened with the
    // old log beside it, the new file would be read through that log.
    const removed = removeStaleSideFiles(this.path, this.side);
    this.side = { wal: null, shm: null };
    const tail = removed.length ? ` (removed the replaced file's ${removed.map((f) => f.slice(this.path.length)).join(" and ")})` : "";
    if (now === null) {
      this.failure = `database ${this.path} is gone (deleted or being replaced); retrying`;
      tell(`${this.failure}${tail}`);
      return;
    }
    let store: RankingsStore | undefined;
    try {
      store = this.open();
      this.current = { store, reader: store.reader(this.table, this.options) };
      this.file = now;
      this.side = sideFilesOf(this.path);
      this.failure = "";
      tell(`database ${this.path} ${replaced ? "was replaced: serving the new file" : "is back: serving it"}${tail}`);
    } catch (e) {
      store?.close();
      this.failure = `database ${this.path} was replaced by a file that cannot be served (${(e as Error).message}); retrying`;
      tell(`${this.failure}${tail}`);
    }
  }

  private drop(): void {
    if (!this.current) return;
    this.base += this.current.reader.generation + 1;
    this.current.reader.close();
    this.current.store.close();
    this.current = null;
  }
}
