/**
 * The API's queries beyond the stored top-n: their fields (checked, each error naming its field),
 * and the answers computed from a table's model (`Recommender`). The seed's request
 * (`{"user_handle":"110"}`, optionally with `n` up to the stored top-n) never comes here: it is
 * answered from the rankings table, byte for byte as before (see app.ts).
 */
import type { Explanation } from "../methods/method.ts";
import { ProfileError, parseProfile, type Profile } from "../profile.ts";
import { MAX_EXPLAIN_ITEMS, type Neighbor, type RecommendAnswer } from "../recommender.ts";
import type { ModelHost } from "./model-host.ts";
import { roundScore } from "./render.ts";

/** A client mistake: becomes `{"error": message}` with `status`. */
export class ClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** Longest accepted user handle, characters. */
export const MAX_HANDLE = 256;
/** Most handles in one batch (`user_handles`). */
export const MAX_BATCH = 100;
/** Most handles in `exclude` or `within`. */
export const MAX_HANDLE_LIST = 10_000;
/** Largest `n` the API answers from a model (an answer stays under ~0.5 MB). */
export const MAX_N = 10_000;

/** Fields of `/api/similarity/` and `/api/recommendations/`. */
export const SIMILARITY_FIELDS = ["user_handle", "user_handles", "profile", "n", "exclude", "within", "min_score", "explain", "method", "table"] as const;
export const RECOMMENDATION_FIELDS = ["user_handle", "user_handles", "profile", "n", "kind", "using", "neighbors", "exclude", "exclude_seen", "method", "table"] as const;

/**
 * Validates a user handle from JSON (string or integer) or from a URL (string). Handles are
 * trimmed, as ingest trims them.
 */
export function parseHandle(value: unknown, field = "user_handle"): string {
  let handle: string;
  if (typeof value === "string") handle = value.trim();
  else if (typeof value === "number" && Number.isSafeInteger(value)) handle = String(value);
  else throw new ClientError(400, `${field} must be a string or an integer`);
  if (handle === "") throw new ClientError(400, `${field} must not be empty`);
  // Characters (code points), as the OpenAPI maxLength counts them, not UTF-16 units.
  if (handle.length > MAX_HANDLE && [...handle].length > MAX_HANDLE) throw new ClientError(400, `${field} must be at most ${MAX_HANDLE} characters`);
  return handle;
}

/** An integer in [min, max] from JSON, or decimal digits from a URL. */
export function parseInteger(value: unknown, field: string, min: number, max: number, what = ""): number {
  const n = typeof value === "string" && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new ClientError(400, `${field} must be an integer between ${min} and ${max}${what}, got ${JSON.stringify(value) ?? "nothing"}`);
  }
  return n;
}

/** A list of handles: a JSON array, or comma-separated text from a URL. */
function parseHandles(value: unknown, field: string, max: number): string[] {
  const list = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(list)) throw new ClientError(400, `${field} must be an array of user handles (or comma-separated in a URL)`);
  if (list.length > max) throw new ClientError(400, `${field} has ${list.length} handles; at most ${max}`);
  return list.map((h, i) => parseHandle(h, `${field}[${i}]`));
}

function parseBoolean(value: unknown, field: string): boolean {
  if (value === true || value === "true" || value === "1") return true;
  if (value === false || value === "false" || value === "0") return false;
  throw new ClientError(400, `${field} must be true or false, got ${JSON.stringify(value)}`);
}

function parseNumber(value: unknown, field: string): number {
  const x = typeof value === "string" && /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value.trim()) ? Number(value) : value;
  if (typeof x !== "number" || !Number.isFinite(x)) throw new ClientError(400, `${field} must be a finite number, got ${JSON.stringify(value)}`);
  return x;
}

function parseChoice<T extends string>(value: unknown, field: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === value);
  if (found === undefined) throw new ClientError(400, `${field} must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`);
  return found;
}

/** Whom a request asks about: one user, a batch, or a profile. */
export type Asked = { user: string } | { users: string[] } | { profile: Profile };

/** A checked request of either route. */
export interface ModelQuery {
  asked: Asked;
  n?: number;
  exclude?: string[];
  within?: string[];
  minScore?: number;
  explain?: boolean | number;
  kind?: "courses" | "interests" | "assessments";
  using?: "neighbors" | "model";
  neighbors?: number;
  excludeSeen?: boolean;
}

