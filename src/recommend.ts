/**
 * Item recommendations from a fitted model, the way `recsys evaluate` measures them: a user's
 * nearest neighbours vote for the items they have and the user does not; a vote weighs the
 * neighbour's similarity (negative similarities count 0); items rank by total vote, ties by
 * popularity (users who have the item), then by key. A model with its own item scores
 * (`Model.scoreItems`, the factorization machine's ŷ) can rank by those instead (`using: "model"`);
 * the neighbours' votes are reported either way.
 *
 * Everything here works on ids; `Recommender` turns them into handles and keys.
 */
import type { Dataset } from "./dataset.ts";
import type { ItemKind, Model, Subject } from "./methods/method.ts";
import type { Profile } from "./profile.ts";

/** Users' items as ids, for voting. */
export interface ItemIndex {
  /** Item keys; id = position. */
  items: readonly string[];
  /** Per user its distinct item ids (CSR), sorted. */
  offsets: Int32Array;
  ids: Int32Array;
  /** Users per item. */
  popularity: Int32Array;
}

/** Builds an {@link ItemIndex} from (user, item) rows (duplicates collapse). */
export function indexRows(users: number, items: readonly string[], rowUser: ArrayLike<number>, rowItem: ArrayLike<number>): ItemIndex {
  const counts = new Int32Array(users + 1);
  for (let r = 0; r < rowUser.length; r++) counts[rowUser[r] + 1]++;
  for (let u = 0; u < users; u++) counts[u + 1] += counts[u];
  const fill = counts.slice(0, users);
  const all = new Int32Array(counts[users]);
  for (let r = 0; r < rowUser.length; r++) all[fill[rowUser[r]]++] = rowItem[r];
  const offsets = new Int32Array(users + 1);
  const out = new Int32Array(all.length);
  let n = 0;
  for (let u = 0; u < users; u++) {
    const row = all.subarray(counts[u], counts[u + 1]).sort();
    for (let i = 0; i < row.length; i++) if (i === 0 || row[i] !== row[i - 1]) out[n++] = row[i];
    offsets[u + 1] = n;
  }
  const ids = out.slice(0, n);
  const popularity = new Int32Array(items.length);
  for (let i = 0; i < ids.length; i++) popularity[ids[i]]++;
  return { items, offsets, ids, popularity };
}

/** The index of one kind of item: the dataset's vocabulary of that kind, each user's items of it. */
export function kindIndex(dataset: Dataset, kind: ItemKind): ItemIndex {
  const n = dataset.users.length;
  if (kind === "interests") return indexRows(n, dataset.interests, dataset.interestRows.user, dataset.interestRows.interest);
  if (kind === "courses") return indexRows(n, dataset.courses, dataset.viewRows.user, dataset.viewRows.course);
  return indexRows(n, dataset.assessments, dataset.assessmentRows.user, dataset.assessmentRows.assessment);
}

/** Scratch of one voter, sized to an index (reused across users). */
export interface VoteScratch {
  score: Float64Array;
  own: Uint8Array;
}

export function voteScratch(index: ItemIndex): VoteScratch {
  return { score: new Float64Array(index.items.length), own: new Uint8Array(index.items.length) };
}

/** Ranks candidate ids by `score` desc, then popularity desc, then key; keeps k. */
export function selectTop(cands: number[], score: ArrayLike<number>, index: ItemIndex, k: number): number[] {
  cands.sort((a, b) => score[b] - score[a] || index.popularity[b] - index.popularity[a] || (index.items[a] < index.items[b] ? -1 : 1));
  return cands.slice(0, k);
}

/**
 * One user's votes: the neighbours `ids[0..]` with similarities `weights` vote for their items in
 * `index` that are not marked in `scratch.own`. Returns the candidates (each once) with their
 * totals left in `scratch.score`; the caller selects and then clears them ({@link clearVotes}).
 */
export function collectVotes(index: ItemIndex, ids: ArrayLike<number>, weights: ArrayLike<number>, count: number, scratch: VoteScratch): number[] {
  const { score, own } = scratch;
  const cands: number[] = [];
  for (let q = 0; q < count; q++) {
    const w = weights[q];
    if (!(w > 0)) continue;
    const v = ids[q];
    for (let p = index.offsets[v]; p < index.offsets[v + 1]; p++) {
      const item = index.ids[p];
      if (own[item]) continue;
      if (score[item] === 0) cands.push(item);
      score[item] += w;
    }
  }
  return cands;
}

