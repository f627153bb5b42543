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
import { toDataset, type Dataset, type InputColumns } from "./dataset.ts";
import { resolveOptions, type EpochReport, type Model } from "./methods/method.ts";
import { clearVotes, collectVotes, indexRows, selectTop, voteScratch, type ItemIndex, type VoteScratch } from "./recommend.ts";
import { getMethod, methodNames } from "./methods/registry.ts";
import { Rng } from "./random.ts";
import type { ProgressFn, Rankings } from "./types.ts";

/**
 * The items that can be hidden and recommended, in one id space over a dataset's vocabulary:
 * courses first, then interests, each in the dataset's sorted order. That is the order of their
 * keys (`course:<id>` sorts before `interest:<tag>`), which the split's seeded draws depend on.
 */
export interface ItemSpace {
  /** Item keys (`course:<id>`, `interest:<tag>`); id = position. */
  items: string[];
  /** Item id of interest i: `interestBase + i`; course c's id is c. */
  interestBase: number;
}

/** The item space of a dataset. */
export function itemSpace(dataset: Dataset): ItemSpace {
  return {
    items: [...dataset.courses.map((c) => `course:${c}`), ...dataset.interests.map((t) => `interest:${t}`)],
    interestBase: dataset.courses.length,
  };
}

/** Result of {@link splitHoldout}. */
export interface HoldoutSplit {
  /** The data without the hidden rows (same vocabulary, same user ids). */
  train: Dataset;
  /** Every user of the dataset, in canonical handle order. */
  users: readonly string[];
  /** Hidden item ids per user (CSR over `users`), sorted, in {@link ItemSpace} ids. */
  hiddenOffsets: Int32Array;
  hidden: Int32Array;
  /** Users with at least one hidden item. */
  scoredUsers: number;
  space: ItemSpace;
}

export interface SplitOptions {
  /** Share of each user's distinct interests + courses to hide (default 0.2). */
  fraction?: number;
  seed?: number;
}

/** Each user's distinct interests and courses in one item space (CSR over users, item ids sorted). */
function userItems(dataset: Dataset, space: ItemSpace): ItemIndex {
  const ir = dataset.interestRows;
  const vr = dataset.viewRows;
  const rowUser = new Int32Array(ir.user.length + vr.user.length);
  const rowItem = new Int32Array(rowUser.length);
  rowUser.set(ir.user);
  rowUser.set(vr.user, ir.user.length);
  for (let r = 0; r < ir.user.length; r++) rowItem[r] = space.interestBase + ir.interest[r];
  rowItem.set(vr.course, ir.user.length);
  return indexRows(dataset.users.length, space.items, rowUser, rowItem);
}

