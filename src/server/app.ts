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
import { MissingTableError, MissingTablesError, StoreUnavailableError, type Awaitable, type NeighborRow, type RunRow, type TableReader } from "../db/store.ts";
import type { Fingerprint } from "../fingerprint.ts";
import { UnknownMethodError } from "../methods/registry.ts";
import { NoRunError, StaleRankingsError } from "../recommender.ts";
import { UnknownTableError, type Catalog } from "./catalog.ts";
import { ClientError, MAX_HANDLE, type ModelQuery, parseHandle, parseModelQuery, recommendationsAnswer, RECOMMENDATION_FIELDS, SIMILARITY_FIELDS, similarityAnswer } from "./queries.ts";
import { exploreRoute, isExploreRoute } from "./explore.ts";
import { renderNeighbors } from "./render.ts";

export { renderNeighbors, roundScore } from "./render.ts";
export { MAX_HANDLE, parseHandle } from "./queries.ts";

export interface AppOptions {
  /** When set, /api routes require `Authorization: Bearer <token>` (prod). */
  token?: string;
  /** Largest number of cached answers per generation (default 20,000; 0 disables). */
  cacheSize?: number;
  /** Unexpected failures (bugs, I/O errors) are reported here; the client sees a generic 500. */
  onError?: (error: unknown) => void;
  /**
   * Every rankings table of the store and the models behind them: queries beyond the stored
   * top-n (filters, explanations, profiles, recommendations, `method`/`table` per request).
   * Without it, only the stored top-n of `reader`'s table is served.
   */
  catalog?: Catalog;
}

/** `n` when the client gives none (or the stored top-n if that is smaller). */
export const DEFAULT_N = 10;

const JSON_DECODER = new TextDecoder("utf-8", { fatal: true });
const SIMPLE_BODY = /^\{"user_handle":"([^"\\\x00-\x1f]{1,256})"\}$/;
const ALLOW_API = "GET, HEAD, POST";
const ALLOW_READ = "GET, HEAD";

