/**
 * One user's factors fitted against fixed items: the same procedure for a user of the data (the
 * final user pass of training, {@link userPass}) and for a profile folded in (`fold.ts`), so that
 * an existing user's own profile folds in to exactly that user's stored factors, hence exactly its
 * stored neighbours.
 *
 * SGD leaves each trained user vector with its own sampling noise (two trainings that differ only
 * in seed share 0.28 of a user's top-10 neighbours), which a profile folded in could only
 * approximate (0.56–0.68 overlap with BPR fold-in). So training ends with a pass that re-fits every
 * user's factors against the final item parameters, exactly, with no sampling at all: the implicit
 * least-squares user step (Hu, Koren & Volinsky 2008) on the items' factor sums
 * S_i = Σ_j x_j v_j (the item side of ⟨v_u, S_i⟩, the only place a user enters the BPR
 * difference):
 *
 *   v_u = argmin Σ_i c_ui (p_ui − ⟨v, S_i⟩)² + λ‖v‖²,  c_ui = 1 + α·w_ui,  p_ui = 1 for u's items, 0 for the rest,
 *
 * w_ui being the positive's weight (1, or a course's log-minutes weight). Solved by Cholesky with
 * `exactSolveRow`, the als method's solver: SᵀS + λI is formed once per model and a user adds its
 * own items, summed in item order. The result depends only on the user's sorted items and weights
 * and the fixed parameters: users run in any order, on any thread, and fold-in gives the same bits.
 *
 * Why least squares rather than BPR steps against the fixed items: on the tuning set (10k users,
 * seed 7) held-out recall@10 was 0.3191 with this pass, 0.3034 with a seeded BPR pass (3 passes ×
 * 8 negatives; 5 × 16 scored 0.3026, 15 × 8 0.2960) and 0.3021 with the SGD's own user factors: the
 * squared loss over every item smooths a user's factors towards the items it has, where sampled
 * negatives add noise. Assessment score bands are context in training and not used here.
 */
import { exactSolveRow } from "../als/solve.ts";
import type { FMData } from "./features.ts";
import type { FMParams } from "./model.ts";

/** What the user fit needs of the options. */
export interface UserFitOptions {
  /** α: confidence of a user's own item, 1 + α·weight. */
  userAlpha: number;
  /** λ of the user step. */
  userRegularization: number;
}

/** The fixed item side: S_i (items × k) and SᵀS + λI (k × k). */
export interface ItemSides {
  k: number;
  sums: Float64Array;
  gram: Float64Array;
}

/** Tabulates {@link ItemSides} for every item of the model (a fixed summation order). */
export function itemSides(data: FMData, params: FMParams, lambda: number): ItemSides {
  const { k, v } = params;
  const sums = new Float64Array(data.nItems * k);
  for (let i = 0; i < data.nItems; i++) {
    const at = i * k;
    for (let q = data.itemOffsets[i]; q < data.itemOffsets[i + 1]; q++) {
      const x = data.itemValues[q];
      const o = data.itemFeatures[q] * k;
      for (let f = 0; f < k; f++) sums[at + f] += x * v[o + f];
    }
  }
  const gram = new Float64Array(k * k);
  for (let i = 0; i < data.nItems; i++) {
    const at = i * k;
    for (let a = 0; a < k; a++) {
      const s = sums[at + a];
      for (let b = 0; b <= a; b++) gram[a * k + b] += s * sums[at + b];
    }
  }
  for (let a = 0; a < k; a++) {
    gram[a * k + a] += lambda;
    for (let b = 0; b < a; b++) gram[b * k + a] = gram[a * k + b];
  }
  return { k, sums, gram };
}

/** A user's positives, sorted by item: item and weight. */
export interface Positives {
  item: Int32Array;
  weight: Float64Array;
  n: number;
}

/** Fits one user's factors into `out` (length k) from its positives with every other parameter fixed. */
export function fitUser(sides: ItemSides, pos: Positives, o: UserFitOptions, out: Float64Array): void {
  out.fill(0);
  if (pos.n === 0) return;
  const w = new Float64Array(pos.n);
  for (let q = 0; q < pos.n; q++) w[q] = o.userAlpha * pos.weight[q];
  exactSolveRow(sides.k, sides.gram, sides.sums, pos.item, w, 0, pos.n, out, 0);
}

/** User u's positives from the training data, sorted by item. */
export function userPositives(data: FMData, u: number): Positives {
  const from = data.userOffsets[u];
  const n = data.userOffsets[u + 1] - from;
  const idx = Array.from({ length: n }, (_, q) => from + q).sort((a, b) => data.posItem[a] - data.posItem[b]);
  return { item: Int32Array.from(idx, (p) => data.posItem[p]), weight: Float64Array.from(idx, (p) => data.posWeight[p]), n };
}

/** Re-fits every user's factors in place (rows of `params.v`), see the module comment; users without positives keep theirs. */
export function userPass(data: FMData, params: FMParams, o: UserFitOptions, sides = itemSides(data, params, o.userRegularization)): void {
  const { k } = params;
  const out = new Float64Array(k);
  for (let u = 0; u < data.nUsers; u++) {
    if (data.userOffsets[u + 1] === data.userOffsets[u]) continue;
    fitUser(sides, userPositives(data, u), o, out);
    params.v.set(out, u * k);
  }
}