/** Hides a seeded share of each user's distinct interests and courses (see the module comment). */
export function splitHoldout(input: Dataset | InputColumns, opts: SplitOptions = {}): HoldoutSplit {
  const dataset = toDataset(input);
  const fraction = opts.fraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`fraction must lie in (0, 1), got ${fraction}`);
  const rng = new Rng(opts.seed ?? 42);
  const space = itemSpace(dataset);
  const own = userItems(dataset, space);
  const nUsers = dataset.users.length;

  const hiddenOffsets = new Int32Array(nUsers + 1);
  const hidden: number[] = [];
  let scoredUsers = 0;
  for (let u = 0; u < nUsers; u++) {
    // In key order: the draws below depend on it.
    const items = Array.from(own.ids.subarray(own.offsets[u], own.offsets[u + 1]));
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
      for (const id of items.slice(0, h).sort((a, b) => a - b)) hidden.push(id);
      scoredUsers++;
    }
    hiddenOffsets[u + 1] = hidden.length;
  }

  // Drop the hidden items' rows: every follow row of a hidden interest, every view row of a hidden course.
  const isHidden = (u: number, id: number) => {
    let lo = hiddenOffsets[u];
    let hi = hiddenOffsets[u + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hidden[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo < hiddenOffsets[u + 1] && hidden[lo] === id;
  };
  const ir = dataset.interestRows;
  const vr = dataset.viewRows;
  const keepI: number[] = [];
  for (let r = 0; r < ir.user.length; r++) if (!isHidden(ir.user[r], space.interestBase + ir.interest[r])) keepI.push(r);
  const keepV: number[] = [];
  for (let r = 0; r < vr.user.length; r++) if (!isHidden(vr.user[r], vr.course[r])) keepV.push(r);
  const pickI = (col: Int32Array) => Int32Array.from(keepI, (r) => col[r]);
  const pickV = (col: Int32Array) => Int32Array.from(keepV, (r) => col[r]);
  const train = dataset.withRows({
    interestRows: { user: pickI(ir.user), interest: pickI(ir.interest) },
    viewRows: { user: pickV(vr.user), course: pickV(vr.course), level: pickV(vr.level), seconds: Float64Array.from(keepV, (r) => vr.seconds[r]) },
  });
  return { train, users: dataset.users, hiddenOffsets, hidden: Int32Array.from(hidden), scoredUsers, space };
}

/** Indexes the interests and courses of every user of `dataset`. */
export function indexItems(dataset: Dataset, space: ItemSpace = itemSpace(dataset)): ItemIndex {
  return userItems(dataset, space);
}

/** Top-k recommendations per user (CSR over users, item ids into `index.items`). */
export interface Recommendations {
  k: number;
  offsets: Int32Array;
  ids: Int32Array;
}

/**
 * Neighbour voting (`recommend.ts`, the same code as `recsys recommend`): for each user, the `k`
 * items its first `neighbors` neighbours in `rankings` have and it does not, by summed similarity.
 * `rankings.users` must be in the same order as the users of `index`.
 */
export function recommendFromNeighbors(rankings: Rankings, index: ItemIndex, opts: { neighbors?: number; k?: number } = {}): Recommendations {
  const k = opts.k ?? 10;
  const limit = opts.neighbors ?? 20;
  const rows = rankings.users.length;
  const scratch = voteScratch(index);
  return perUser(rows, k, index, scratch, (u) => {
    const start = rankings.offsets[u];
    const count = Math.min(rankings.offsets[u + 1], start + limit) - start;
    const cands = collectVotes(index, rankings.neighbors.subarray(start), rankings.scores.subarray(start), count, scratch);
    const top = selectTop(cands, scratch.score, index, k);
    clearVotes(cands, scratch);
    return top;
  });
}

/** Recommendations per user from `pick(u)`, with the user's own items marked in `scratch.own` meanwhile. */
function perUser(rows: number, k: number, index: ItemIndex, scratch: VoteScratch, pick: (u: number) => number[]): Recommendations {
  const offsets = new Int32Array(rows + 1);
  const out: number[] = [];
  for (let u = 0; u < rows; u++) {
    for (let q = index.offsets[u]; q < index.offsets[u + 1]; q++) scratch.own[index.ids[q]] = 1;
    for (const item of pick(u)) out.push(item);
    for (let q = index.offsets[u]; q < index.offsets[u + 1]; q++) scratch.own[index.ids[q]] = 0;
    offsets[u + 1] = out.length;
  }
  return { k, offsets, ids: Int32Array.from(out) };
}

/**
 * A model's own item ranking (`Model.scoreItems`, e.g. the factorization machine's ŷ): for each
 * user, the `k` interests and courses it does not have with the highest scores.
 */
export function recommendByModel(model: Model, index: ItemIndex, space: ItemSpace, k = 10): Recommendations {
  if (!model.scoreItems) throw new RangeError(`method ${model.method} has no item scores of its own`);
  const scratch = voteScratch(index);
  const scores = new Float64Array(index.items.length);
  return perUser(model.dataset.users.length, k, index, scratch, (u) => {
    scores.set(model.scoreItems!(u, "courses"), 0);
    scores.set(model.scoreItems!(u, "interests"), space.interestBase);
    const cands: number[] = [];
    for (let i = 0; i < scores.length; i++) if (Number.isFinite(scores[i]) && !scratch.own[i]) cands.push(i);
    return selectTop(cands, scores, index, k);
  });
}

/** The most-popular baseline: the `k` items with the most training users that the user lacks. */
export function recommendPopular(index: ItemIndex, rows: number, k = 10): Recommendations {
  // Items nobody has in training are not candidates.
  const order = Array.from({ length: index.items.length }, (_, i) => i).filter((i) => index.popularity[i] > 0);
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

/** Share of the items some user has in training that some recommendation list holds. */
export function coverage(recs: Recommendations, index: ItemIndex): number {
  const hit = new Uint8Array(index.items.length);
  for (let q = 0; q < recs.ids.length; q++) hit[recs.ids[q]] = 1;
  let shown = 0;
  let catalogue = 0;
  for (let i = 0; i < hit.length; i++) {
    if (index.popularity[i] === 0) continue;
    catalogue++;
    shown += hit[i];
  }
  return catalogue ? shown / catalogue : 0;
}

/** Mean recall@k and NDCG@k over the users with hidden items. */
export interface Scores {
  recall: number;
  ndcg: number;
  /** Users scored (with at least one hidden item). */
  users: number;
}

/** Scores recommendations against the hidden items of a split (same user order). */
export function scoreRecommendations(recs: Recommendations, split: Pick<HoldoutSplit, "hiddenOffsets" | "hidden">): Scores {
  const rows = split.hiddenOffsets.length - 1;
  let recall = 0;
  let ndcg = 0;
  let users = 0;
  for (let u = 0; u < rows; u++) {
    const h0 = split.hiddenOffsets[u];
    const h1 = split.hiddenOffsets[u + 1];
    if (h1 === h0) continue;
    users++;
    const hidden = new Set(split.hidden.subarray(h0, h1));
    let hits = 0;
    let dcg = 0;
    const end = Math.min(recs.offsets[u + 1], recs.offsets[u] + recs.k);
    for (let q = recs.offsets[u]; q < end; q++) {
      if (hidden.has(recs.ids[q])) {
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

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Registered method names to evaluate (default: every registered method). */
  methods?: string[];
  fraction?: number;
  /** Seeds the split, and each method's own `seed` option unless given in `options`. */
  seed?: number;
  /** Neighbours that vote (default 20). */
  neighbors?: number;
  /** Recommendation list length k of recall@k / NDCG@k (default 10). */
  k?: number;
  /** Options per method name, e.g. `{ similarity: { weights: … }, factorization: { factors: 64 } }`. */
  options?: Record<string, Record<string, unknown>>;
  threads?: number;
  onProgress?: ProgressFn;
  onEpoch?: (method: string, epoch: EpochReport) => void;
}

/** One row of the evaluation table. */
export interface MethodResult extends Scores {
  /** The method's name; `<name> (model)` for a method's own item scores instead of neighbour votes. */
  method: string;
  /** Seconds to fit and rank users (0 for the baseline; for a `(model)` row, to score items). */
  seconds: number;
  /** Share of the items users have in training that appear in at least one recommendation list. */
  coverage: number;
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
  /** Each method's effective options. */
  params: Record<string, object>;
}

/**
 * One method with `options` (already resolved) on a split: fits on `split.train`, ranks, recommends
 * by neighbour votes and scores against `split`'s hidden items (plus a `(model)` row where the
 * model scores items itself). `index` is `indexItems(split.train, split.space)`.
 */
export async function scoreMethod(
  split: HoldoutSplit,
  index: ItemIndex,
  name: string,
  options: object,
  opts: { neighbors: number; k: number; threads?: number; onProgress?: ProgressFn; onEpoch?: (e: EpochReport) => void; ownScores?: boolean },
): Promise<{ model: Model; rows: MethodResult[] }> {
  const method = getMethod(name);
  const { neighbors, k } = opts;
  const rows: MethodResult[] = [];
  const t0 = performance.now();
  const model = await method.fit(split.train, options, { threads: opts.threads, onProgress: opts.onProgress, onEpoch: opts.onEpoch });
  const rankings: Rankings = await model.rankAll({ topN: neighbors, threads: opts.threads, onProgress: opts.onProgress });
  const seconds = (performance.now() - t0) / 1000;
  if (rankings.users.length !== split.users.length) throw new Error(`${method.name} ranked a different set of users than the split holds`);
  const recs = recommendFromNeighbors(rankings, index, { neighbors, k });
  rows.push({ method: method.name, seconds, ...scoreRecommendations(recs, split), coverage: coverage(recs, index) });
  if (model.scoreItems && opts.ownScores !== false) {
    // Both ways (`recsys recommend --using model`): the model's own item scores.
    const t1 = performance.now();
    const own = recommendByModel(model, index, split.space, k);
    rows.push({ method: `${method.name} (model)`, seconds: (performance.now() - t1) / 1000, ...scoreRecommendations(own, split), coverage: coverage(own, index) });
  }
  return { model, rows };
}

/** Splits, ranks with each method, recommends by neighbour votes and scores against the hidden items. */
export async function evaluate(input: Dataset | InputColumns, opts: EvaluateOptions = {}): Promise<EvaluationReport> {
  const fraction = opts.fraction ?? 0.2;
  const seed = opts.seed ?? 42;
  const neighbors = opts.neighbors ?? 20;
  const k = opts.k ?? 10;
  const chosen = (opts.methods ?? methodNames()).map(getMethod);
  // Every method's options are checked before any work.
  const resolved = chosen.map((m) => {
    const given = { ...opts.options?.[m.name] };
    if ("seed" in m.options && given.seed === undefined) given.seed = seed;
    return resolveOptions(m, given);
  });
  const split = splitHoldout(input, { fraction, seed });
  const index = indexItems(split.train, split.space);
  const results: MethodResult[] = [];
  const params: Record<string, object> = {};
  for (let i = 0; i < chosen.length; i++) {
    const method = chosen[i];
    const { model, rows } = await scoreMethod(split, index, method.name, resolved[i], { neighbors, k, threads: opts.threads, onProgress: opts.onProgress, onEpoch: opts.onEpoch && ((e) => opts.onEpoch?.(method.name, e)) });
    results.push(...rows);
    params[method.name] = model.params;
  }
  const popular = recommendPopular(index, split.users.length, k);
  results.push({ method: "most-popular", seconds: 0, ...scoreRecommendations(popular, split), coverage: coverage(popular, index) });
  return {
    fraction,
    seed,
    neighbors,
    k,
    users: split.users.length,
    scoredUsers: split.scoredUsers,
    hiddenItems: split.hidden.length,
    results,
    params,
  };
}