function json(status: number, value: unknown, headers?: Record<string, string>): HttpResponse {
  return { status, body: JSON.stringify(value), headers };
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

  /** The request's fields from the JSON body, the query string and the path, each given once. */
  function fields(req: HttpRequest, path: string, query: string, prefix: string, allowed: readonly string[]): Record<string, unknown> {
    const given: Record<string, unknown> = {};
    const expected = allowed.join(", ");
    const take = (key: string, value: unknown, where: string) => {
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
        if (!allowed.includes(k)) throw new ClientError(400, `unknown field ${JSON.stringify(k)} in body (expected ${expected})`);
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
        if (!allowed.includes(k)) throw new ClientError(400, `unknown query parameter ${JSON.stringify(k)} (expected ${expected})`);
        take(k, v, "query");
      }
    }
    const segment = path.length > prefix.length ? path.slice(prefix.length) : "";
    if (segment) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        throw new ClientError(400, "malformed percent-encoding in the user handle");
      }
      take("user_handle", decoded, "path");
    }
    return given;
  }

  /** Whether a similarity request is the seed's: one user, at most `n`, from the served table. */
  function isTableLookup(given: Record<string, unknown>): boolean {
    for (const k in given) if (k !== "user_handle" && k !== "n" && given[k] !== undefined) return false;
    return true;
  }

  function similarity(req: HttpRequest, path: string, query: string): Awaitable<HttpResponse> {
    const given = fields(req, path, query, "/api/similarity/", SIMILARITY_FIELDS);
    if (!isTableLookup(given)) return fromModel(given, "similarity");
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
        // More than the table holds: the model answers (exactly the table's order, continued).
        if (options.catalog && requested !== undefined && beyond(requested, max)) return fromModel(given, "similarity");
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

  /** Answers from the model behind the chosen table (`table`, the latest table of `method`, or the served one). */
  async function fromModel(given: Record<string, unknown>, route: "similarity" | "recommendations"): Promise<HttpResponse> {
    const catalog = options.catalog;
    if (!catalog) throw new ClientError(400, "this server answers only the stored top-n (user_handle and n)");
    const q = parseModelQuery(given);
    if (given.table !== undefined && given.method !== undefined) throw new ClientError(400, "give table or method, not both");
    const target =
      given.table !== undefined
        ? await catalog.table(String(given.table))
        : given.method !== undefined
          ? await catalog.tableOf(String(given.method))
          : reader;
    await target.sync();
    if (!target.exists) throw new MissingTableError(target.table);
    if (route === "similarity") {
      const stored = await fromTable(target, q);
      if (stored) return stored;
    }
    const rec = await catalog.recommender(target);
    const answer = await (route === "similarity" ? similarityAnswer(rec, q) : recommendationsAnswer(rec, q));
    return { status: 200, body: JSON.stringify(answer) };
  }

  /**
   * A similarity request without filters, explanation or profile, for no more than the table
   * holds, read from the chosen table's stored rows: the model would answer exactly them (same
   * users, scores and tie order; tested), so a `method`/`table` lookup or a batch costs what the
   * seed's request does and never waits for a model's first load. A user without stored rows is
   * left to the model, whose answer says why (unknown user, or one without neighbours).
   */
  async function fromTable(target: TableReader, q: ModelQuery): Promise<HttpResponse | null> {
    if (q.exclude !== undefined || q.within !== undefined || q.minScore !== undefined || q.explain || "profile" in q.asked) return null;
    const n = q.n ?? DEFAULT_N;
    if (n > (await target.topN())) return null;
    if ("user" in q.asked) {
      const rows = await target.neighbors(q.asked.user, n);
      return rows.length === 0 ? null : { status: 200, body: renderNeighbors(rows) };
    }
    const found = await Promise.all(q.asked.users.map((user) => target.neighbors(user, n)));
    if (found.some((rows) => rows.length === 0)) return null;
    const results = q.asked.users.map((user, i) => `{"user_handle":${JSON.stringify(user)},"similar":${renderNeighbors(found[i])}}`);
    return { status: 200, body: `{"results":[${results.join(",")}]}` };
  }

  function recommendations(req: HttpRequest, path: string, query: string): Awaitable<HttpResponse> {
    return fromModel(fields(req, path, query, "/api/recommendations/", RECOMMENDATION_FIELDS), "recommendations");
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
    const report = (run: RunRow | null, topN: number, input: Fingerprint | null): HttpResponse => {
      // Stale: the run ranked other input than the store now holds (a re-ingest since).
      const ranked = (run?.input as Fingerprint | undefined)?.sha256 ?? null;
      const current = input?.sha256 ?? null;
      return json(reader.exists ? 200 : 503, {
        status: reader.exists ? "ok" : "unavailable",
        database: "reachable",
        table: { name: reader.table, present: reader.exists, topN },
        lastRun: run ? { id: run.id, method: run.method, finishedAt: run.finished_at, users: run.users_ranked } : null,
        stale: Boolean(ranked && current && ranked !== current),
        input: { ranked, current },
        ...(reader.exists ? {} : { error: new MissingTableError(reader.table).message }),
      });
    };
    try {
      // ping → sync → last run → input → top-n, each step as soon as the previous one is in.
      const synced = then(reader.ping(), () => reader.sync(true));
      const answer = !details
        ? then(synced, brief)
        : then(
            then(synced, () => reader.lastRun()),
            (r) => then(reader.inputFingerprint(), (i) => then(reader.exists ? reader.topN() : 0, (topN) => report(r, topN, i))),
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
    // The explorer page (web.ts): static files, no data, so no token (the page asks for it).
    if (path === "/" || path === "/index.html" || path.startsWith("/assets/")) return page(path, method);
    if (path === "/api" || path.startsWith("/api/")) {
      authorize(req.headers);
      if (path === "/api/similarity" || path.startsWith("/api/similarity/")) {
        if (path.indexOf("/", 16) >= 0) throw new ClientError(404, `no route ${path}; a handle containing "/" must be percent-encoded`);
        if (method !== "GET" && method !== "POST") {
          throw new ClientError(405, `method ${method} not allowed on ${path}; use GET or POST`, { Allow: ALLOW_API });
        }
        return similarity(req, path, query);
      }
      if (path === "/api/recommendations" || path.startsWith("/api/recommendations/")) {
        if (path.indexOf("/", 21) >= 0) throw new ClientError(404, `no route ${path}; a handle containing "/" must be percent-encoded`);
        if (method !== "GET" && method !== "POST") {
          throw new ClientError(405, `method ${method} not allowed on ${path}; use GET or POST`, { Allow: ALLOW_API });
        }
        return recommendations(req, path, query);
      }
      // The explorer page's read-only routes (explore.ts): profile, suggestions, tables, histograms.
      if (isExploreRoute(path)) {
        if (!options.catalog) throw new ClientError(404, `no route ${path}: this server answers only the stored top-n`);
        return exploreRoute(options.catalog, method, path, query);
      }
      if (path === "/api/openapi.json") {
        if (method !== "GET") throw new ClientError(405, `method ${method} not allowed on ${path}; use GET`, { Allow: ALLOW_READ });
        return { status: 200, body: openapi };
      }
    }
    throw new ClientError(404, `no route ${path}; see /api/openapi.json`);
  }

  /**
   * The explorer page's files, loaded on the first request for one: importing web.ts bundles the
   * page from source (~80 ms) when not running a compiled executable, a cost the library and the
   * CLI's other commands need not pay.
   */
  let web: Promise<typeof import("./web.ts")> | undefined;
  async function page(path: string, method: string): Promise<HttpResponse> {
    const file = (await (web ??= import("./web.ts"))).webRoute(path);
    if (!file) throw new ClientError(404, `no route ${path}; see /api/openapi.json`);
    if (method !== "GET") throw new ClientError(405, `method ${method} not allowed on ${path}; use GET`, { Allow: ALLOW_READ });
    return file;
  }

  const failed = (e: unknown): HttpResponse => {
    if (e instanceof ClientError) return json(e.status, { error: e.message }, e.headers);
    if (e instanceof MissingTableError) return json(503, { error: e.message }, { "Retry-After": "60" });
    if (e instanceof UnknownTableError) return json(404, { error: e.message });
    // An unknown method, like an unknown table, is a 404 (issue 11): nothing answers by that name.
    if (e instanceof UnknownMethodError) return json(404, { error: `method: ${e.message}` });
    // The table's rankings and the input disagree, or there is no run to load: the operator must re-run the pipeline.
    // By name too: a model loaded in a worker reports its errors by name and message.
    const name = (e as Error)?.name;
    if (e instanceof StaleRankingsError || e instanceof NoRunError || name === "StaleRankingsError" || name === "NoRunError") return json(409, { error: (e as Error).message });
    if (e instanceof MissingTablesError || name === "MissingTablesError") return json(409, { error: `the model cannot be loaded: ${(e as Error).message}` });
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

/** Whether a requested `n` (JSON or URL text) is a valid count above `max`. */
function beyond(value: unknown, max: number): boolean {
  const n = typeof value === "string" && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : value;
  return typeof n === "number" && Number.isInteger(n) && n > max;
}

/** `f(value)` now if `value` is here, else once it arrives: no promise when none is needed. */
function then<T, U>(value: Awaitable<T>, f: (v: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}
