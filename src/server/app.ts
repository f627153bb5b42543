/**
 * The REST API as a pure request → response function over a store's {@link TableReader}: routing,
 * input validation, JSON errors, bearer-token auth and a small cache of serialized answers.
 * No sockets here (http.ts does those), so tests can call it directly.
 *
 * A store that answers synchronously (SQLite) gets a synchronous answer, so the hot path creates
 * no promises; a store that answers with promises gets a promise of the answer.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { HeaderList, HttpRequest, HttpResponse } from "./http.ts";
import { openApiDocument } from "./openapi.ts";
import { MissingTableError, StoreUnavailableError, type Awaitable, type NeighborRow, type RunRow, type TableReader } from "../db/store.ts";
import { renderNeighbors } from "./render.ts";

export { renderNeighbors, roundScore } from "./render.ts";

export interface AppOptions {
  /** When set, /api routes require `Authorization: Bearer <token>` (prod). */
  token?: string;
  /** Largest number of cached answers per generation (default 20,000; 0 disables). */
  cacheSize?: number;
  /** Unexpected failures (bugs, I/O errors) are reported here; the client sees a generic 500. */
  onError?: (error: unknown) => void;
}

/** Longest accepted user handle, characters. */
export const MAX_HANDLE = 256;
/** `n` when the client gives none (or the stored top-n if that is smaller). */
export const DEFAULT_N = 10;

const JSON_DECODER = new TextDecoder("utf-8", { fatal: true });
const SIMPLE_BODY = /^\{"user_handle":"([^"\\\x00-\x1f]{1,256})"\}$/;
const ALLOW_API = "GET, HEAD, POST";
const ALLOW_READ = "GET, HEAD";

/** A client mistake: becomes `{"error": message}` with `status`. */
class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

function json(status: number, value: unknown, headers?: Record<string, string>): HttpResponse {
  return { status, body: JSON.stringify(value), headers };
}

/**
 * Validates a user handle from JSON (string or integer) or from a URL (string). Handles are
 * trimmed, as ingest trims them.
 */
export function parseHandle(value: unknown): string {
  let handle: string;
  if (typeof value === "string") handle = value.trim();
  else if (typeof value === "number" && Number.isSafeInteger(value)) handle = String(value);
  else throw new ClientError(400, "user_handle must be a string or an integer");
  if (handle === "") throw new ClientError(400, "user_handle must not be empty");
  // Characters (code points), as the OpenAPI maxLength counts them, not UTF-16 units.
  if (handle.length > MAX_HANDLE && [...handle].length > MAX_HANDLE) throw new ClientError(400, `user_handle must be at most ${MAX_HANDLE} characters`);
  return handle;
}

/** Validates `n` (JSON integer or decimal digits from a URL) against 1..max. */
export function parseN(value: unknown, max: number): number {
  const n = typeof value === "string" && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > max) {
    throw new ClientError(400, `n must be an integer between 1 and ${max} (the stored top-n), got ${JSON.stringify(value) ?? "nothing"}`);
  }
  return n;
}

/**
 * Two-generation cache of answers by (n, handle): O(1), bounded at 2 × size entries, no per-hit
 * bookkeeping (cheap on the hot path). Keyed by n first so no key string is built per request.
 */
class AnswerCache {
  private young: Map<string, string>[] = [];
  private old: Map<string, string>[] = [];
  private count = 0;
  constructor(private readonly size: number) {}
  get(n: number, handle: string): string | undefined {
    const hit = this.young[n]?.get(handle);
    if (hit !== undefined) return hit;
    const aged = this.old[n]?.get(handle);
    if (aged !== undefined) this.set(n, handle, aged);
    return aged;
  }
  set(n: number, handle: string, value: string): void {
    if (this.size <= 0) return;
    if (this.count >= this.size) {
      this.old = this.young;
      this.young = [];
      this.count = 0;
    }
    (this.young[n] ??= new Map()).set(handle, value);
    this.count++;
  }
  clear(): void {
    this.young = [];
    this.old = [];
    this.count = 0;
  }
}

function digest(s: string | Uint8Array): Buffer {
  return createHash("sha256").update(s).digest();
}

/**
 * Builds the API handler. Routes:
 * - `GET|POST /api/similarity[/]` with `user_handle` (and optional `n`) in a JSON body or the query,
 *   `GET /api/similarity/{user_handle}`: the user's neighbours in rank order.
 * - `GET /healthz`: database, table and last run.
 * - `GET /api/openapi.json`: the OpenAPI 3.1 document.
 */
