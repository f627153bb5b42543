/**
 * A fitted model you can ask, in handles and item keys: similar users with filters, why two users
 * are similar, item recommendations, and the same for someone not in the data (a profile).
 * The CLI's `similar`/`recommend` and the API answer through here; methods work on ids.
 *
 * A recommender comes from a model just fitted (`new Recommender(await fit(...))`) or from a
 * store's rankings table ({@link loadRecommender}): the run's stored model on the store's input
 * tables, checked by fingerprint, so that with no options it answers exactly as the stored table.
 *
 * @example
 * const rec = await loadRecommender(store, "user_ranking");
 * rec.similar("110", { n: 50, exclude: ["5537"], minScore: 0.2 }).neighbors;
 * rec.explain("110", "5537").blocks;                     // { interests: 0.41, courses: 0.33, assessments: 0.14 }
 * rec.recommend("110", { kind: "courses", n: 5 }).items;
 * rec.similar({ interests: ["python"], courses: { "python-intro": 3600 } }).neighbors;
 */
import type { Dataset } from "./dataset.ts";
import type { RankingsStore, RunRow } from "./db/store.ts";
import { fingerprintDataset, type Fingerprint } from "./fingerprint.ts";
import { resolveOptions, type Explanation, type ItemKind, type Model, type Subject } from "./methods/method.ts";
import { getMethod, UnknownMethodError } from "./methods/registry.ts";
import { parseProfile, profileOf, type Profile, type UnknownItems } from "./profile.ts";
import { kindIndex, NotSupportedError, profileItems, recommendItems, type ItemIndex, type RecommendOptions } from "./recommend.ts";

export { NotSupportedError } from "./recommend.ts";

/** A handle that is not a user of the model's data. */
export class UnknownUserError extends RangeError {
  override name = "UnknownUserError";
  constructor(readonly handle: string) {
    super(`unknown user ${JSON.stringify(handle)}: not in the data the model was fitted on`);
  }
}

/** Whom to ask about: a user handle, or a profile of someone not in the data. */
export type Who = string | Profile;

/** Options of {@link Recommender.similar}. */
export interface SimilarOptions {
  /** How many (default 10); any number, capped at all other users. */
  n?: number;
  /** Handles never returned. */
  exclude?: readonly string[];
  /** Only these handles may be returned (e.g. a cohort). */
  within?: readonly string[];
  /** Only neighbours scoring at least this. */
  minScore?: number;
  /** Add each neighbour's {@link Explanation}, listing this many items (true: 10). */
  explain?: boolean | number;
}

/** One similar user. */
export interface Neighbor {
  similar: string;
  score: number;
  explanation?: Explanation;
}

/** Handles given to `exclude`/`within` that are not users of the data (they cannot be returned anyway). */
export interface IgnoredHandles {
  exclude: string[];
  within: string[];
}

export interface SimilarAnswer {
  neighbors: Neighbor[];
  /** For a profile: its items the model does not know (left out). */
  unknown?: UnknownItems;
  ignored: IgnoredHandles;
}

/** Options of {@link Recommender.recommend}. */
export interface RecommendQuery extends RecommendOptions {
  /** Leave out items (of the kind) these keys name. */
  exclude?: readonly string[];
}

/** One recommended item. */
export interface RecommendedItemAnswer {
  /** The course id, interest tag or assessment tag. */
  item: string;
  /** What it was ranked by: the neighbours' vote total, or the model's own score (`using: "model"`). */
  score: number;
  /** Σ similarity of the neighbours that have it. */
  votes: number;
  /** Those neighbours, most similar first. */
  voters: { similar: string; score: number }[];
}

export interface RecommendAnswer {
  kind: ItemKind;
  using: "neighbors" | "model";
  items: RecommendedItemAnswer[];
  unknown?: UnknownItems;
}

/** Most items an explanation lists. */
export const MAX_EXPLAIN_ITEMS = 100;

/** A fitted model asked in handles (see the module comment). */
export class Recommender {
  private readonly indexes = new Map<ItemKind, ItemIndex>();
  private readonly sorted = new Map<string, readonly string[]>();

  constructor(
    readonly model: Model,
    /** The stored run the model belongs to, when loaded from a store. */
    readonly run: RunRow | null = null,
  ) {}

  get dataset(): Dataset {
    return this.model.dataset;
  }

  get method(): string {
    return this.model.method;
  }

