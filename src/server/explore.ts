/**
 * The explorer page's read-only routes (the page is a client of the public API like any other):
 * a learner's profile, handle and item suggestions, the rankings tables with their runs, and the
 * score and overlap histograms of a table. Each answer is small and bounded; the seed's request
 * path (app.ts) never comes here.
 */
import { MissingTableError, type RankingsStore, type RunRow, type TableReader } from "../db/store.ts";
import type { Fingerprint } from "../fingerprint.ts";
import type { ModelHost } from "./model-host.ts";
import type { Catalog } from "./catalog.ts";
import type { HttpResponse } from "./http.ts";
import { ClientError, parseHandle, parseInteger } from "./queries.ts";

/** Most suggestions one request returns. */
export const MAX_SUGGESTIONS = 50;
/** Bins of a score histogram. */
const SCORE_BINS = 20;
/** Rank whose score the second histogram shows, and the depth of overlap@k. */
const DEPTH = 10;

/** Whether `path` is one of this module's routes. */
export function isExploreRoute(path: string): boolean {
  return path === "/api/users" || path.startsWith("/api/users/") || path === "/api/items" || path === "/api/tables" || path.startsWith("/api/tables/");
}

/** A route's query string: each allowed field at most once, nothing else. */
function queryFields(query: string, allowed: readonly string[]): Record<string, string> {
  const given: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) {
    if (!allowed.includes(k)) throw new ClientError(400, `unknown query parameter ${JSON.stringify(k)} (expected ${allowed.join(", ") || "none"})`);
    if (given[k] !== undefined) throw new ClientError(400, `${k} given twice`);
    given[k] = v;
  }
  return given;
}

function segment(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ClientError(400, `malformed percent-encoding in the ${what}`);
  }
}

/**
 * Answers `GET /api/users/{handle}`, `/api/users?prefix=`, `/api/items?kind=&prefix=`,
 * `/api/tables` and `/api/tables/{t}/histogram` (see {@link isExploreRoute}).
 */
export async function exploreRoute(catalog: Catalog, method: string, path: string, query: string): Promise<HttpResponse> {
  if (method !== "GET") throw new ClientError(405, `method ${method} not allowed on ${path}; use GET`, { Allow: "GET, HEAD" });
  const ok = (value: unknown): HttpResponse => ({ status: 200, body: JSON.stringify(value) });
  if (path === "/api/tables") {
    queryFields(query, []);
    return ok(await tablesAnswer(catalog));
  }
  const hist = /^\/api\/tables\/([^/]+)\/histogram$/.exec(path);
  if (hist) return ok(await histogramAnswer(catalog, segment(hist[1], "table name"), queryFields(query, ["compare"])));
  const user = /^\/api\/users\/([^/]+)$/.exec(path);
  if (user) {
    const given = queryFields(query, ["method", "table"]);
    return ok(await profileAnswer(await catalog.recommender(await target(catalog, given)), segment(user[1], "user handle")));
  }
  if (path === "/api/users" || path === "/api/items") {
    const route = path === "/api/users" ? "users" : "items";
    const given = queryFields(query, route === "users" ? ["prefix", "limit", "method", "table"] : ["kind", "prefix", "limit", "method", "table"]);
    return ok(await suggestAnswer(await catalog.recommender(await target(catalog, given)), given, route));
  }
  throw new ClientError(404, `no route ${path}; see /api/openapi.json`);
}

/** The table a request names (`table`, the latest of `method`, or the served one). */
async function target(catalog: Catalog, given: Record<string, string>): Promise<TableReader> {
  if (given.table !== undefined && given.method !== undefined) throw new ClientError(400, "give table or method, not both");
  if (given.table !== undefined) return catalog.table(given.table);
  if (given.method !== undefined) return catalog.tableOf(given.method);
  await catalog.main.sync();
  if (!catalog.main.exists) throw new MissingTableError(catalog.main.table);
  return catalog.main;
}

/** `GET /api/users/{handle}`: what the learner has (interests, seconds per course, best score per assessment). */
export async function profileAnswer(rec: ModelHost, handle: string): Promise<unknown> {
  const h = parseHandle(handle);
  try {
    return { user_handle: h, ...(await rec.profile(h)) };
  } catch (e) {
    if ((e as Error)?.name === "UnknownUserError") throw new ClientError(404, `unknown user ${JSON.stringify(h)}: not in the data the table's run ranked`);
    throw e;
  }
}

/** `GET /api/users?prefix=` and `GET /api/items?kind=&prefix=`. */
export async function suggestAnswer(rec: ModelHost, given: Record<string, string>, route: "users" | "items"): Promise<unknown> {
  const prefix = (given.prefix ?? "").trim();
  if (prefix.length > 256) throw new ClientError(400, "prefix must be at most 256 characters");
  const limit = given.limit === undefined ? 10 : parseInteger(given.limit, "limit", 1, MAX_SUGGESTIONS);
  if (route === "users") return { users: await rec.suggest("users", prefix, limit) };
  const kind = given.kind ?? "courses";
  if (kind !== "interests" && kind !== "courses" && kind !== "assessments") throw new ClientError(400, `kind must be one of interests, courses, assessments, got ${JSON.stringify(kind)}`);
  return { kind, items: await rec.suggest(kind, prefix, limit) };
}