/** Checks the collected fields of a request (body, query and path merged). */
export function parseModelQuery(given: Record<string, unknown>): ModelQuery {
  const forms = ["user_handle", "user_handles", "profile"].filter((f) => given[f] !== undefined);
  if (forms.length === 0) throw new ClientError(400, 'missing user_handle: send {"user_handle":"110"}, {"user_handles":["110","5537"]} or {"profile":{"interests":["python"]}}');
  if (forms.length > 1) throw new ClientError(400, `give one of user_handle, user_handles and profile, not ${forms.join(" and ")}`);
  let asked: Asked;
  if (given.user_handle !== undefined) asked = { user: parseHandle(given.user_handle) };
  else if (given.user_handles !== undefined) {
    const users = parseHandles(given.user_handles, "user_handles", MAX_BATCH);
    if (users.length === 0) throw new ClientError(400, "user_handles must not be empty");
    asked = { users };
  } else {
    if (typeof given.profile === "string") throw new ClientError(400, "profile must be a JSON object in the body (POST), not a query parameter");
    try {
      asked = { profile: parseProfile(given.profile) };
    } catch (e) {
      if (e instanceof ProfileError) throw new ClientError(400, e.message);
      throw e;
    }
  }
  const q: ModelQuery = { asked };
  if (given.n !== undefined) q.n = parseInteger(given.n, "n", 1, MAX_N);
  if (given.exclude !== undefined) q.exclude = parseHandles(given.exclude, "exclude", MAX_HANDLE_LIST);
  if (given.within !== undefined) q.within = parseHandles(given.within, "within", MAX_HANDLE_LIST);
  if (given.min_score !== undefined) q.minScore = parseNumber(given.min_score, "min_score");
  if (given.explain !== undefined) {
    const e = given.explain;
    q.explain = typeof e === "number" || (typeof e === "string" && /^\d+$/.test(e)) ? parseInteger(e, "explain", 1, MAX_EXPLAIN_ITEMS, " (items listed) or true") : parseBoolean(e, "explain");
  }
  if (given.kind !== undefined) q.kind = parseChoice(given.kind, "kind", ["courses", "interests", "assessments"] as const);
  if (given.using !== undefined) q.using = parseChoice(given.using, "using", ["neighbors", "model"] as const);
  if (given.neighbors !== undefined) q.neighbors = parseInteger(given.neighbors, "neighbors", 1, 1000);
  if (given.exclude_seen !== undefined) q.excludeSeen = parseBoolean(given.exclude_seen, "exclude_seen");
  return q;
}

/** A neighbour as served: the seed's two fields (score rounded as the table's answers), plus its explanation when asked. */
export function neighborJson(x: Neighbor): Record<string, unknown> {
  return x.explanation ? { similar: x.similar, score: roundScore(x.score), explanation: explanationJson(x.explanation) } : { similar: x.similar, score: roundScore(x.score) };
}

/** An explanation as served: full precision, so its parts add up to its score. */
export function explanationJson(e: Explanation): Record<string, unknown> {
  return { score: e.score, blocks: e.blocks, residual: e.residual, items: e.items, meaning: e.meaning };
}

/**
 * Awaits a model's answer, turning its complaints about the request into 4xx. By error name: a
 * model in a worker reports its errors by name and message.
 */
async function asClient<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (e) {
    const name = (e as Error)?.name;
    if (name === "UnknownUserError") throw new ClientError(404, (e as Error).message);
    if (name === "NotSupportedError" || name === "ProfileError" || name === "RangeError") throw new ClientError(400, (e as Error).message);
    throw e;
  }
}

/** The answer of `/api/similarity/` from a model. */
export async function similarityAnswer(rec: ModelHost, q: ModelQuery): Promise<unknown> {
  const options = { n: q.n, exclude: q.exclude, within: q.within, minScore: q.minScore, explain: q.explain };
  const one = (who: string | Profile) => asClient(rec.similar(who, options));
  if ("user" in q.asked) {
    const a = await one(q.asked.user);
    // Without filters, no neighbour at all is the table's 404; with them, an empty list is an answer.
    const filtered = q.exclude !== undefined || q.within !== undefined || q.minScore !== undefined;
    if (a.neighbors.length === 0 && !filtered) throw new ClientError(404, `no similar users for ${JSON.stringify(q.asked.user)}: a user without any similar user`);
    return a.neighbors.map(neighborJson);
  }
  if ("users" in q.asked) {
    return {
      results: await Promise.all(
        q.asked.users.map(async (user) => {
          try {
            return { user_handle: user, similar: (await one(user)).neighbors.map(neighborJson) };
          } catch (e) {
            if (e instanceof ClientError) return { user_handle: user, error: e.message };
            throw e;
          }
        }),
      ),
    };
  }
  const a = await one(q.asked.profile);
  return { similar: a.neighbors.map(neighborJson), unknown: a.unknown };
}

/** A recommendation as served (voters' scores rounded as neighbours' are); `recsys recommend --json` prints the same. */
export function recommendationJson(a: RecommendAnswer): Record<string, unknown> {
  return { kind: a.kind, using: a.using, items: a.items.map((i) => ({ ...i, voters: i.voters.map((v) => ({ similar: v.similar, score: roundScore(v.score) })) })), ...(a.unknown ? { unknown: a.unknown } : {}) };
}

/** The answer of `/api/recommendations/` from a model. */
export async function recommendationsAnswer(rec: ModelHost, q: ModelQuery): Promise<unknown> {
  const options = { n: q.n, kind: q.kind, using: q.using, neighbors: q.neighbors, excludeSeen: q.excludeSeen };
  const one = async (who: string | Profile) => {
    return recommendationJson(await asClient(rec.recommend(who, { ...options, exclude: q.exclude })));
  };
  if ("user" in q.asked) return one(q.asked.user);
  if ("users" in q.asked) {
    const users = q.asked.users;
    return {
      results: await Promise.all(
        users.map(async (user) => {
          try {
            return { user_handle: user, ...(await one(user)) };
          } catch (e) {
            if (e instanceof ClientError) return { user_handle: user, error: e.message };
            throw e;
          }
        }),
      ),
    };
  }
  return one(q.asked.profile);
}
