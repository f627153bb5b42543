/**
 * Second-order factorization machine (Rendle 2010) over sparse rows:
 *
 *   ŷ(x) = w0 + Σ_j w_j x_j + Σ_{j<l} ⟨v_j, v_l⟩ x_j x_l
 *        = w0 + Σ_j w_j x_j + ½ Σ_f [ (Σ_j v_{j,f} x_j)² − Σ_j v_{j,f}² x_j² ]      (O(k·nnz))
 *
 * Parameters live in flat Float64Arrays: `w[j]`, and `v[j*k .. j*k+k)` for feature j.
 * Dot products of k-vectors go through @stdlib's ddot on offsets into those arrays.
 */
import ddot from "@stdlib/blas-base-ddot";
import { Rng } from "./random.ts";

const dot = ddot.ndarray;

/** FM parameters. */
export interface FMParams {
  nFeatures: number;
  /** Latent dimension. */
  k: number;
  /** Global bias, boxed so that updates are visible to every holder. */
  w0: Float64Array;
  w: Float64Array;
  /** nFeatures × k, row-major. */
  v: Float64Array;
}

/** Fresh parameters: biases 0, factors N(0, initStd²) from a seeded generator. */
export function initParams(nFeatures: number, k: number, rng: Rng, initStd = 0.1): FMParams {
  const v = new Float64Array(nFeatures * k);
  for (let i = 0; i < v.length; i++) v[i] = initStd * rng.normal();
  return { nFeatures, k, w0: new Float64Array(1), w: new Float64Array(nFeatures), v };
}

/**
 * ŷ of the sparse row `idx[start..end)`, `val[start..end)` (distinct feature ids). `sum` is a
 * k-length scratch that receives Σ_j v_j x_j.
 */
export function predict(p: FMParams, idx: Int32Array, val: Float64Array, start: number, end: number, sum = new Float64Array(p.k)): number {
  const { k, v, w } = p;
  sum.fill(0);
  let linear = p.w0[0];
  let squares = 0;
  for (let q = start; q < end; q++) {
    const j = idx[q];
    const x = val[q];
    linear += w[j] * x;
    const o = j * k;
    for (let f = 0; f < k; f++) sum[f] += v[o + f] * x;
    squares += x * x * dot(k, v, 1, o, v, 1, o);
  }
  return linear + 0.5 * (dot(k, sum, 1, 0, sum, 1, 0) - squares);
}

/**
 * ∂ŷ/∂θ for the row: returns ∂ŷ/∂w0 (= 1), writes ∂ŷ/∂w_j into `gw[q-start]` and ∂ŷ/∂v_j into
 * `gv[(q-start)*k ..]`: x_j and x_j (Σ_l v_l x_l − v_j x_j).
 */
export function gradient(p: FMParams, idx: Int32Array, val: Float64Array, start: number, end: number, gw: Float64Array, gv: Float64Array): number {
  const { k, v } = p;
  const sum = new Float64Array(k);
  for (let q = start; q < end; q++) {
    const o = idx[q] * k;
    for (let f = 0; f < k; f++) sum[f] += v[o + f] * val[q];
  }
  for (let q = start; q < end; q++) {
    const x = val[q];
    const o = idx[q] * k;
    const g = (q - start) * k;
    gw[q - start] = x;
    for (let f = 0; f < k; f++) gv[g + f] = x * (sum[f] - v[o + f] * x);
  }
  return 1;
}

/**
 * Scratch for one BPR pair: a shared context (the user, and a score band) with a positive item's
 * features and a negative item's features. The trainer fills the index/value slots; {@link pairGradient}
 * fills the sums and gradients.
 */
export class PairScratch {
  readonly k: number;
  ctxIdx: Int32Array;
  ctxVal: Float64Array;
  nCtx = 0;
  posIdx: Int32Array;
  posVal: Float64Array;
  nPos = 0;
  negIdx: Int32Array;
  negVal: Float64Array;
  nNeg = 0;
  readonly sC: Float64Array;
  readonly sP: Float64Array;
  readonly sN: Float64Array;
  /** Gradients of the loss (not yet scaled by the learning rate). */
  gCtxV: Float64Array;
  gPosW: Float64Array;
  gPosV: Float64Array;
  gNegW: Float64Array;
  gNegV: Float64Array;

  constructor(k: number, capacity = 64) {
    this.k = k;
    this.sC = new Float64Array(k);
    this.sP = new Float64Array(k);
    this.sN = new Float64Array(k);
    this.ctxIdx = new Int32Array(4);
    this.ctxVal = new Float64Array(4);
    this.gCtxV = new Float64Array(4 * k);
    this.posIdx = new Int32Array(capacity);
    this.posVal = new Float64Array(capacity);
    this.negIdx = new Int32Array(capacity);
    this.negVal = new Float64Array(capacity);
    this.gPosW = new Float64Array(capacity);
    this.gNegW = new Float64Array(capacity);
    this.gPosV = new Float64Array(capacity * k);
    this.gNegV = new Float64Array(capacity * k);
  }

  /** Grows the item slots to hold `n` features. */
  reserve(n: number): void {
    if (n <= this.posIdx.length) return;
    const cap = Math.max(n, 2 * this.posIdx.length);
    const k = this.k;
    const grow = <T extends Int32Array | Float64Array>(a: T, size: number): T => {
      const b = new (a.constructor as { new (n: number): T })(size);
      b.set(a);
      return b;
    };
    this.posIdx = grow(this.posIdx, cap);
    this.posVal = grow(this.posVal, cap);
    this.negIdx = grow(this.negIdx, cap);
    this.negVal = grow(this.negVal, cap);
    this.gPosW = new Float64Array(cap);
    this.gNegW = new Float64Array(cap);
    this.gPosV = new Float64Array(cap * k);
    this.gNegV = new Float64Array(cap * k);
  }
}

