/**
 * Offline evaluation of the ranking methods by held-out item recovery.
 *
 * 1. {@link splitHoldout}: for every user, hide a seeded `fraction` (default 20%) of the user's
 *    distinct interest tags and viewed courses, pooled: h = round(fraction · n) of the n items,
 *    capped at n − 1 so that a user never loses everything. Users with h = 0 (n ≤ 2 at 20%) hide
 *    nothing and are not scored. A hidden interest drops all its follow rows; a hidden course drops
 *    all its view rows. Assessments and course tags are kept.
 * 2. Each method ranks users on the remaining data (`neighbors`, default 20, per user).
 * 3. {@link recommendFromNeighbors}: a user's neighbours vote for the interests and courses they
 *    have and the user does not (in training); a vote weighs the neighbour's similarity (negative
 *    similarities count 0). Items are ranked by total vote, ties by training popularity, then by
 *    name.
 * 4. {@link scoreRecommendations}: recall@k (hidden items among the top k / hidden items) and
 *    NDCG@k (binary gains, ideal DCG of min(k, hidden) hits), averaged over the scored users; a
 *    user without recommendations scores 0.
 * The most-popular baseline recommends the items with the most training users that the user does
 * not have.
 */
import { compareHandles } from "./handles.ts";
import { Rng } from "./fm/random.ts";
import { factorizationRun, type FMOptions } from "./fm/index.ts";
import { similarityRun } from "./similarity/index.ts";
import type { Weights } from "./similarity/index.ts";
import type { Dataset, ProgressFn, Rankings } from "./types.ts";

/** Key of an item that can be hidden and recommended. */
export function interestKey(tag: string): string {
  return `interest:${tag}`;
}
export function courseKey(courseId: string): string {
  return `course:${courseId}`;
}

/** Result of {@link splitHoldout}. */
export interface HoldoutSplit {
  /** The data without the hidden rows. */
  train: Dataset;
  /** Every user of the dataset, in canonical handle order. */
  users: string[];
  /** Hidden item keys per user (CSR over `users`), sorted. */
  hiddenOffsets: Int32Array;
  hidden: string[];
  /** Users with at least one hidden item. */
  scoredUsers: number;
}

export interface SplitOptions {
  /** Share of each user's distinct interests + courses to hide (default 0.2). */
  fraction?: number;
  seed?: number;
}

/** Hides a seeded share of each user's distinct interests and courses (see the module comment). */
export function splitHoldout(dataset: Dataset, opts: SplitOptions = {}): HoldoutSplit {
  const fraction = opts.fraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`fraction must lie in (0, 1), got ${fraction}`);
  const rng = new Rng(opts.seed ?? 42);
  const ui = dataset.user_interests;
  const uv = dataset.user_course_views;
  const ua = dataset.user_assessment_scores;

  const itemsOf = new Map<string, Set<string>>();
  const add = (user: string, key: string) => {
    let set = itemsOf.get(user);
    if (!set) itemsOf.set(user, (set = new Set()));
    set.add(key);
  };
  for (let r = 0; r < ui.user_handle.length; r++) if (ui.interest_tag[r]) add(ui.user_handle[r], interestKey(ui.interest_tag[r]));
  for (let r = 0; r < uv.user_handle.length; r++) if (uv.course_id[r]) add(uv.user_handle[r], courseKey(uv.course_id[r]));
  const all = new Set<string>([...ui.user_handle, ...uv.user_handle, ...ua.user_handle]);
  const users = [...all].sort(compareHandles);

  const hiddenOffsets = new Int32Array(users.length + 1);
  const hidden: string[] = [];
  const hiddenSet = new Set<string>();
  let scoredUsers = 0;
  for (let u = 0; u < users.length; u++) {
    const items = [...(itemsOf.get(users[u]) ?? [])].sort();
    const n = items.length;
    const h = Math.min(n - 1, Math.round(fraction * n));
    if (h > 0) {
      // Partial Fisher–Yates: the first h positions become a uniform sample.
      for (let i = 0; i < h; i++) {
        const j = i + rng.int(n - i);
        const t = items[i];
        items[i] = items[j];
        items[j] = t;
      }
      const chosen = items.slice(0, h).sort();
      for (const key of chosen) {
        hidden.push(key);
        hiddenSet.add(`${users[u]}\u0000${key}`);
      }
      scoredUsers++;
    }
    hiddenOffsets[u + 1] = hidden.length;
  }

  const keepInterest: number[] = [];
  for (let r = 0; r < ui.user_handle.length; r++) if (!hiddenSet.has(`${ui.user_handle[r]}\u0000${interestKey(ui.interest_tag[r])}`)) keepInterest.push(r);
  const keepView: number[] = [];
  for (let r = 0; r < uv.user_handle.length; r++) if (!hiddenSet.has(`${uv.user_handle[r]}\u0000${courseKey(uv.course_id[r])}`)) keepView.push(r);
  const pick = <T>(col: ArrayLike<T>, rows: number[]): T[] => rows.map((r) => col[r]);
  const train: Dataset = {
    user_interests: { user_handle: pick(ui.user_handle, keepInterest), interest_tag: pick(ui.interest_tag, keepInterest) },
    user_course_views: {
      user_handle: pick(uv.user_handle, keepView),
      course_id: pick(uv.course_id, keepView),
      level: pick(uv.level, keepView),
      view_time_seconds: Float64Array.from(keepView, (r) => uv.view_time_seconds[r]),
    },
    user_assessment_scores: ua,
    course_tags: dataset.course_tags,
  };
  return { train, users, hiddenOffsets, hidden, scoredUsers };
}

