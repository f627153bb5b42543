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
import { resolveOptions, type EpochReport } from "./methods/method.ts";
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

/** Each user's distinct items (CSR over users, item ids sorted). */
function userItems(dataset: Dataset, space: ItemSpace): { offsets: Int32Array; ids: Int32Array } {
  const n = dataset.users.length;
  const ir = dataset.interestRows;
  const vr = dataset.viewRows;
  const counts = new Int32Array(n + 1);
  for (let r = 0; r < ir.user.length; r++) counts[ir.user[r] + 1]++;
  for (let r = 0; r < vr.user.length; r++) counts[vr.user[r] + 1]++;
  for (let u = 0; u < n; u++) counts[u + 1] += counts[u];
  const fill = counts.slice(0, n);
  const all = new Int32Array(counts[n]);
  for (let r = 0; r < ir.user.length; r++) all[fill[ir.user[r]]++] = space.interestBase + ir.interest[r];
  for (let r = 0; r < vr.user.length; r++) all[fill[vr.user[r]]++] = vr.course[r];
  const offsets = new Int32Array(n + 1);
  const out: number[] = [];
  for (let u = 0; u < n; u++) {
    const row = all.subarray(counts[u], counts[u + 1]).sort();
    for (let i = 0; i < row.length; i++) if (i === 0 || row[i] !== row[i - 1]) out.push(row[i]);
    offsets[u + 1] = out.length;
  }
  return { offsets, ids: Int32Array.from(out) };
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

/** Users' training items as ids, for voting. */
export interface ItemIndex {
  /** Item keys; id = position (see {@link ItemSpace}). */
  items: string[];
  /** Per user its item ids (CSR), sorted. */
  offsets: Int32Array;
  ids: Int32Array;
  /** Training users per item. */
  popularity: Int32Array;
}

/** Indexes the interests and courses of every user of `dataset`. */
export function indexItems(dataset: Dataset, space: ItemSpace = itemSpace(dataset)): ItemIndex {
  const { offsets, ids } = userItems(dataset, space);
  const popularity = new Int32Array(space.items.length);
  for (let i = 0; i < ids.length; i++) popularity[ids[i]]++;
  return { items: space.items, offsets, ids, popularity };
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
  method: string;
  /** Seconds to fit and rank users (0 for the baseline). */
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
  /** Each method's effective options. */
  params: Record<string, object>;
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
    const t0 = performance.now();
    const model = await method.fit(split.train, resolved[i], { threads: opts.threads, onProgress: opts.onProgress, onEpoch: opts.onEpoch && ((e) => opts.onEpoch?.(method.name, e)) });
    const rankings: Rankings = await model.rankAll({ topN: neighbors, threads: opts.threads, onProgress: opts.onProgress });
    const seconds = (performance.now() - t0) / 1000;
    if (rankings.users.length !== split.users.length) throw new Error(`${method.name} ranked a different set of users than the split holds`);
    const recs = recommendFromNeighbors(rankings, index, { neighbors, k });
    results.push({ method: method.name, seconds, ...scoreRecommendations(recs, split) });
    params[method.name] = model.params;
  }
  const popular = recommendPopular(index, split.users.length, k);
  results.push({ method: "most-popular", seconds: 0, ...scoreRecommendations(popular, split) });
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