  /** The id of a user handle. @throws {UnknownUserError} */
  userId(handle: string): number {
    const id = this.dataset.userId(handle.trim());
    if (id === undefined) throw new UnknownUserError(handle);
    return id;
  }

  /**
   * Up to `limit` handles (or items of a kind) starting with `prefix`, shortest first, then in
   * code-unit order: "11" suggests 11, 110, 111 … before 1100 (the explorer's search box).
   */
  suggest(kind: "users" | ItemKind, prefix: string, limit = 10): string[] {
    let sorted = this.sorted.get(kind);
    if (!sorted) this.sorted.set(kind, (sorted = [...this.dataset[kind]].sort()));
    return suggest(sorted, prefix, limit);
  }

  /** What a user has, as a profile (interests, seconds per course, best score per assessment). */
  profile(handle: string): Required<Profile> {
    return profileOf(this.dataset, this.userId(handle));
  }

  /** The model's subject for a handle or a profile (checked; see `parseProfile`). */
  subject(who: Who): { subject: Subject; unknown?: UnknownItems } {
    if (typeof who === "string") return { subject: this.userId(who) };
    if (!this.model.foldIn) throw new NotSupportedError(`method ${this.method} cannot place a new user (no fold-in)`);
    const folded = this.model.foldIn(parseProfile(who));
    return { subject: folded, unknown: folded.unknown };
  }

  /**
   * The users most similar to `who`, best first, ties by canonical handle order. For a user with
   * no options this is exactly its row of the rankings table the model produced.
   */
  similar(who: Who, options: SimilarOptions = {}): SimilarAnswer {
    const users = this.dataset.users.length;
    const n = options.n ?? 10;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
    if (options.minScore !== undefined && !Number.isFinite(options.minScore)) throw new RangeError(`minScore must be a finite number, got ${options.minScore}`);
    const limit = explainItems(options.explain);
    const { subject, unknown } = this.subject(who);
    const { eligible, ignored } = this.eligibility(options);
    const found = this.model.similarUsers(subject, { n: Math.min(n, Math.max(users, 1)), eligible, minScore: options.minScore });
    const neighbors: Neighbor[] = [];
    for (let k = 0; k < found.ids.length; k++) {
      const v = found.ids[k];
      const neighbor: Neighbor = { similar: this.dataset.users[v], score: found.scores[k] };
      if (limit > 0) neighbor.explanation = this.explainIds(subject, v, limit);
      neighbors.push(neighbor);
    }
    return unknown ? { neighbors, unknown, ignored } : { neighbors, ignored };
  }

  /** Why `other` is similar to `who` (see `Explanation`); `items` caps the items listed (default 10). */
  explain(who: Who, other: string, items = 10): Explanation {
    return this.explainIds(this.subject(who).subject, this.userId(other), items);
  }

  private explainIds(subject: Subject, other: number, items: number): Explanation {
    if (!this.model.explain) throw new NotSupportedError(`method ${this.method} cannot explain its scores`);
    return this.model.explain(subject, other, { items });
  }

  /** Items for `who` voted by its neighbours (or scored by the model), each with the neighbours that have it. */
  recommend(who: Who, options: RecommendQuery = {}): RecommendAnswer {
    const kind = options.kind ?? "courses";
    if (kind !== "courses" && kind !== "interests" && kind !== "assessments") throw new RangeError(`kind must be courses, interests or assessments, got ${JSON.stringify(kind)}`);
    const using = options.using ?? "neighbors";
    if (using !== "neighbors" && using !== "model") throw new RangeError(`using must be neighbors or model, got ${JSON.stringify(using)}`);
    let index = this.indexes.get(kind);
    if (!index) this.indexes.set(kind, (index = kindIndex(this.dataset, kind)));
    const { subject, unknown } = this.subject(who);
    // The folded profile holds the checked, normalized profile: its items are the ones seen.
    const seen = typeof subject === "number" ? [] : profileItems(index, subject.profile, kind);
    const exclude: number[] = [];
    if (options.exclude?.length) {
      const drop = new Set(options.exclude);
      index.items.forEach((key, i) => drop.has(key) && exclude.push(i));
    }
    const found = recommendItems(this.model, index, subject, { seen, exclude }, { ...options, kind });
    const items = found.map((r) => ({
      item: index.items[r.item],
      score: r.score,
      votes: r.votes,
      voters: r.voters.map((v) => ({ similar: this.dataset.users[v.user], score: v.similarity })),
    }));
    return unknown ? { kind, using, items, unknown } : { kind, using, items };
  }

