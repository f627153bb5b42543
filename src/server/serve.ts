/**
 * Wires the API together: store → table reader → app → HTTP listener, with the access log and a
 * graceful close. `recsys serve`, the tests and the benchmark all start servers through here.
 */
import { existsSync } from "node:fs";
import { isStoreUrl, openStore, type RankingsStore, type TableReader } from "../db/store.ts";
import { createApp } from "./app.ts";
import { Catalog } from "./catalog.ts";
import { DEFAULT_FIRST_BYTE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, listen, LOOPBACK_HOSTS, type HttpServer } from "./http.ts";
import { WatchedReader } from "./watched-reader.ts";

export interface ServeOptions {
  /**
   * The store holding the rankings table: a SQLite file path (must exist; a file replaced at that
   * path while serving is noticed and reopened) or postgres:// URL, or an open store (not closed by the server).
   */
  dbPath: string | RankingsStore;
  /** Rankings table (validated by the reader). */
  table: string;
  hostname: string;
  port: number;
  /** Open the database read-only (prod). Default true: the server never writes. */
  readonly?: boolean;
  /** Bearer token required on /api routes (prod). */
  token?: string;
  /**
   * One line per request on `logSink` (default true), and while connections are refused at
   * `maxConnections`, one line a second counting them.
   */
  accessLog?: boolean;
  /** Where log lines go (default: stderr, buffered). */
  logSink?: (text: string) => void;
  /**
   * Look for a new table at most this often, ms (default 100): after the pipeline commits, the
   * new rankings are served within this time. 0 checks on every request (~4 µs each).
   */
  checkEveryMs?: number;
  /** Cached answers per table generation (default 20,000; 0 disables). */
  cacheSize?: number;
  /**
   * Most connections open at once (default 1024). At the limit a newcomer closes the connection
   * idle longest; with none idle it is answered 503 with `Retry-After: 1` and closed.
   */
  maxConnections?: number;
  /** Seconds a new connection may take to send its first byte (default 5). */
  firstByteTimeout?: number;
  /**
   * Host names (lower case, no port) requests may name; others are answered 421. Default: the
   * loopback names (localhost, 127.0.0.1, [::1]) when bound to a loopback address without a
   * token, against DNS rebinding (a web page whose name is re-pointed at 127.0.0.1 would
   * otherwise read the API from the victim's browser); null accepts any.
   */
  allowedHosts?: readonly string[] | null;
}

export interface RunningServer {
  readonly url: string;
  readonly http: HttpServer;
  /** Graceful: stop accepting, finish in-flight requests, close the database, flush the log. */
  close(graceMs?: number): Promise<void>;
}

/** Raised for a start-up problem the operator must fix (missing file, bad table name). */
export class StartupError extends Error {
  override name = "StartupError";
}

/**
 * Buffers log text and writes it at most every 50 ms or per 32 KiB: a write per request would be
 * a syscall on the hot path.
 */
export function bufferedWriter(write: (text: string) => void): { write(text: string): void; flush(): void } {
  let buf = "";
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (buf) {
      const out = buf;
      buf = "";
      write(out);
    }
  };
  return {
    write(text) {
      buf += text;
      if (buf.length >= 32 * 1024) flush();
      else if (!timer) {
        timer = setTimeout(flush, 50);
        timer.unref?.();
      }
    },
    flush,
  };
}

/** True for an address or name of the loopback interface. */
function isLoopback(hostname: string): boolean {
  return /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i.test(hostname);
}

/** {@link ServeOptions.allowedHosts} with its default applied; undefined accepts any host. */
function allowedHosts(options: ServeOptions): readonly string[] | undefined {
  if (options.allowedHosts !== undefined) return options.allowedHosts ?? undefined;
  return isLoopback(options.hostname) && !options.token ? LOOPBACK_HOSTS : undefined;
}

