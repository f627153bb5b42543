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
import { Rng } from "../../random.ts";

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
 * Scratch for one BPR step: a shared context (the user, and a score band), a positive item's
 * features, and the features of m sampled negative items (negative r's features are
 * `negIdx[negStart[r] .. negStart[r+1])`). The trainer fills the index/value slots;
 * {@link bprGradient} fills the sums, differences and gradients.
 */
export class BprScratch {
  readonly k: number;
  readonly maxNegatives: number;
  ctxIdx = new Int32Array(4);
  ctxVal = new Float64Array(4);
  nCtx = 0;
  posIdx: Int32Array;
  posVal: Float64Array;
  nPos = 0;
  negIdx: Int32Array;
  negVal: Float64Array;
  readonly negStart: Int32Array;
  nNegatives = 0;
  readonly sC: Float64Array;
  readonly sP: Float64Array;
  /** Σ x v of negative r at `sN[r*k ..]`. */
  readonly sN: Float64Array;
  /** d_r = ŷ(context ∪ pos) − ŷ(context ∪ neg r). */
  readonly d: Float64Array;
  /** σ(−d_r) · weight: how much negative r still pulls. */
  readonly pull: Float64Array;
  /** Gradients of the loss (not yet scaled by the learning rate), aligned with the index slots. */
  readonly gCtxV: Float64Array;
  gPosW: Float64Array;
  gPosV: Float64Array;
  gNegW: Float64Array;
  gNegV: Float64Array;

  /** `itemFeatures`: the most features any item row has. */
  constructor(k: number, maxNegatives = 1, itemFeatures = 16) {
    this.k = k;
    this.maxNegatives = maxNegatives;
    this.sC = new Float64Array(k);
    this.sP = new Float64Array(k);
    this.sN = new Float64Array(maxNegatives * k);
    this.d = new Float64Array(maxNegatives);
    this.pull = new Float64Array(maxNegatives);
    this.negStart = new Int32Array(maxNegatives + 1);
    this.gCtxV = new Float64Array(4 * k);
    this.posIdx = new Int32Array(itemFeatures);
    this.posVal = new Float64Array(itemFeatures);
    this.gPosW = new Float64Array(itemFeatures);
    this.gPosV = new Float64Array(itemFeatures * k);
    const negCap = itemFeatures * maxNegatives;
    this.negIdx = new Int32Array(negCap);
    this.negVal = new Float64Array(negCap);
    this.gNegW = new Float64Array(negCap);
    this.gNegV = new Float64Array(negCap * k);
  }

  /** Sets the context: the user and, if `band >= 0`, a score-band feature. */
  setContext(user: number, band: number): void {
    this.ctxIdx[0] = user;
    this.ctxVal[0] = 1;
    this.nCtx = 1;
    if (band >= 0) {
      this.ctxIdx[1] = band;
      this.ctxVal[1] = 1;
      this.nCtx = 2;
    }
  }

  /** Sets the positive item's features. */
  setPositive(idx: ArrayLike<number>, val: ArrayLike<number>, from = 0, to = idx.length): void {
    const n = to - from;
    for (let q = 0; q < n; q++) {
      this.posIdx[q] = idx[from + q];
      this.posVal[q] = val[from + q];
    }
    this.nPos = n;
    this.nNegatives = 0;
    this.negStart[0] = 0;
  }

  /** Appends a negative item's features. */
  addNegative(idx: ArrayLike<number>, val: ArrayLike<number>, from = 0, to = idx.length): void {
    const r = this.nNegatives++;
    const at = this.negStart[r];
    for (let q = from; q < to; q++) {
      this.negIdx[at + q - from] = idx[q];
      this.negVal[at + q - from] = val[q];
    }
    this.negStart[r + 1] = at + to - from;
  }
}

/** Σ x_j v_j into `sum`; returns Σ x_j² ‖v_j‖² (fused into the same pass over v). */
function accumulate(v: Float64Array, k: number, idx: Int32Array, val: Float64Array, from: number, to: number, sum: Float64Array, at: number): number {
  let squares = 0;
  if (to === from) {
    sum.fill(0, at, at + k);
    return 0;
  }
  {
    const x = val[from];
    const o = idx[from] * k;
    let sq = 0;
    for (let f = 0; f < k; f++) {
      const a = v[o + f];
      sum[at + f] = a * x;
      sq += a * a;
    }
    squares += x * x * sq;
  }
  for (let q = from + 1; q < to; q++) {
    const x = val[q];
    const o = idx[q] * k;
    let sq = 0;
    for (let f = 0; f < k; f++) {
      const a = v[o + f];
      sum[at + f] += a * x;
      sq += a * a;
    }
    squares += x * x * sq;
  }
  return squares;
}

/**
 * d_r = ŷ(context ∪ pos) − ŷ(context ∪ neg r) for every negative, without the terms that cancel
 * (w0, the context's biases and its internal interactions):
 *   Σ_P w x − Σ_N w x + ⟨S_C, S_P − S_N⟩ + pair(P) − pair(N),  pair(X) = ½(‖S_X‖² − Σ_X x²‖v‖²).
 * Leaves the sums S_C, S_P, S_N and the differences in the scratch.
 */
