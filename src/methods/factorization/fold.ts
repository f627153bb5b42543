/**
 * Queries of a trained factorization machine beyond the ranking: a new person's factors
 * (fold-in), why two users' factors agree (explain), and the model's own item scores.
 *
 * **Fold-in.** A profile becomes positives exactly as a user's rows do in `buildFeatures` (each
 * interest, course and assessment the model knows; a course weighs 1 + ln(1 + minutes) over the
 * training mean), and its factors are fitted with every other parameter fixed by `fitUser`
 * (`user.ts`): the exact least-squares user step that training's final user pass applied to every
 * user. So an existing user's own profile folds in to exactly that user's factors and neighbours.
 *
 * **Explain.** The cosine of two users' factors split by block and item as `explainCosine`
 * (`rank/explain-factors.ts`) splits any factor cosine, with an item's vector its factor sum
 * S_i = Σ_j x_j v_j over the item's features.
 */
import { explainCosine } from "../../rank/explain-factors.ts";
import { noUnknownItems, type Profile, type UnknownItems } from "../../profile.ts";
import type { Explanation, ItemKind } from "../method.ts";
import { hasItem, scoreBand, type FMData } from "./features.ts";
import type { FMParams } from "./model.ts";
import { fitUser, type ItemSides, type Positives, type UserFitOptions } from "./user.ts";

/** What fold-in needs of the training options. */
export interface FoldInOptions extends UserFitOptions {
  weighting: "none" | "log";
  /** BPR epochs: 0 is an untrained model, whose users (and profiles) have zero factors. */
  epochs: number;
  /** With `als`, training always ends with the exact user pass (after 0 iterations too), so profiles are always fitted. */
  training: "bpr" | "als";
}

/** One positive of a profile: FM item, context feature (-1: none), weight. */
interface Positive {
  item: number;
  context: number;
  weight: number;
}

/** Item index of every item name (`interest:x`, `course:c`, `assessment:t`). */
export function itemIndex(data: FMData): Map<string, number> {
  return new Map(data.itemNames.map((name, i) => [name, i] as const));
}

/** The profile's positives, in item order, and what the model does not know. */
function positivesOf(data: FMData, items: Map<string, number>, profile: Profile, weighting: "none" | "log"): { positives: Positive[]; unknown: UnknownItems } {
  const unknown = noUnknownItems();
  const positives: Positive[] = [];
  const bandBase = data.nFeatures - 3;
  for (const tag of profile.interests ?? []) {
    const i = items.get(`interest:${tag}`);
    if (i === undefined) unknown.interests.push(tag);
    else positives.push({ item: i, context: -1, weight: 1 });
  }
  for (const [course, seconds] of Object.entries(profile.courses ?? {})) {
    const i = items.get(`course:${course}`);
    if (i === undefined) unknown.courses.push(course);
    else positives.push({ item: i, context: -1, weight: weighting === "log" ? (1 + Math.log1p(seconds / 60)) / data.courseWeightMean : 1 });
  }
  for (const [tag, score] of Object.entries(profile.assessments ?? {})) {
    const i = items.get(`assessment:${tag}`);
    if (i === undefined) unknown.assessments.push(tag);
    else positives.push({ item: i, context: bandBase + scoreBand(score), weight: 1 });
  }
  positives.sort((a, b) => a.item - b.item);
  return { positives, unknown };
}

/**
 * A profile's factor vector (see the module comment): `fitUser` on the profile's positives, the
 * very procedure the training's final user pass applied to every user of the data.
 */
export function foldInFactors(data: FMData, sides: ItemSides, items: Map<string, number>, profile: Profile, o: FoldInOptions): { factors: Float64Array; unknown: UnknownItems } {
  const { positives, unknown } = positivesOf(data, items, profile, o.weighting);
  const n = positives.length;
  const pos: Positives = { item: Int32Array.from(positives, (p) => p.item), weight: Float64Array.from(positives, (p) => p.weight), n };
  const factors = new Float64Array(sides.k);
  if (o.training === "als" || o.epochs > 0) fitUser(sides, pos, o, factors);
  return { factors, unknown };
}

/** S_i = Σ_j x_j v_j over item i's features, into `out` at `at`. */
function itemSum(data: FMData, params: FMParams, item: number, out: Float64Array, at: number): void {
  const { k, v } = params;
  out.fill(0, at, at + k);
  for (let q = data.itemOffsets[item]; q < data.itemOffsets[item + 1]; q++) {
    const x = data.itemValues[q];
    const o = data.itemFeatures[q] * k;
    for (let f = 0; f < k; f++) out[at + f] += x * v[o + f];
  }
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, k: number): number {
  let s = 0;
  for (let f = 0; f < k; f++) s += a[ao + f] * b[bo + f];
  return s;
}

/**
 * Explains cos(u, v) = `score` (see the module comment and `explainCosine`): u's items are
 * represented by their factor sums S_i.
 */
export function explainFactors(data: FMData, params: FMParams, unitU: Float64Array, unitV: Float64Array, score: number, itemsU: ArrayLike<number>, hasV: (item: number) => boolean, limit: number): Explanation {
  return explainCosine({
    k: params.k,
    unitU,
    unitV,
    score,
    items: itemsU,
    vectorOf: (item, out, at) => itemSum(data, params, item, out, at),
    blockOf: (item) => (item < data.nsStart[1] ? 0 : item < data.nsStart[2] ? 1 : 2),
    nameOf: (item) => data.itemNames[item],
    hasV,
    limit,
  });
}

/** The FM namespace of an item kind. */
export function namespaceOfKind(kind: ItemKind): number {
  return kind === "interests" ? 0 : kind === "courses" ? 1 : 2;
}

/** The item side of a namespace's items: S_i = Σ_j x_j v_j over item i's features, items × k. */
export interface ItemTable {
  sums: Float64Array;
}

/** Builds the {@link ItemTable} of namespace `ns` (once per model; every item score then costs k multiply-adds). */
export function itemTable(data: FMData, params: FMParams, ns: number): ItemTable {
  const { k } = params;
  const lo = data.nsStart[ns];
  const n = data.nsStart[ns + 1] - lo;
  const sums = new Float64Array(n * k);
  for (let i = 0; i < n; i++) itemSum(data, params, lo + i, sums, i * k);
  return { sums };
}

/**
 * The model's own score of every item of a namespace for a user: ⟨v_u, S_i⟩, the preference the
 * user pass fits v_u to (see `user.ts`). The item's own BPR terms (bias and internal pairs) are
 * left out: they are on the SGD's scale, not the re-fitted v_u's, and adding them made the scores
 * useless (held-out recall@10 0.0008 on 10k generated users).
 */
export function itemScores(table: ItemTable, userFactors: Float64Array, k: number): Float64Array {
  const out = new Float64Array(table.sums.length / k);
  for (let i = 0; i < out.length; i++) out[i] = dot(userFactors, 0, table.sums, i * k, k);
  return out;
}

/** User u's items in the FM (sorted) and a membership test for another user. */
export function userItems(data: FMData, u: number): Int32Array {
  return data.userItems.subarray(data.userOffsets[u], data.userOffsets[u + 1]);
}

export { hasItem };
