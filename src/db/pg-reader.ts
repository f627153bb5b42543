/**
 * The Postgres {@link TableReader}: pooled, asynchronous lookups of one rankings table for the
 * server and `recsys similar`.
 *
 * Each lookup is one statement, and a statement reads one snapshot: the old table or the new one,
 * never a mix. What the reader keeps (whether the table exists, its top-n, the generation that
 * keys the server's answer cache) is refreshed by polling: every `checkEveryMs` a timer asks the
 * catalog for the table's identity (its oid and the transaction that last changed its catalog row;
 * a swap changes both), and only when that moved reads the new top-n. So requests never wait for
 * the check, and a swap is noticed within `checkEveryMs` plus one query. (LISTEN/NOTIFY would
 * notice sooner but needs a connection per process held open and misses swaps made by other
 * tools; bench/postgres.ts measures both.)
 */
import type { Fingerprint } from "../fingerprint.ts";
import { inputFingerprint } from "./pg-models.ts";
import type { SQL } from "bun";
import { storeError } from "./pg-connect.ts";
import { lastRun, validatePgTableName } from "./pg-rankings.ts";
import { quoteIdent } from "./pg-schema.ts";
import type { PgUrl } from "./pg-url.ts";
import { MissingTableError, type NeighborRow, type ReaderOptions, type RunRow, type TableReader } from "./store.ts";

export class PgTableReader implements TableReader {
  readonly table: string;
  generation = 0;
  private present = false;
  private top = 0;
  /** The table's identity at the last check; undefined before the first. */
  private version: string | null | undefined = undefined;
  private checking: Promise<boolean> | null = null;
  /** The generation the last {@link sync} reported. */
  private reported = 0;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly lookup: string;
  private readonly quoted: string;

  constructor(
    private readonly sql: SQL,
    private readonly url: PgUrl,
    table: string,
    options: ReaderOptions = {},
  ) {
    this.table = validatePgTableName(table);
    this.quoted = quoteIdent(this.table);
    this.lookup = `SELECT "similar", "score" FROM ${this.quoted} WHERE "user_handle" = $1 ORDER BY "rank" LIMIT $2`;
    const every = options.checkEveryMs ?? 0;
    if (every > 0) {
      // A failed poll (database restarting) keeps the last state; requests report their own errors.
      this.timer = setInterval(() => void this.check().catch(() => {}), every);
      this.timer.unref();
    }
  }

  get exists(): boolean {
    return this.present;
  }

  /**
   * With polling on, answers at once from the poller's state (true if the generation moved since
   * the last call); `force`, the first call, or polling off look now.
   */
  sync(force = false): boolean | Promise<boolean> {
    if (force || this.version === undefined || this.timer === undefined) {
      return this.fresh().then(() => this.report());
    }
    return this.report();
  }

  private report(): boolean {
    const changed = this.generation !== this.reported;
    this.reported = this.generation;
    return changed;
  }

  /** A check that starts after this call (waiting for one already running). */
  private fresh(): Promise<boolean> {
    const running = this.checking;
    return running ? running.then(() => this.check(), () => this.check()) : this.check();
  }

  /** Looks at the table's identity; on a change, reads its top-n and bumps the generation. */
  private check(): Promise<boolean> {
    this.checking ??= this.look().finally(() => (this.checking = null));
    return this.checking;
  }

  private async look(): Promise<boolean> {
    try {
      const rows = (await this.sql`SELECT c.oid::text || '/' || c.xmin::text FROM pg_class c WHERE c.oid = to_regclass(${this.quoted})`.values()) as [string][];
      const version = rows.length ? rows[0][0] : null;
      if (version === this.version) return false;
      let top = 0;
      if (version !== null) {
        // A scan of the rank column (≈ 10 ms per 100k rows), once per swap, off the request path.
        const r = (await this.sql.unsafe(`SELECT max("rank") FROM ${this.quoted}`).values()) as [number | null][];
        top = r[0][0] ?? 0;
      }
      this.version = version;
      this.present = version !== null;
      this.top = top;
      this.generation++;
      return true;
    } catch (e) {
      if ((e as { errno?: string }).errno === "42P01") {
        // Dropped between the two queries: look again next time.
        this.version = undefined;
        return false;
      }
      throw storeError(e, this.url, `reading table ${this.table}`);
    }
  }

  topN(): number {
    return this.present ? this.top : 0;
  }

  /** The first `n` neighbours of `handle` in rank order; {@link MissingTableError} if there is no table. */
  async neighbors(handle: string, n: number): Promise<NeighborRow[]> {
    if (!this.present) throw new MissingTableError(this.table);
    try {
      // A plain array: the driver's result also carries enumerable metadata (count, command, …).
      return Array.from((await this.sql.unsafe(this.lookup, [handle, n]).values()) as NeighborRow[]);
    } catch (e) {
      if ((e as { errno?: string }).errno === "42P01") {
        void this.fresh().catch(() => {});
        throw new MissingTableError(this.table);
      }
      throw storeError(e, this.url, `reading table ${this.table}`);
    }
  }

  /** The input fingerprint of the latest ingest, or null. */
  inputFingerprint(): Promise<Fingerprint | null> {
    return inputFingerprint(this.sql).catch((e) => {
      throw storeError(e, this.url, "reading recsys_ingests");
    });
  }

  lastRun(): Promise<RunRow | null> {
    return lastRun(this.sql, this.table).catch((e) => {
      throw storeError(e, this.url, "reading recsys_runs");
    });
  }

  async ping(): Promise<void> {
    try {
      await this.sql`SELECT 1`;
    } catch (e) {
      throw storeError(e, this.url, "ping");
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