export function bprDifferences(p: FMParams, s: BprScratch): void {
  const { k, v, w } = p;
  accumulate(v, k, s.ctxIdx, s.ctxVal, 0, s.nCtx, s.sC, 0);
  const qP = accumulate(v, k, s.posIdx, s.posVal, 0, s.nPos, s.sP, 0);
  let base = 0;
  for (let q = 0; q < s.nPos; q++) base += w[s.posIdx[q]] * s.posVal[q];
  base += dot(k, s.sC, 1, 0, s.sP, 1, 0) + 0.5 * (dot(k, s.sP, 1, 0, s.sP, 1, 0) - qP);
  for (let r = 0; r < s.nNegatives; r++) {
    const from = s.negStart[r];
    const to = s.negStart[r + 1];
    const at = r * k;
    const qN = accumulate(v, k, s.negIdx, s.negVal, from, to, s.sN, at);
    let d = base;
    for (let q = from; q < to; q++) d -= w[s.negIdx[q]] * s.negVal[q];
    d -= dot(k, s.sC, 1, 0, s.sN, 1, at) + 0.5 * (dot(k, s.sN, 1, at, s.sN, 1, at) - qN);
    s.d[r] = d;
  }
}

/** ln(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 30 ? z : z < -30 ? Math.exp(z) : Math.log1p(Math.exp(z));
}

/**
 * BPR loss of one positive against its negatives, `weight · Σ_r −ln σ(d_r)` (d_r from
 * {@link bprDifferences}), and its gradient with respect to every parameter it touches, written into
 * the scratch's g* arrays (a feature present in several rows gets one entry per row; they add up).
 * With G = Σ_r g_r and g_r = weight · σ(−d_r):
 *   ∂L/∂v_c = −x_c (G S_P − Σ_r g_r S_N,r)             (context)
 *   ∂L/∂v_p = −G x_p (S_C + S_P − x_p v_p),  ∂L/∂w_p = −G x_p
 *   ∂L/∂v_n = g_r x_n (S_C + S_N,r − x_n v_n), ∂L/∂w_n = g_r x_n
 */
export function bprGradient(p: FMParams, s: BprScratch, weight: number): number {
  const { k, v } = p;
  bprDifferences(p, s);
  const { sC, sP, sN } = s;
  let loss = 0;
  let G = 0;
  for (let r = 0; r < s.nNegatives; r++) {
    const d = s.d[r];
    s.pull[r] = weight / (1 + Math.exp(d));
    G += s.pull[r];
    loss += weight * softplus(-d);
  }
  for (let q = 0; q < s.nCtx; q++) {
    const x = s.ctxVal[q];
    const o = q * k;
    for (let f = 0; f < k; f++) {
      let t = G * sP[f];
      for (let r = 0; r < s.nNegatives; r++) t -= s.pull[r] * sN[r * k + f];
      s.gCtxV[o + f] = -x * t;
    }
  }
  for (let q = 0; q < s.nPos; q++) {
    const x = s.posVal[q];
    const o = s.posIdx[q] * k;
    const go = q * k;
    s.gPosW[q] = -G * x;
    for (let f = 0; f < k; f++) s.gPosV[go + f] = -G * x * (sC[f] + sP[f] - x * v[o + f]);
  }
  for (let r = 0; r < s.nNegatives; r++) {
    const g = s.pull[r];
    const at = r * k;
    for (let q = s.negStart[r]; q < s.negStart[r + 1]; q++) {
      const x = s.negVal[q];
      const o = s.negIdx[q] * k;
      const go = q * k;
      s.gNegW[q] = g * x;
      for (let f = 0; f < k; f++) s.gNegV[go + f] = g * x * (sC[f] + sN[at + f] - x * v[o + f]);
    }
  }
  return loss;
}

/**
 * One SGD step from the gradient in the scratch: θ ← θ − lr (∂L/∂θ + λ θ) for every touched θ
 * (L2 applied lazily, only to parameters the step uses, as usual for sparse SGD). The context
 * (user, band) may take its own step size `ctxLr`.
 */
export function applyBprGradient(p: FMParams, s: BprScratch, lr: number, reg: number, ctxLr = lr): void {
  const { k, v, w } = p;
  const shrink = 1 - lr * reg;
  const ctxShrink = 1 - ctxLr * reg;
  for (let q = 0; q < s.nCtx; q++) {
    const o = s.ctxIdx[q] * k;
    const go = q * k;
    for (let f = 0; f < k; f++) v[o + f] = ctxShrink * v[o + f] - ctxLr * s.gCtxV[go + f];
  }
  for (let q = 0; q < s.nPos; q++) {
    const j = s.posIdx[q];
    w[j] = shrink * w[j] - lr * s.gPosW[q];
    const o = j * k;
    const go = q * k;
    for (let f = 0; f < k; f++) v[o + f] = shrink * v[o + f] - lr * s.gPosV[go + f];
  }
  const nNeg = s.negStart[s.nNegatives];
  for (let q = 0; q < nNeg; q++) {
    const j = s.negIdx[q];
    w[j] = shrink * w[j] - lr * s.gNegW[q];
    const o = j * k;
    const go = q * k;
    for (let f = 0; f < k; f++) v[o + f] = shrink * v[o + f] - lr * s.gNegV[go + f];
  }
}
