/**
 * One user's factors fitted against fixed items: the same procedure for a user of the data (the
 * final user pass of training, {@link userPass}) and for a profile folded in (`fold.ts`), so that
 * an existing user's own profile folds in to exactly that user's stored factors, hence exactly its
 * stored neighbours.
 *
 * SGD leaves each trained user vector with its own sampling noise (two trainings that differ only
 * in seed share 0.28 of a user's top-10 neighbours), and a profile folded in against the final item
 * factors could only approximate it (0.56–0.68 overlap). So training ends with a deterministic
 * pass that re-fits every user's factors from zero against the final item, band and bias
 * parameters, exactly as fold-in does:
 *
 * - positives: the user's distinct items in item order, each with its band context and weight;
 * - a generator seeded by the model's seed and a hash of those sorted items (not the user's row),
 *   so the same items give the same draws wherever they come from;
 * - {@link USER_EPOCHS} passes of BPR steps ({@link USER_NEGATIVES} negatives each) moving only the
 *   user's vector.
 *
 * With items fixed, ŷ(u,i) − ŷ(u,j) = c_i − c_j + ⟨v_u + v_band, S_i − S_j⟩ where S_i = Σ x v over
 * the item's features and c_i its own terms (linear and internal pairs): both are tabulated once
 * ({@link itemSides}), so a negative costs two k-vector products instead of a pass over its
 * features. Each user depends only on the fixed parameters, so the pass runs users in any order or
 * on any number of threads with the same bits.
 */
import { mix32, Rng } from "../../random.ts";
import type { FMData } from "./features.ts";
import type { FMParams } from "./model.ts";

/**
 * Passes over a user's positives, with the step decaying as in training. Held-out recall@10 on the
 * tuning set (10k users, seed 7): 3 passes × 8 negatives 0.3034, 5 × 16 0.3026, 5 × 8 0.3020, no
 * user pass 0.3021 — the same within noise, so the cheapest (a third of the cost of 5 × 16).
 */
export const USER_EPOCHS = 3;

/**
 * Negatives per positive. Training draws 2; a user vector fitted alone has no other steps to
 * average its sampling noise away, so each step averages 8 (scaled by negatives/8: the same
 * expected step as training's).
 */
export const USER_NEGATIVES = 8;

/** What the user fit needs of the training options. */
export interface UserFitOptions {
  learningRate: number;
  finalRate: number;
  regularization: number;
  negatives: number;
  popularNegatives: number;
  userRate: number;
  userInitStd: number;
  seed: number;
}

/** The fixed item side of ŷ: S_i (items × k) and c_i = Σ w x + ½(‖S_i‖² − Σ x²‖v‖²). */
export interface ItemSides {
  sums: Float64Array;
  constant: Float64Array;
}

/** Tabulates {@link ItemSides} for every item of the model. */
export function itemSides(data: FMData, params: FMParams): ItemSides {
  const { k, v, w } = params;
  const sums = new Float64Array(data.nItems * k);
  const constant = new Float64Array(data.nItems);
  for (let i = 0; i < data.nItems; i++) {
    const at = i * k;
    let linear = 0;
    let squares = 0;
    for (let q = data.itemOffsets[i]; q < data.itemOffsets[i + 1]; q++) {
      const x = data.itemValues[q];
      const j = data.itemFeatures[q];
      const o = j * k;
      linear += w[j] * x;
      let sq = 0;
      for (let f = 0; f < k; f++) {
        const a = v[o + f];
        sums[at + f] += x * a;
        sq += a * a;
      }
      squares += x * x * sq;
    }
    let ss = 0;
    for (let f = 0; f < k; f++) ss += sums[at + f] * sums[at + f];
    constant[i] = linear + 0.5 * (ss - squares);
  }
  return { sums, constant };
}

/** A user's positives, sorted by item: item, context feature (-1: none), weight. */
export interface Positives {
  item: Int32Array;
  context: Int32Array;
  weight: Float64Array;
  n: number;
}

/** The generator seed of a user with these sorted items. */
export function userSeed(seed: number, items: Int32Array, n: number): number {
  let h = mix32(seed >>> 0);
  for (let q = 0; q < n; q++) h = mix32(h ^ items[q]);
  return mix32(h ^ n);
}

/** Reusable buffers for {@link fitUser}. */
export class UserScratch {
  readonly sc: Float64Array;
  readonly grad: Float64Array;
  readonly neg: Int32Array;
  readonly pull: Float64Array;
  order: Int32Array;
  constructor(readonly k: number) {
    this.sc = new Float64Array(k);
    this.grad = new Float64Array(k);
    this.neg = new Int32Array(USER_NEGATIVES);
    this.pull = new Float64Array(USER_NEGATIVES);
    this.order = new Int32Array(16);
  }
}

/**
 * Fits one user's factors into `out` (length k) from its positives with every other parameter
 * fixed. The user's own items (`pos.item`, sorted and distinct) are never drawn as negatives.
 */
