/**
 * Connecting to Postgres through Bun's built-in client (`Bun.SQL`), and turning what can go wrong
 * into one line naming the cause: no such host, nothing listening, no answer, a refused login, no
 * such database. Every message has the password masked.
 */
import { SQL } from "bun";
import { lookup } from "node:dns/promises";
import { parsePgUrl, scrub, type PgUrl } from "./pg-url.ts";

/** Seconds to wait for a connection when neither the URL (`connect_timeout`) nor PGCONNECT_TIMEOUT says. */
const CONNECT_TIMEOUT = 10;

/** The store could not be reached or logged into; the message names where and why (password masked). */
export class PgConnectError extends Error {
  override name = "PgConnectError";
}

/** A failure while talking to Postgres after connecting; the message is scrubbed of secrets. */
export class PgStoreError extends Error {
  override name = "PgStoreError";
  constructor(
    message: string,
    /** SQLSTATE, when the server sent one. */
    readonly sqlState?: string,
  ) {
    super(message);
  }
}

export interface ConnectOptions {
  /** Every transaction read-only (the server in prod): the session refuses writes. */
  readonly?: boolean;
  /** Pool size (default: the URL's `max`, else 10). */
  max?: number;
}

/** "127.0.0.1:5432", "[::1]:5432", or the socket directory: where we tried to connect. */
export function describeTarget(url: PgUrl): string {
  const socket = url.params.get("host") ?? url.params.get("path") ?? url.params.get("socket") ?? (url.host?.startsWith("/") ? url.host : undefined);
  const port = url.port ?? url.params.get("port") ?? process.env.PGPORT ?? "5432";
  if (socket?.startsWith("/")) return `socket ${socket.endsWith(`.s.PGSQL.${port}`) ? socket : `${socket.replace(/\/$/, "")}/.s.PGSQL.${port}`}`;
  const host = url.host ?? socket ?? process.env.PGHOST ?? "localhost";
  if (host.startsWith("/")) return `socket ${host.replace(/\/$/, "")}/.s.PGSQL.${port}`;
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * A pooled client for `url`, checked by one round trip (so a bad password or host fails here,
 * with a clear message, not in the middle of the work).
 * @throws {PgUrlError} for a malformed URL; {@link PgConnectError} when it cannot connect or log in.
 */
export async function connect(location: string, options: ConnectOptions = {}): Promise<{ sql: SQL; url: PgUrl }> {
  const url = parsePgUrl(location);
  const connection: Record<string, string> = { application_name: url.params.get("application_name") ?? process.env.PGAPPNAME ?? "recsys" };
  if (options.readonly) connection.default_transaction_read_only = "on";
  // The URL's parts win over the environment, as in libpq (Bun would let PGDATABASE override the
  // URL's database); what the URL leaves out comes from PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE.
  const sql = new SQL(location, {
    // A host that is a directory (libpq's percent-encoded form, postgres://%2Fvar%2Frun%2Fpostgresql/db) is a unix socket.
    ...(url.host ? (url.host.startsWith("/") ? { path: url.host } : { hostname: url.host }) : {}),
    ...(url.port ? { port: url.port } : {}),
    ...(url.user ? { username: url.user } : {}),
    ...(url.password !== undefined ? { password: url.password } : {}),
    ...(url.database ? { database: url.database } : {}),
    ...(url.params.has("connect_timeout") || process.env.PGCONNECT_TIMEOUT ? {} : { connectionTimeout: CONNECT_TIMEOUT }),
    ...(options.max ? { max: options.max } : {}),
    connection,
  });
  try {
    await sql`SELECT 1`;
  } catch (e) {
    void sql.close({ timeout: 0 }).catch(() => {});
    throw await connectError(e, url);
  }
  return { sql, url };
}

/** One line for a failed connection attempt. */
async function connectError(e: unknown, url: PgUrl): Promise<PgConnectError> {
  const err = e as { code?: string; errno?: string; message?: string };
  const where = describeTarget(url);
  const database = url.database ?? process.env.PGDATABASE;
  const prefix = `cannot connect to Postgres at ${where}${database ? ` (database ${JSON.stringify(database)})` : ""}`;
  let why: string;
  switch (err.code) {
    case "ERR_POSTGRES_CONNECTION_REFUSED": {
      const host = url.host ?? process.env.PGHOST;
      const resolvable = host && !host.startsWith("/") && !where.startsWith("socket") ? await lookup(host).then(() => true, () => false) : true;
      why = resolvable ? "connection refused (is the server running, and on that port?)" : `cannot resolve host ${JSON.stringify(host)}`;
      break;
    }
    case "ERR_POSTGRES_CONNECTION_TIMEOUT":
    case "ERR_POSTGRES_CONNECTION_FAILED":
      why = `no answer within ${url.params.get("connect_timeout") ?? process.env.PGCONNECT_TIMEOUT ?? CONNECT_TIMEOUT} s; is the host reachable and the port open?`;
      break;
    default:
      if (err.errno === "28P01") why = `${err.message}: check the password in the URL or PGPASSWORD`;
      else if (err.errno === "3D000") why = `${err.message}: create it (createdb) or fix the URL's database name`;
      else why = err.message ?? String(e);
  }
  return new PgConnectError(scrub(`${prefix}: ${why}`, url));
}

/** Any error from the driver, scrubbed of secrets (server errors keep their SQLSTATE). */
export function storeError(e: unknown, url: PgUrl, context?: string): PgStoreError {
  const err = e as { errno?: string; message?: string; detail?: string };
  const text = `${context ? `${context}: ` : ""}${err?.message ?? String(e)}${err?.detail ? ` (${err.detail})` : ""}`;
  return new PgStoreError(scrub(text, url), typeof err?.errno === "string" ? err.errno : undefined);
}