/** Resets the vote totals of `cands`. */
export function clearVotes(cands: readonly number[], scratch: VoteScratch): void {
  for (const item of cands) scratch.score[item] = 0;
}

/** Options of {@link recommendItems}. */
export interface RecommendOptions {
  /** What to recommend (default courses). */
  kind?: ItemKind;
  /** How many items (default 10). */
  n?: number;
  /** Neighbours that vote (default 20, as `recsys evaluate`). */
  neighbors?: number;
  /** Leave out what the user already has (default true). */
  excludeSeen?: boolean;
  /** Rank by neighbour votes (default) or by the model's own item scores (`Model.scoreItems`). */
  using?: "neighbors" | "model";
}

/** One recommended item (ids). */
export interface RecommendedItem {
  /** Id in the dataset's vocabulary of the kind. */
  item: number;
  /** What it was ranked by: the vote total, or the model's score. */
  score: number;
  /** Σ similarity of the neighbours that have it (0 if none). */
  votes: number;
  /** Those neighbours, best first: user id and similarity. */
  voters: { user: number; similarity: number }[];
}

/** A method's model cannot rank items itself. */
export class NotSupportedError extends Error {
  override name = "NotSupportedError";
}

/**
 * Recommends items of one kind for a subject (see the module comment). `index` must be
 * `kindIndex(model.dataset, kind)` (callers cache it). A user's own items are read from the index;
 * a profile's are `items.seen`. `items.exclude` are never recommended.
 */
export function recommendItems(model: Model, index: ItemIndex, subject: Subject, items: { seen?: readonly number[]; exclude?: readonly number[] }, opts: RecommendOptions = {}): RecommendedItem[] {
  const n = opts.n ?? 10;
  const limit = opts.neighbors ?? 20;
  const using = opts.using ?? "neighbors";
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`neighbors must be a positive integer, got ${limit}`);
  if (using === "model" && !model.scoreItems) throw new NotSupportedError(`method ${model.method} has no item scores of its own; use neighbour votes`);
  const scratch = voteScratch(index);
  const seen = typeof subject === "number" ? index.ids.subarray(index.offsets[subject], index.offsets[subject + 1]) : (items.seen ?? []);
  if (opts.excludeSeen !== false) for (const i of seen) scratch.own[i] = 1;
  for (const i of items.exclude ?? []) scratch.own[i] = 1;
  // No subject has more than users − 1 neighbours: a huge `neighbors` must not size a heap (1e9 ran out of memory).
  const neighbors = model.similarUsers(subject, { n: Math.min(limit, Math.max(model.dataset.users.length, 1)) });
  const cands = collectVotes(index, neighbors.ids, neighbors.scores, neighbors.ids.length, scratch);
  const votes = Float64Array.from(scratch.score);
  clearVotes(cands, scratch);
  let chosen: number[];
  let ranking: ArrayLike<number>;
  if (using === "model") {
    const scores = model.scoreItems!(subject, opts.kind ?? "courses");
    const all: number[] = [];
    for (let i = 0; i < scores.length; i++) if (Number.isFinite(scores[i]) && !scratch.own[i]) all.push(i);
    chosen = selectTop(all, scores, index, n);
    ranking = scores;
  } else {
    chosen = selectTop(cands, votes, index, n);
    ranking = votes;
  }
  return chosen.map((item) => {
    const voters: RecommendedItem["voters"] = [];
    for (let q = 0; q < neighbors.ids.length; q++) {
      const v = neighbors.ids[q];
      if (!(neighbors.scores[q] > 0)) continue;
      if (hasSorted(index.ids, index.offsets[v], index.offsets[v + 1], item)) voters.push({ user: v, similarity: neighbors.scores[q] });
    }
    return { item, score: ranking[item], votes: votes[item], voters };
  });
}

/** Ids of a profile's items of one kind that the index knows. */
export function profileItems(index: ItemIndex, profile: Profile, kind: ItemKind): number[] {
  const keys = kind === "interests" ? (profile.interests ?? []) : Object.keys((kind === "courses" ? profile.courses : profile.assessments) ?? {});
  const id = new Map(index.items.map((k, i) => [k, i] as const));
  return keys.map((k) => id.get(k)).filter((i): i is number => i !== undefined);
}

function hasSorted(a: Int32Array, lo: number, end: number, x: number): boolean {
  let hi = end - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] === x) return true;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