export function fitUser(data: FMData, params: FMParams, sides: ItemSides, pos: Positives, o: UserFitOptions, s: UserScratch, out: Float64Array): void {
  const { k, v } = params;
  const { sums, constant } = sides;
  const rng = new Rng(userSeed(o.seed, pos.item, pos.n));
  for (let f = 0; f < k; f++) out[f] = o.userInitStd > 0 ? o.userInitStd * rng.normal() : 0;
  if (pos.n === 0) return;
  if (s.order.length < pos.n) s.order = new Int32Array(pos.n);
  const order = s.order.subarray(0, pos.n);
  for (let q = 0; q < pos.n; q++) order[q] = q;
  const { sc, grad, neg, pull } = s;
  for (let epoch = 0; epoch < USER_EPOCHS; epoch++) {
    const lr = USER_EPOCHS > 1 ? o.learningRate * (1 - ((1 - o.finalRate) * epoch) / (USER_EPOCHS - 1)) : o.learningRate;
    const step = ((lr * o.negatives) / USER_NEGATIVES) * o.userRate;
    const shrink = 1 - step * o.regularization;
    rng.shuffle(order);
    for (let t = 0; t < pos.n; t++) {
      const e = order[t];
      const item = pos.item[e];
      const ns = item < data.nsStart[1] ? 0 : item < data.nsStart[2] ? 1 : 2;
      let m = 0;
      for (let r = 0; r < USER_NEGATIVES; r++) {
        const j = sampleNegative(data, rng, pos, ns, o.popularNegatives);
        if (j < 0) break;
        neg[m++] = j;
      }
      if (m === 0) continue;
      const band = pos.context[e];
      if (band >= 0) for (let f = 0; f < k; f++) sc[f] = out[f] + v[band * k + f];
      else for (let f = 0; f < k; f++) sc[f] = out[f];
      const pAt = item * k;
      let base = constant[item];
      for (let f = 0; f < k; f++) base += sc[f] * sums[pAt + f];
      let G = 0;
      for (let r = 0; r < m; r++) {
        const nAt = neg[r] * k;
        let d = base - constant[neg[r]];
        for (let f = 0; f < k; f++) d -= sc[f] * sums[nAt + f];
        pull[r] = pos.weight[e] / (1 + Math.exp(d));
        G += pull[r];
      }
      // ∂L/∂v_u = −(G S_P − Σ_r g_r S_N,r); only the user's own vector moves.
      for (let f = 0; f < k; f++) grad[f] = G * sums[pAt + f];
      for (let r = 0; r < m; r++) {
        const nAt = neg[r] * k;
        const g = pull[r];
        for (let f = 0; f < k; f++) grad[f] -= g * sums[nAt + f];
      }
      for (let f = 0; f < k; f++) out[f] = shrink * out[f] + step * grad[f];
    }
  }
}

/** Draws an item of namespace `ns` the user does not have, as training draws negatives (-1: none found). */
function sampleNegative(data: FMData, rng: Rng, pos: Positives, ns: number, popular: number): number {
  const lo = data.nsStart[ns];
  const span = data.nsStart[ns + 1] - lo;
  const items = data.nsItems[ns];
  if (span === 0) return -1;
  for (let attempt = 0; attempt < 32; attempt++) {
    // popular ≥ 1 (the default) skips the coin: one draw per candidate instead of two.
    const j = popular > 0 && items.length > 0 && (popular >= 1 || rng.next() < popular) ? items[rng.int(items.length)] : lo + rng.int(span);
    if (!has(pos.item, pos.n, j)) return j;
  }
  return -1;
}

/** Binary search for `item` in the sorted `items[0..n)`. */
function has(items: Int32Array, n: number, item: number): boolean {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = items[mid];
    if (x === item) return true;
    if (x < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** User u's positives from the training data, sorted by item, into `out`. */
export function userPositives(data: FMData, u: number, out: Positives): Positives {
  const from = data.userOffsets[u];
  const n = data.userOffsets[u + 1] - from;
  if (out.item.length < n) {
    out.item = new Int32Array(n);
    out.context = new Int32Array(n);
    out.weight = new Float64Array(n);
  }
  const idx = Array.from({ length: n }, (_, q) => from + q).sort((a, b) => data.posItem[a] - data.posItem[b]);
  for (let q = 0; q < n; q++) {
    out.item[q] = data.posItem[idx[q]];
    out.context[q] = data.posContext[idx[q]];
    out.weight[q] = data.posWeight[idx[q]];
  }
  out.n = n;
  return out;
}

/** Re-fits the factors of users `[from, to)` in place (rows of `params.v`), see the module comment. */
export function userPass(data: FMData, params: FMParams, o: UserFitOptions, sides = itemSides(data, params), from = 0, to = data.nUsers): void {
  const { k } = params;
  const s = new UserScratch(k);
  const pos: Positives = { item: new Int32Array(64), context: new Int32Array(64), weight: new Float64Array(64), n: 0 };
  const out = new Float64Array(k);
  for (let u = from; u < to; u++) {
    if (data.userOffsets[u + 1] === data.userOffsets[u]) continue;
    userPositives(data, u, pos);
    fitUser(data, params, sides, pos, o, s, out);
    params.v.set(out, u * k);
  }
}
