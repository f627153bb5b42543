/**
 * Why two users' factor vectors agree, for any method that ranks by the cosine of factors
 * (factorization, als). Cosine similarity does not split into items by itself; it is split as far
 * as the model allows: u's unit factors û are regressed (least squares) on the sums of the vectors
 * of u's items, one direction per block, P_b = Σ_{i ∈ u's block b} w_i (w_i: the item's vector in
 * the model's space — an FM item's factor sum, an ALS item factor): û = Σ_b β_b P_b + r. Then
 * cos(u, v) = Σ_b β_b ⟨P_b, v̂⟩ + ⟨r, v̂⟩: block b contributes β_b ⟨P_b, v̂⟩ (item i of it
 * β_b ⟨w_i, v̂⟩), and the residual is what u's items do not account for. The split is exact (it
 * adds up to the score) and seen from u's side.
 */
import { BLOCK_NAMES, type BlockName } from "../matrix/interactions.ts";
import type { ExplainedItem, Explanation } from "../methods/method.ts";

/** What {@link explainCosine} needs. */
export interface CosineExplanationInput {
  k: number;
  /** The two users' unit factor vectors (k entries each). */
  unitU: Float64Array;
  unitV: Float64Array;
  /** cos(u, v) as ranked. */
  score: number;
  /** u's items (the model's item ids). */
  items: ArrayLike<number>;
  /** Writes item i's vector (k entries) into `out` at `at`. */
  vectorOf(item: number, out: Float64Array, at: number): void;
  /** Index of item i's block in BLOCK_NAMES. */
  blockOf(item: number): number;
  /** Item i's key, e.g. `course:abc`. */
  nameOf(item: number): string;
  /** Whether v has item i. */
  hasV(item: number): boolean;
  /** Items listed, largest |contribution| first. */
  limit: number;
}

function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, k: number): number {
  let s = 0;
  for (let f = 0; f < k; f++) s += a[ao + f] * b[bo + f];
  return s;
}

/** Splits cos(u, v) by block and item (see the module comment). */
export function explainCosine(x: CosineExplanationInput): Explanation {
  const { k, unitU, unitV, score, limit } = x;
  const n = x.items.length;
  const nb = BLOCK_NAMES.length;
  const P = new Float64Array(nb * k);
  const S = new Float64Array(n * k);
  const blockOf = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    const item = x.items[t];
    blockOf[t] = x.blockOf(item);
    x.vectorOf(item, S, t * k);
    for (let f = 0; f < k; f++) P[blockOf[t] * k + f] += S[t * k + f];
  }
  // Least squares û ≈ Σ β_b P_b over the blocks u has (normal equations, 3 × 3 at most).
  const present = [...Array(nb).keys()].filter((b) => dot(P, b * k, P, b * k, k) > 0);
  const beta = new Float64Array(nb);
  if (present.length > 0) {
    const G = present.map((b) => present.map((c) => dot(P, b * k, P, c * k, k)));
    const r = present.map((b) => dot(P, b * k, unitU, 0, k));
    const sol = solve(G, r);
    present.forEach((b, i) => (beta[b] = sol[i]));
  }
  const blocks: Record<BlockName, number> = { interests: 0, courses: 0, assessments: 0 };
  const items: ExplainedItem[] = [];
  for (let t = 0; t < n; t++) {
    const b = blockOf[t];
    const contribution = beta[b] * dot(S, t * k, unitV, 0, k);
    blocks[BLOCK_NAMES[b]] += contribution;
    items.push({ item: x.nameOf(x.items[t]), block: BLOCK_NAMES[b], contribution, shared: x.hasV(x.items[t]) });
  }
  items.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || (a.item < b.item ? -1 : 1));
  const explained = blocks.interests + blocks.courses + blocks.assessments;
  return {
    score,
    blocks,
    residual: score - explained,
    items: items.slice(0, limit),
    meaning:
      "score = cosine of the two users' factors; the first user's factors are split by least squares over the sums of its items' vectors per block, and each block's share is that part's dot product with the other user's factors (residual: what its items do not account for)",
  };
}

/** Solves the small symmetric system G x = r (Gaussian elimination with partial pivoting; a singular direction gets 0). */
function solve(G: number[][], r: number[]): number[] {
  const n = r.length;
  const a = G.map((row, i) => [...row, r[i]]);
  const scale = Math.max(...G.map((row, i) => Math.abs(row[i])), 0);
  const x = new Array<number>(n).fill(0);
  const pivots: number[] = [];
  for (let c = 0, row = 0; c < n && row < n; c++) {
    let best = row;
    for (let i = row + 1; i < n; i++) if (Math.abs(a[i][c]) > Math.abs(a[best][c])) best = i;
    if (Math.abs(a[best][c]) <= 1e-12 * scale) continue;
    [a[row], a[best]] = [a[best], a[row]];
    for (let i = 0; i < n; i++) {
      if (i === row) continue;
      const f = a[i][c] / a[row][c];
      for (let j = c; j <= n; j++) a[i][j] -= f * a[row][j];
    }
    pivots[row] = c;
    row++;
  }
  pivots.forEach((c, row) => (x[c] = a[row][n] / a[row][c]));
  return x;
}
