/**
 * Item weighting of the similarity: how a raw block value x_uk (see `buildInteractions`) becomes
 * the value that is then normalized. Popular items say little about taste, so `idf` and `bm25`
 * weigh an item by how few users have it. Every quantity comes from the data the model is fitted
 * on, per block b:
 *
 * - N = the dataset's users (matrix rows); df_k = users with a non-zero x_uk in column k;
 * - L_u = u's non-zero entries in the block; avgL = mean L_u over the users with L_u > 0.
 *
 * Schemes (the weighted value x'_uk; entries that become 0 are dropped like zero values):
 * - `none`: x'_uk = x_uk (the original contract, bit for bit);
 * - `idf`: x'_uk = x_uk · ln(1 + N/df_k)^p, p = `idfExponent` (smoothed: an item everyone has
 *   still weighs ln 2, so small data where everyone shares an item keeps its neighbours);
 * - `bm25`: x'_uk = idf_k · x_uk·(k1 + 1) / (x_uk + k1·(1 − b + b·L_u/avgL)), with
 *   idf_k = ln(1 + (N − df_k + 0.5)/(df_k + 0.5)) (Lucene's, never negative): every user's row is
 *   weighted as a BM25 document, so the similarity stays symmetric (both users are weighted the same
 *   way; the asymmetric query-side BM25 score is not what this computes).
 *
 * An item of a folded-in profile that no user of the data has counts as df = 1.
 * The weighting and {@link weightEntry} are shared by the matrix build and fold-in, so an existing
 * user's profile gets that user's row bit for bit.
 */
export type ItemWeighting = "none" | "idf" | "bm25";
export type Normalize = "blocks" | "whole";
export const ITEM_WEIGHTINGS: readonly ItemWeighting[] = ["none", "idf", "bm25"];
export const NORMALIZE_MODES: readonly Normalize[] = ["blocks", "whole"];

/** The weighting options of a similarity model. */
export interface WeightingOptions {
  itemWeighting: ItemWeighting;
  /** p of `idf` (1: full IDF; 0.5: damped). */
  idfExponent: number;
  /** k1 of `bm25` (term-frequency saturation). */
  bm25K1: number;
  /** b of `bm25` (length normalization, 0..1). */
  bm25B: number;
}

/** Parameters of the schemes when not given (`none` is the original contract). */
export const DEFAULT_WEIGHTING: Readonly<WeightingOptions> = Object.freeze({ itemWeighting: "none", idfExponent: 0.5, bm25K1: 1.2, bm25B: 0.75 });

/** One block's weighting figures, computed once from the data. */
export interface BlockWeighting {
  /** The column factor of every item of the block (ln(1 + N/df)^p or the BM25 idf); empty for `none`. */
  idf: Float64Array;
  /** avgL (bm25). */
  avgLength: number;
}

/** The IDF factor of an item held by `df` of `users` users under `o`. */
export function idfFactor(o: WeightingOptions, users: number, df: number): number {
  if (o.itemWeighting === "idf") return Math.pow(Math.log1p(users / df), o.idfExponent);
  return Math.log(1 + (users - df + 0.5) / (df + 0.5));
}

/** The weighted value x' of a raw value `x` of a row with `length` non-zero entries in its block (see the module comment). */
export function weightEntry(o: WeightingOptions, x: number, idf: number, length: number, avgLength: number): number {
  if (o.itemWeighting === "idf") return x * idf;
  return (idf * (x * (o.bm25K1 + 1))) / (x + o.bm25K1 * (1 - o.bm25B + (o.bm25B * length) / avgLength));
}

/** df, idf and avgL of a block's raw values (`indices` of `cols` columns over `users` rows). */
export function blockWeighting(o: WeightingOptions, users: number, cols: number, indptr: Int32Array, indices: Int32Array, data: Float64Array): BlockWeighting {
  if (o.itemWeighting === "none") return { idf: new Float64Array(0), avgLength: 0 };
  const df = new Float64Array(cols);
  let total = 0;
  let rows = 0;
  for (let u = 0; u < users; u++) {
    let length = 0;
    for (let p = indptr[u]; p < indptr[u + 1]; p++) {
      if (data[p] === 0) continue;
      df[indices[p]]++;
      length++;
    }
    total += length;
    if (length > 0) rows++;
  }
  const idf = new Float64Array(cols);
  for (let k = 0; k < cols; k++) idf[k] = idfFactor(o, users, Math.max(df[k], 1));
  return { idf, avgLength: rows ? total / rows : 0 };
}