export function createApp(reader: TableReader, options: AppOptions = {}): (req: HttpRequest) => Awaitable<HttpResponse> {
  const cache = new AnswerCache(options.cacheSize ?? 20_000);
  const expected = options.token ? digest(options.token) : null;
  const onError = options.onError ?? ((e: unknown) => console.error(e));
  const openapi = JSON.stringify(openApiDocument());
  let generation = -1;

  /**
   * The credential of an `Authorization: Bearer <token>` field, or null if there is none: the
   * scheme, then spaces or tabs, then the token, every byte of it. Only SP and HTAB separate (as
   * around any field value); a no-break space or other Unicode space is part of the token, so
   * `secret\xA0` is a different token, not `secret` with trailing space.
   */
  function credential(headers: HeaderList): string | null {
    const m = /^Bearer[ \t]+([^ \t]+)$/i.exec(headers.get("authorization") ?? "");
    return m ? m[1] : null;
  }

  /** Whether the request carries the token: digests compared in constant time (equal lengths always). */
  function authorized(token: string | null): boolean {
    // Header values are read as latin1: back to the bytes sent, compared with the token's UTF-8.
    return expected !== null && token !== null && timingSafeEqual(digest(Buffer.from(token, "latin1")), expected);
  }

  function authorize(headers: HeaderList): void {
    if (!expected) return;
    const token = credential(headers);
    if (!authorized(token)) {
      throw new ClientError(401, token !== null ? "invalid bearer token" : "missing bearer token: send Authorization: Bearer <RECSYS_API_TOKEN>", {
        "WWW-Authenticate": token !== null ? 'Bearer realm="recsys", error="invalid_token"' : 'Bearer realm="recsys"',
      });
    }
  }

  function similarity(req: HttpRequest, path: string, query: string): Awaitable<HttpResponse> {
    const given: { user_handle?: unknown; n?: unknown } = {};
    const take = (key: "user_handle" | "n", value: unknown, where: string) => {
      if (given[key] !== undefined && String(given[key]) !== String(value)) {
        throw new ClientError(400, `${key} given twice with different values (${where} and elsewhere)`);
      }
      given[key] = value;
    };
    if (req.body.length > 0) {
      let text: string;
      try {
        text = JSON_DECODER.decode(req.body);
      } catch {
        throw new ClientError(400, "request body is not valid UTF-8");
      }
      // The seed's body, {"user_handle":"110"}, without escapes: its JSON value is the literal
      // text between the quotes, so skip the general parser (a sizeable share of a request's cost).
      const simple = SIMPLE_BODY.exec(text);
      let parsed: unknown;
      if (simple) parsed = { user_handle: simple[1] };
      else {
        try {
          parsed = JSON.parse(text);
        } catch (e) {
          throw new ClientError(400, `malformed JSON body: ${(e as Error).message}`);
        }
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new ClientError(400, 'request body must be a JSON object like {"user_handle":"110"}');
      }
      for (const [k, v] of Object.entries(parsed)) {
        if (k !== "user_handle" && k !== "n") throw new ClientError(400, `unknown field ${JSON.stringify(k)} in body (expected user_handle, n)`);
        take(k, v, "body");
      }
    }
    if (query) {
      let params: URLSearchParams;
      try {
        params = new URLSearchParams(query);
      } catch {
        throw new ClientError(400, "malformed query string");
      }
      for (const [k, v] of params) {
        if (k !== "user_handle" && k !== "n") throw new ClientError(400, `unknown query parameter ${JSON.stringify(k)} (expected user_handle, n)`);
        take(k, v, "query");
      }
    }
    const segment = path.length > 16 ? path.slice(16) : ""; // after "/api/similarity/"
    if (segment) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        throw new ClientError(400, "malformed percent-encoding in the user handle");
      }
      take("user_handle", decoded, "path");
    }
    if (given.user_handle === undefined) {
      throw new ClientError(400, 'missing user_handle: send {"user_handle":"110"}, ?user_handle=110 or /api/similarity/110');
    }
    const handle = parseHandle(given.user_handle);
    const requested = given.n;
    return then(reader.sync(), (changed) => {
      if (changed || generation !== reader.generation) {
        generation = reader.generation;
        cache.clear();
      }
      if (!reader.exists) throw new MissingTableError(reader.table);
      return then(reader.topN(), (top) => {
        const max = Math.max(top, 1);
        const n = requested === undefined ? Math.min(DEFAULT_N, max) : parseN(requested, max);
        const hit = cache.get(n, handle);
        if (hit !== undefined) return { status: 200, body: hit };
        return then(reader.neighbors(handle, n), (rows: NeighborRow[]) => {
          if (rows.length === 0) throw new ClientError(404, `no rankings for user ${JSON.stringify(handle)} in table ${reader.table}: unknown user, or a user without any similar user`);
          const body = renderNeighbors(rows);
          cache.set(n, handle, body);
          return { status: 200, body };
        });
      });
    });
  }

  /**
   * `/healthz`. With a token set (prod) only a request carrying it sees the details (table, last
   * run, error text); any other gets the status alone, enough for a load balancer's check.
   */
  function health(headers: HeaderList): Awaitable<HttpResponse> {
    const details = !expected || authorized(credential(headers));
    const unreachable = (e: unknown): HttpResponse => {
      // An open that is being retried is not a failure of ours to log once per probe.
      if (!(e instanceof StoreUnavailableError)) onError(e);
      return json(503, details ? { status: "unavailable", database: "unreachable", error: (e as Error).message } : { status: "unavailable" });
    };
    const brief = (): HttpResponse => json(reader.exists ? 200 : 503, { status: reader.exists ? "ok" : "unavailable" });
    const report = (run: RunRow | null, topN: number): HttpResponse =>
      json(reader.exists ? 200 : 503, {
        status: reader.exists ? "ok" : "unavailable",
        database: "reachable",
        table: { name: reader.table, present: reader.exists, topN },
        lastRun: run ? { id: run.id, method: run.method, finishedAt: run.finished_at, users: run.users_ranked } : null,
        ...(reader.exists ? {} : { error: new MissingTableError(reader.table).message }),
      });
    try {
      // ping → sync → last run → top-n, each step as soon as the previous one is in.
      const synced = then(reader.ping(), () => reader.sync(true));
      const answer = !details
        ? then(synced, brief)
        : then(
            then(synced, () => reader.lastRun()),
            (r) => then(reader.exists ? reader.topN() : 0, (topN) => report(r, topN)),
          );
      return answer instanceof Promise ? answer.catch(unreachable) : answer;
    } catch (e) {
      return unreachable(e);
    }
  }

  function route(req: HttpRequest): Awaitable<HttpResponse> {
    const q = req.target.indexOf("?");
    const path = q < 0 ? req.target : req.target.slice(0, q);
    const query = q < 0 ? "" : req.target.slice(q + 1);
    const method = req.method;
    if (path === "/healthz") {
      if (method !== "GET") throw new ClientError(405, `method ${method} not allowed on ${path}; use GET`, { Allow: ALLOW_READ });
      return health(req.headers);
    }
    if (path === "/api" || path.startsWith("/api/")) {
      authorize(req.headers);
      if (path === "/api/similarity" || path.startsWith("/api/similarity/")) {
        if (path.indexOf("/", 16) >= 0) throw new ClientError(404, `no route ${path}; a handle containing "/" must be percent-encoded`);
        if (method !== "GET" && method !== "POST") {
          throw new ClientError(405, `method ${method} not allowed on ${path}; use GET or POST`, { Allow: ALLOW_API });
        }
        return similarity(req, path, query);
      }
      if (path === "/api/openapi.json") {
        if (method !== "GET") throw new ClientError(405, `method ${method} not allowed on ${path}; use GET`, { Allow: ALLOW_READ });
        return { status: 200, body: openapi };
      }
    }
    throw new ClientError(404, `no route ${path}; see /api/openapi.json`);
  }

  const failed = (e: unknown): HttpResponse => {
    if (e instanceof ClientError) return json(e.status, { error: e.message }, e.headers);
    if (e instanceof MissingTableError) return json(503, { error: e.message }, { "Retry-After": "60" });
    if (e instanceof StoreUnavailableError) return json(503, { error: e.message }, { "Retry-After": "1" });
    onError(e);
    return json(500, { error: "internal server error" });
  };
  return (req) => {
    try {
      const res = route(req);
      return res instanceof Promise ? res.catch(failed) : res;
    } catch (e) {
      return failed(e);
    }
  };
}

/** `f(value)` now if `value` is here, else once it arrives: no promise when none is needed. */
function then<T, U>(value: Awaitable<T>, f: (v: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}