/** A run as the page shows it. */
function runJson(run: RunRow) {
  return {
    id: run.id,
    method: run.method,
    params: run.params,
    startedAt: run.started_at,
    finishedAt: run.finished_at,
    users: run.users_ranked,
    rows: run.rows_written,
    stages: run.stages,
    input: run.input,
  };
}

/**
 * What this module computed from one store (run ids and table generations mean nothing in
 * another; a database file replaced at its path is another store): each run's epoch stats, and
 * histograms by table, run and generation.
 */
const caches = new WeakMap<RankingsStore, { epochs: Map<number, Promise<unknown[] | null>>; histograms: Map<string, Promise<unknown>> }>();

function cachesOf(store: RankingsStore) {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = { epochs: new Map(), histograms: new Map() }));
  return c;
}

/** Per-epoch training stats kept with a run's model (factorization): read once per run. */
async function epochsOf(catalog: Catalog, run: RunRow): Promise<unknown[] | null> {
  const store = catalog.store;
  const cache = cachesOf(store).epochs;
  let epochs = cache.get(run.id);
  if (!epochs) {
    epochs = Promise.resolve(store.loadModel(run.id)).then((state) => (Array.isArray(state?.meta.epochs) ? (state.meta.epochs as unknown[]) : null));
    if (cache.size >= 64) cache.clear();
    cache.set(run.id, epochs);
    epochs.catch(() => cache.delete(run.id));
  }
  return epochs;
}

/** `GET /api/tables`: every rankings table, its latest run, whether it is stale, and FM's epoch stats. */
export async function tablesAnswer(catalog: Catalog): Promise<unknown> {
  const store = catalog.store;
  const [tables, current] = await Promise.all([store.rankingsTables(), store.inputFingerprint()]);
  return {
    served: catalog.main.table,
    input: current?.sha256 ?? null,
    tables: await Promise.all(
      tables.map(async ({ table, run }) => {
        const ranked = (run?.input as Fingerprint | undefined)?.sha256 ?? null;
        return {
          table,
          run: run ? runJson(run) : null,
          stale: Boolean(ranked && current && ranked !== current.sha256),
          epochs: run ? await epochsOf(catalog, run) : null,
        };
      }),
    ),
  };
}

/** Equal-width bins over [min, max] (one bin when they are equal). */
function histogram(values: number[]): { min: number; max: number; counts: number[] } {
  if (values.length === 0) return { min: 0, max: 0, counts: [] };
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const bins = max > min ? SCORE_BINS : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - min) / (max - min || 1)) * bins))]++;
  return { min, max, counts };
}

/** Each user's top-`DEPTH` handles and scores, streamed from the table. */
async function topRows(catalog: Catalog, table: string): Promise<Map<string, { similar: string[]; scores: number[] }>> {
  const rows = new Map<string, { similar: string[]; scores: number[] }>();
  for await (const [user, rank, similar, score] of catalog.store.scan(table)) {
    if (rank > DEPTH) continue;
    let r = rows.get(user);
    if (!r) rows.set(user, (r = { similar: [], scores: [] }));
    r.similar.push(similar);
    r.scores.push(score);
  }
  return rows;
}

/**
 * `GET /api/tables/{t}/histogram[?compare=u]`: the distribution over users of the top-1 score and
 * of the score at rank 10 (the last a top-10 list keeps); with `compare`, how many of each user's
 * top-10 the other table's top-10 shares (overlap@10, users in both tables).
 */
export async function histogramAnswer(catalog: Catalog, name: string, given: Record<string, string>): Promise<unknown> {
  if (given.compare === name) throw new ClientError(400, "compare must name another table");
  const reader = await catalog.table(name);
  const other = given.compare !== undefined ? await catalog.table(given.compare) : null;
  const [run, otherRun] = await Promise.all([reader.lastRun(), other?.lastRun() ?? null]);
  const key = JSON.stringify([reader.table, run?.id ?? null, reader.generation, other?.table ?? null, otherRun?.id ?? null, other?.generation ?? null]);
  // A new run or a swapped table is a new key; a few tables at most.
  const cache = cachesOf(catalog.store).histograms;
  let answer = cache.get(key);
  if (!answer) {
    answer = computeHistogram(catalog, reader.table, other?.table ?? null);
    if (cache.size >= 16) cache.clear();
    cache.set(key, answer);
    answer.catch(() => cache.delete(key));
  }
  return answer;
}

async function computeHistogram(catalog: Catalog, table: string, compare: string | null): Promise<unknown> {
  const rows = await topRows(catalog, table);
  const top1: number[] = [];
  const top10: number[] = [];
  for (const r of rows.values()) {
    top1.push(r.scores[0]);
    if (r.scores.length >= DEPTH) top10.push(r.scores[DEPTH - 1]);
  }
  const answer: Record<string, unknown> = { table, users: rows.size, top1: histogram(top1), top10: histogram(top10) };
  if (compare !== null) {
    const theirs = await topRows(catalog, compare);
    const counts = new Array<number>(DEPTH + 1).fill(0);
    let users = 0;
    let sum = 0;
    for (const [user, mine] of rows) {
      const t = theirs.get(user);
      if (!t) continue;
      const set = new Set(t.similar);
      let shared = 0;
      for (const s of mine.similar) if (set.has(s)) shared++;
      counts[shared]++;
      users++;
      sum += shared;
    }
    answer.overlap = { compare, k: DEPTH, users, counts, mean: users ? sum / users : 0 };
  }
  return answer;
}