/** Opens the store and starts listening; the returned server is already bound. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const sink = bufferedWriter(options.logSink ?? ((t) => process.stderr.write(t)));
  let stamp = new Date().toISOString().slice(0, 19) + "Z";
  const stampTimer = setInterval(() => (stamp = new Date().toISOString().slice(0, 19) + "Z"), 1000);
  stampTimer.unref();
  let reader: TableReader;
  let owned: RankingsStore | undefined;
  try {
    ({ reader, owned } = await openReader(options, (message) => sink.write(`${stamp} ${message}\n`)));
  } catch (e) {
    clearInterval(stampTimer);
    throw e;
  }
  const onError = (e: unknown) => sink.write(`${stamp} error ${(e as Error)?.stack ?? String(e)}\n`);
  const store = reader instanceof WatchedReader ? () => reader.store : () => (owned ?? (options.dbPath as RankingsStore));
  const catalog = new Catalog(
    store,
    reader,
    options.checkEveryMs ?? 100,
    (table, info) => sink.write(`${stamp} model of ${table} ${info.source === "stored" ? "loaded" : "fitted again"} in ${info.seconds.toFixed(2)} s\n`),
    // A server that opened the store by location lets workers open it too: models off this thread.
    typeof options.dbPath === "string" ? options.dbPath : undefined,
  );
  const handler = createApp(reader, { token: options.token, onError, cacheSize: options.cacheSize, catalog });
  const log = options.accessLog !== false;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let http: HttpServer;
  try {
    http = listen(handler, {
      hostname: options.hostname,
      port: options.port,
      maxConnections,
      firstByteTimeout: options.firstByteTimeout ?? DEFAULT_FIRST_BYTE_TIMEOUT,
      allowedHosts: allowedHosts(options),
      onError,
      onResponse: log ? (method, path, status, ms) => sink.write(`${stamp} ${method} ${path} ${status} ${ms.toFixed(2)}ms\n`) : undefined,
      onRefused: log
        ? (n) => sink.write(`${stamp} refused ${n} connection${n === 1 ? "" : "s"} in the last second: --max-connections ${maxConnections} reached\n`)
        : undefined,
    });
  } catch (e) {
    clearInterval(stampTimer);
    reader.close();
    owned?.close();
    throw new StartupError(`cannot listen on ${options.hostname}:${options.port}: ${(e as Error).message}`);
  }
  const host = http.hostname.includes(":") ? `[${http.hostname}]` : http.hostname;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${http.port}`,
    http,
    close(graceMs) {
      sink.flush(); // lines of requests already answered come before anything logged about shutdown
      closing ??= http.stop(graceMs).then(() => {
        clearInterval(stampTimer);
        catalog.close();
        reader.close();
        owned?.close();
        sink.flush();
      });
      return closing;
    },
  };
}

/**
 * The server's reader of the rankings table. A store given open stays the caller's to close; a
 * SQLite file the server opens itself is watched for replacement (see watched-reader.ts) and
 * closed with the reader.
 */
async function openReader(options: ServeOptions, onReplaced: (message: string) => void): Promise<{ reader: TableReader; owned?: RankingsStore }> {
  const readerOptions = { checkEveryMs: options.checkEveryMs ?? 100 };
  const given = typeof options.dbPath === "string" ? undefined : options.dbPath;
  const store = given ?? (await openOwnStore(options.dbPath as string, options.readonly ?? true));
  try {
    if (given || store.kind !== "sqlite") return { reader: store.reader(options.table, readerOptions), owned: given ? undefined : store };
    const { SqliteStore } = await import("../db/sqlite.ts");
    const [path, readonly] = [store.location, options.readonly ?? true];
    const reopen = () => SqliteStore.open(path, { readonly, create: false });
    return { reader: new WatchedReader(path, options.table, store, reopen, { ...readerOptions, onReplaced }) };
  } catch (e) {
    if (!given) store.close();
    throw new StartupError((e as Error).message);
  }
}

/** Opens the store at `path` for the server (which then closes it); a missing file is a start-up error. */
async function openOwnStore(path: string, readonly: boolean): Promise<RankingsStore> {
  if (!isStoreUrl(path) && !existsSync(path)) {
    throw new StartupError(`database ${path} does not exist; create it with \`recsys pipeline --method similarity --data-dir DIR --db ${path}\``);
  }
  try {
    return await openStore(path, { readonly, create: false });
  } catch (e) {
    throw new StartupError((e as Error).message);
  }
}