  /** The eligibility mask of `exclude`/`within` (null when neither is given). */
  private eligibility(options: SimilarOptions): { eligible: Uint8Array | null; ignored: IgnoredHandles } {
    const ignored: IgnoredHandles = { exclude: [], within: [] };
    if (!options.exclude?.length && !options.within) return { eligible: null, ignored };
    const users = this.dataset.users.length;
    const eligible = new Uint8Array(users);
    if (options.within) {
      for (const h of options.within) {
        const id = this.dataset.userId(h.trim());
        if (id === undefined) ignored.within.push(h);
        else eligible[id] = 1;
      }
    } else eligible.fill(1);
    for (const h of options.exclude ?? []) {
      const id = this.dataset.userId(h.trim());
      if (id === undefined) ignored.exclude.push(h);
      else eligible[id] = 0;
    }
    return { eligible, ignored };
  }
}

/** Up to `limit` of the `sorted` keys that start with `prefix`, shortest first, then in code-unit order (binary search to the first). */
export function suggest(sorted: readonly string[], prefix: string, limit: number): string[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < prefix) lo = mid + 1;
    else hi = mid;
  }
  const found: string[] = [];
  for (let i = lo; i < sorted.length && sorted[i].startsWith(prefix); i++) found.push(sorted[i]);
  found.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  return found.slice(0, limit);
}

function explainItems(explain: boolean | number | undefined): number {
  if (explain === undefined || explain === false) return 0;
  if (explain === true) return 10;
  if (!Number.isInteger(explain) || explain < 1 || explain > MAX_EXPLAIN_ITEMS) throw new RangeError(`explain must be true or a number of items between 1 and ${MAX_EXPLAIN_ITEMS}, got ${explain}`);
  return explain;
}

/** The rankings table was computed from other input than the store now holds. */
export class StaleRankingsError extends Error {
  override name = "StaleRankingsError";
  constructor(
    readonly table: string,
    readonly run: RunRow,
    readonly current: Fingerprint,
  ) {
    super(`rankings table ${table} is out of date: run ${run.id} ranked other input than the database now holds; run \`recsys pipeline --method ${run.method} --results-table ${table}\``);
  }
}

/** The rankings table has no recorded run (made by hand, or by another tool). */
export class NoRunError extends Error {
  override name = "NoRunError";
  constructor(readonly table: string) {
    super(`rankings table ${table} has no recorded run, so there is no model to ask; create it with \`recsys pipeline --results-table ${table}\``);
  }
}

/** What {@link loadRecommender} reports about the loading. */
export interface LoadInfo {
  /** Whether the model was restored from stored state, or fitted again from the run's options. */
  source: "stored" | "refit";
  seconds: number;
}

/**
 * The model of the latest run of `table`, on the store's input tables: restored from the stored
 * state where the method keeps one, else fitted again with the run's options (the same model for
 * a deterministic method).
 * @throws {NoRunError} if the table has no recorded run.
 * @throws {StaleRankingsError} if the input tables changed since the run (the stored rankings
 *   and a model fitted on today's input would disagree).
 */
export async function loadRecommender(store: RankingsStore, table: string, onLoad?: (info: LoadInfo) => void): Promise<Recommender> {
  const t0 = performance.now();
  const run = await store.lastRun(table);
  if (!run) throw new NoRunError(table);
  let method;
  try {
    method = getMethod(run.method);
  } catch (e) {
    if (e instanceof UnknownMethodError) throw new Error(`rankings table ${table} was made by method ${run.method}, which this version does not have`);
    throw e;
  }
  const dataset = await store.loadDataset();
  const current = fingerprintDataset(dataset);
  if ((run.input as Fingerprint | null)?.sha256 !== current.sha256) throw new StaleRankingsError(table, run, current);
  // The recorded params hold the method's options plus the run's own (topN, threads).
  // Options the run predates were what it was made with: the method's recorded defaults, not today's.
  const given = { ...method.recordedDefaults, ...Object.fromEntries(Object.entries(run.params).filter(([key]) => key in method.options)) };
  const options = resolveOptions(method, given);
  const state = method.restore ? await store.loadModel(run.id) : null;
  const model = state && method.restore ? method.restore(dataset, options, state) : await method.fit(dataset, options);
  onLoad?.({ source: state ? "stored" : "refit", seconds: (performance.now() - t0) / 1000 });
  return new Recommender(model, run);
}