/** Users' training items as ids, for voting. */
export interface ItemIndex {
  /** Item keys; id = position. */
  items: string[];
  /** Per user (in `users` order) its item ids (CSR), sorted. */
  offsets: Int32Array;
  ids: Int32Array;
  /** Training users per item. */
  popularity: Int32Array;
}

/** Indexes the interests and courses of `users` in `dataset` (user order as given). */
export function indexItems(dataset: Dataset, users: string[]): ItemIndex {
  const userIndex = new Map<string, number>();
  users.forEach((h, i) => userIndex.set(h, i));
  const keyIds = new Map<string, number>();
  const items: string[] = [];
  const pairs: number[][] = users.map(() => []);
  const put = (user: string, key: string) => {
    const u = userIndex.get(user);
    if (u === undefined) return;
    let id = keyIds.get(key);
    if (id === undefined) {
      id = items.length;
      keyIds.set(key, id);
      items.push(key);
    }
    pairs[u].push(id);
  };
  const ui = dataset.user_interests;
  const uv = dataset.user_course_views;
  for (let r = 0; r < ui.user_handle.length; r++) if (ui.interest_tag[r]) put(ui.user_handle[r], interestKey(ui.interest_tag[r]));
  for (let r = 0; r < uv.user_handle.length; r++) if (uv.course_id[r]) put(uv.user_handle[r], courseKey(uv.course_id[r]));
  const offsets = new Int32Array(users.length + 1);
  const lists = pairs.map((p) => [...new Set(p)].sort((a, b) => a - b));
  for (let u = 0; u < users.length; u++) offsets[u + 1] = offsets[u] + lists[u].length;
  const ids = new Int32Array(offsets[users.length]);
  const popularity = new Int32Array(items.length);
  for (let u = 0; u < users.length; u++) {
    ids.set(lists[u], offsets[u]);
    for (const id of lists[u]) popularity[id]++;
  }
  return { items, offsets, ids, popularity };
}

/** Top-k recommendations per user (CSR over users, item ids into `index.items`). */
export interface Recommendations {
  k: number;
  offsets: Int32Array;
  ids: Int32Array;
}

/** Ranks candidate item ids by score desc, then popularity desc, then key; keeps k. */
function selectTop(cands: number[], score: Float64Array, index: ItemIndex, k: number): number[] {
  cands.sort((a, b) => score[b] - score[a] || index.popularity[b] - index.popularity[a] || (index.items[a] < index.items[b] ? -1 : 1));
  return cands.slice(0, k);
}

/**
 * Neighbour voting: for each user, the `k` items its first `neighbors` neighbours in `rankings`
 * have and it does not, by summed similarity (negative similarities vote 0). `rankings.users` must
 * be in the same order as the users of `index`.
 */
export function recommendFromNeighbors(rankings: Rankings, index: ItemIndex, opts: { neighbors?: number; k?: number } = {}): Recommendations {
  const k = opts.k ?? 10;
  const limit = opts.neighbors ?? 20;
  const rows = rankings.users.length;
  const score = new Float64Array(index.items.length);
  const own = new Uint8Array(index.items.length);
  const offsets = new Int32Array(rows + 1);
  const out: number[] = [];
  for (let u = 0; u < rows; u++) {
    for (let q = index.offsets[u]; q < index.offsets[u + 1]; q++) own[index.ids[q]] = 1;
    const cands: number[] = [];
    const end = Math.min(rankings.offsets[u + 1], rankings.offsets[u] + limit);
    for (let q = rankings.offsets[u]; q < end; q++) {
      const w = rankings.scores[q];
      if (!(w > 0)) continue;
      const v = rankings.neighbors[q];
      for (let p = index.offsets[v]; p < index.offsets[v + 1]; p++) {
        const item = index.ids[p];
        if (own[item]) continue;
        if (score[item] === 0) cands.push(item);
        score[item] += w;
      }
    }
    for (const item of selectTop(cands, score, index, k)) out.push(item);
    for (const item of cands) score[item] = 0;
    for (let q = index.offsets[u]; q < index.offsets[u + 1]; q++) own[index.ids[q]] = 0;
    offsets[u + 1] = out.length;
  }
  return { k, offsets, ids: Int32Array.from(out) };
}