/** Σ x_j v_j into `sum`; returns Σ x_j² ‖v_j‖² (fused into the same pass over v). */
function accumulate(v: Float64Array, k: number, idx: Int32Array, val: Float64Array, n: number, sum: Float64Array): number {
  let squares = 0;
  if (n === 0) {
    sum.fill(0);
    return 0;
  }
  {
    const x = val[0];
    const o = idx[0] * k;
    let sq = 0;
    for (let f = 0; f < k; f++) {
      const a = v[o + f];
      sum[f] = a * x;
      sq += a * a;
    }
    squares += x * x * sq;
  }
  for (let q = 1; q < n; q++) {
    const x = val[q];
    const o = idx[q] * k;
    let sq = 0;
    for (let f = 0; f < k; f++) {
      const a = v[o + f];
      sum[f] += a * x;
      sq += a * a;
    }
    squares += x * x * sq;
  }
  return squares;
}

/**
 * ŷ(context ∪ pos) − ŷ(context ∪ neg), without the terms that cancel (w0, the context's biases and
 * its internal interactions):
 *   Σ_P w x − Σ_N w x + ⟨S_C, S_P − S_N⟩ + pair(P) − pair(N),  pair(X) = ½(‖S_X‖² − Σ_X x²‖v‖²).
 * Leaves the sums S_C, S_P, S_N in the scratch.
 */
export function pairDifference(p: FMParams, s: PairScratch): number {
  const { k, v, w } = p;
  accumulate(v, k, s.ctxIdx, s.ctxVal, s.nCtx, s.sC);
  const qP = accumulate(v, k, s.posIdx, s.posVal, s.nPos, s.sP);
  const qN = accumulate(v, k, s.negIdx, s.negVal, s.nNeg, s.sN);
  let d = 0;
  for (let q = 0; q < s.nPos; q++) d += w[s.posIdx[q]] * s.posVal[q];
  for (let q = 0; q < s.nNeg; q++) d -= w[s.negIdx[q]] * s.negVal[q];
  d += dot(k, s.sC, 1, 0, s.sP, 1, 0) - dot(k, s.sC, 1, 0, s.sN, 1, 0);
  d += 0.5 * (dot(k, s.sP, 1, 0, s.sP, 1, 0) - qP) - 0.5 * (dot(k, s.sN, 1, 0, s.sN, 1, 0) - qN);
  return d;
}

/** ln(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 30 ? z : z < -30 ? Math.exp(z) : Math.log1p(Math.exp(z));
}

/**
 * BPR loss of one pair, `weight · −ln σ(d)` with d = {@link pairDifference}, and its gradient
 * with respect to every parameter the pair touches (written into the scratch's g* arrays; a feature
 * present in both items gets one entry on each side, and the two add up).
 */
export function pairGradient(p: FMParams, s: PairScratch, weight: number): number {
  const { k, v } = p;
  const d = pairDifference(p, s);
  // dL/dd = −weight · σ(−d)
  const g = -weight / (1 + Math.exp(d));
  const { sC, sP, sN } = s;
  for (let q = 0; q < s.nCtx; q++) {
    const x = s.ctxVal[q];
    const o = q * k;
    for (let f = 0; f < k; f++) s.gCtxV[o + f] = g * x * (sP[f] - sN[f]);
  }
  for (let q = 0; q < s.nPos; q++) {
    const x = s.posVal[q];
    const o = s.posIdx[q] * k;
    const go = q * k;
    s.gPosW[q] = g * x;
    for (let f = 0; f < k; f++) s.gPosV[go + f] = g * x * (sC[f] + sP[f] - x * v[o + f]);
  }
  for (let q = 0; q < s.nNeg; q++) {
    const x = s.negVal[q];
    const o = s.negIdx[q] * k;
    const go = q * k;
    s.gNegW[q] = -g * x;
    for (let f = 0; f < k; f++) s.gNegV[go + f] = -g * x * (sC[f] + sN[f] - x * v[o + f]);
  }
  return weight * softplus(-d);
}

/**
 * One SGD step from the gradient in the scratch: θ ← θ − lr (∂L/∂θ + λ θ) for every touched θ
 * (L2 applied lazily, only to parameters the pair uses, as usual for sparse SGD).
 */
export function applyPairGradient(p: FMParams, s: PairScratch, lr: number, reg: number): void {
  const { k, v, w } = p;
  const shrink = 1 - lr * reg;
  for (let q = 0; q < s.nCtx; q++) {
    const o = s.ctxIdx[q] * k;
    const go = q * k;
    for (let f = 0; f < k; f++) v[o + f] = shrink * v[o + f] - lr * s.gCtxV[go + f];
  }
  for (let q = 0; q < s.nPos; q++) {
    const j = s.posIdx[q];
    w[j] = shrink * w[j] - lr * s.gPosW[q];
    const o = j * k;
    const go = q * k;
    for (let f = 0; f < k; f++) v[o + f] = shrink * v[o + f] - lr * s.gPosV[go + f];
  }
  for (let q = 0; q < s.nNeg; q++) {
    const j = s.negIdx[q];
    w[j] = shrink * w[j] - lr * s.gNegW[q];
    const o = j * k;
    const go = q * k;
    for (let f = 0; f < k; f++) v[o + f] = shrink * v[o + f] - lr * s.gNegV[go + f];
  }
}