/** The most-popular baseline: the `k` items with the most training users that the user lacks. */
export function recommendPopular(index: ItemIndex, rows: number, k = 10): Recommendations {
  const order = Array.from({ length: index.items.length }, (_, i) => i);
  const zero = new Float64Array(index.items.length);
  selectTop(order, zero, index, order.length);
  const offsets = new Int32Array(rows + 1);
  const out: number[] = [];
  const own = new Uint8Array(index.items.length);
  for (let u = 0; u < rows; u++) {
    for (let q = index.offsets[u]; q < index.offsets[u + 1]; q++) own[index.ids[q]] = 1;
    let taken = 0;
    for (let i = 0; i < order.length && taken < k; i++) {
      if (own[order[i]]) continue;
      out.push(order[i]);
      taken++;
    }
    for (let q = index.offsets[u]; q < index.offsets[u + 1]; q++) own[index.ids[q]] = 0;
    offsets[u + 1] = out.length;
  }
  return { k, offsets, ids: Int32Array.from(out) };
}

/** Mean recall@k and NDCG@k over the users with hidden items. */
export interface Scores {
  recall: number;
  ndcg: number;
  /** Users scored (with at least one hidden item). */
  users: number;
}

/** Scores recommendations against the hidden items of a split (same user order). */
export function scoreRecommendations(recs: Recommendations, index: ItemIndex, split: Pick<HoldoutSplit, "hiddenOffsets" | "hidden">): Scores {
  const rows = split.hiddenOffsets.length - 1;
  let recall = 0;
  let ndcg = 0;
  let users = 0;
  for (let u = 0; u < rows; u++) {
    const h0 = split.hiddenOffsets[u];
    const h1 = split.hiddenOffsets[u + 1];
    if (h1 === h0) continue;
    users++;
    const hidden = new Set(split.hidden.slice(h0, h1));
    let hits = 0;
    let dcg = 0;
    const end = Math.min(recs.offsets[u + 1], recs.offsets[u] + recs.k);
    for (let q = recs.offsets[u]; q < end; q++) {
      if (hidden.has(index.items[recs.ids[q]])) {
        hits++;
        dcg += 1 / Math.log2(q - recs.offsets[u] + 2);
      }
    }
    let idcg = 0;
    for (let i = 0; i < Math.min(recs.k, h1 - h0); i++) idcg += 1 / Math.log2(i + 2);
    recall += hits / (h1 - h0);
    ndcg += dcg / idcg;
  }
  return { recall: users ? recall / users : 0, ndcg: users ? ndcg / users : 0, users };
}

export type EvaluatedMethod = "similarity" | "factorization";

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  methods: EvaluatedMethod[];
  fraction?: number;
  /** Seeds the split and the factorization machine (unless `fm.seed` is given). */
  seed?: number;
  /** Neighbours that vote (default 20). */
  neighbors?: number;
  /** Recommendation list length k of recall@k / NDCG@k (default 10). */
  k?: number;
  weights?: Partial<Weights>;
  fm?: FMOptions;
  threads?: number;
  onProgress?: ProgressFn;
}

/** One row of the evaluation table. */
export interface MethodResult extends Scores {
  method: EvaluatedMethod | "most-popular";
  /** Seconds to rank users (0 for the baseline). */
  seconds: number;
}

export interface EvaluationReport {
  fraction: number;
  seed: number;
  neighbors: number;
  k: number;
  users: number;
  scoredUsers: number;
  hiddenItems: number;
  results: MethodResult[];
}

/** Splits, ranks with each method, recommends by neighbour votes and scores against the hidden items. */
export async function evaluate(dataset: Dataset, opts: EvaluateOptions): Promise<EvaluationReport> {
  const fraction = opts.fraction ?? 0.2;
  const seed = opts.seed ?? 42;
  const neighbors = opts.neighbors ?? 20;
  const k = opts.k ?? 10;
  const split = splitHoldout(dataset, { fraction, seed });
  const index = indexItems(split.train, split.users);
  const results: MethodResult[] = [];
  const check = (r: Rankings) => {
    if (r.users.length !== split.users.length || r.users.some((h, i) => h !== split.users[i])) throw new Error("method ranked a different set of users than the split holds");
  };
  for (const method of opts.methods) {
    const t0 = performance.now();
    let rankings: Rankings;
    if (method === "similarity") {
      rankings = (await similarityRun(split.train, { weights: opts.weights, topN: neighbors, threads: opts.threads, onProgress: opts.onProgress })).rankings;
    } else {
      rankings = (await factorizationRun(split.train, { seed, ...opts.fm, topN: neighbors, threads: opts.threads, onProgress: opts.onProgress })).rankings;
    }
    const seconds = (performance.now() - t0) / 1000;
    check(rankings);
    const recs = recommendFromNeighbors(rankings, index, { neighbors, k });
    results.push({ method, seconds, ...scoreRecommendations(recs, index, split) });
  }
  const popular = recommendPopular(index, split.users.length, k);
  results.push({ method: "most-popular", seconds: 0, ...scoreRecommendations(popular, index, split) });
  return {
    fraction,
    seed,
    neighbors,
    k,
    users: split.users.length,
    scoredUsers: split.scoredUsers,
    hiddenItems: split.hidden.length,
    results,
  };
}
