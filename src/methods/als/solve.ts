/**
 * One row's least-squares problem of implicit ALS, and its two solvers.
 *
 * With the other side's factors Y fixed, row u's factors minimise
 *   Σ_i c_ui (p_ui − x·y_i)² + λ‖x‖²,  c_ui = 1 + w_ui,  p_ui = 1 observed, 0 otherwise,
 * whose normal equations are
 *   (YᵀY + λI + Σ_{i observed} w_ui y_i y_iᵀ) x = Σ_{i observed} (1 + w_ui) y_i
 * (Hu, Koren & Volinsky 2008: the unobserved items enter only through YᵀY, computed once per
 * half-step). `a` below is YᵀY + λI (k × k, row-major, symmetric); a row's observed items are
 * `ids[from..to)` with their w = α·strength in `w[from..to)`.
 *
 * {@link cgSolveRow} runs a few conjugate-gradient steps from the current x (Takács et al. 2011,
 * as `implicit`'s `_least_squares_cg`), never forming the row's matrix: each product with it
 * costs k² + 2k·n_u. {@link exactSolveRow} forms it and solves by Cholesky (fold-in, tests).
 *
 * Every sum runs in a fixed order, so a row's result depends only on its inputs: not on which
 * thread solves it or on which rows are solved beside it.
 */
import ddot from "@stdlib/blas-base-ddot";
import daxpy from "@stdlib/blas-base-daxpy";
import dscal from "@stdlib/blas-base-dscal";

const dot = ddot.ndarray;
const axpy = daxpy.ndarray;
const scal = dscal.ndarray;

/** CG stops early once the squared residual norm is below this (as `implicit` does). */
const RESIDUAL_FLOOR = 1e-20;

/** Work vectors of one thread. */
export interface CgScratch {
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
}

export function cgScratch(k: number): CgScratch {
  return { r: new Float64Array(k), p: new Float64Array(k), ap: new Float64Array(k) };
}

/**
 * out = a·v for the symmetric k × k `a` (`out` is overwritten). Four rows of `a` per pass over v: each v[l] is loaded
 * once for four sums (1.4–1.9× the speed of one ddot per row at k = 64–128, measured); each sum
 * still runs over l in order.
 */
export function symv(k: number, a: Float64Array, v: Float64Array, vo: number, out: Float64Array): void {
  let j = 0;
  for (; j + 4 <= k; j += 4) {
    const o0 = j * k;
    const o1 = o0 + k;
    const o2 = o1 + k;
    const o3 = o2 + k;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let l = 0; l < k; l++) {
      const x = v[vo + l];
      s0 += a[o0 + l] * x;
      s1 += a[o1 + l] * x;
      s2 += a[o2 + l] * x;
      s3 += a[o3 + l] * x;
    }
    out[j] = s0;
    out[j + 1] = s1;
    out[j + 2] = s2;
    out[j + 3] = s3;
  }
  for (; j < k; j++) out[j] = dot(k, a, 1, j * k, v, 1, vo);
}

/**
 * out += Σ_q f_q y_q over the row's items q, with s_q = y_q·v and f_q = w_q·s_q (the product of
 * the row's sparse term with v) or, with `residual`, f_q = 1 + w_q − w_q·s_q (the sparse part of
 * b − A v). Four items at a time: one pass over v for their four dots and one pass over `out` for
 * their four updates (1.35–1.9× the speed of a ddot and a daxpy per item, measured at k = 64–128);
 * the rest item by item.
 */
export function addItemTerms(k: number, y: Float64Array, ids: Int32Array, w: Float64Array, from: number, to: number, v: Float64Array, vo: number, out: Float64Array, residual: boolean): void {
  let q = from;
  for (; q + 4 <= to; q += 4) {
    const o0 = ids[q] * k;
    const o1 = ids[q + 1] * k;
    const o2 = ids[q + 2] * k;
    const o3 = ids[q + 3] * k;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let l = 0; l < k; l++) {
      const x = v[vo + l];
      s0 += y[o0 + l] * x;
      s1 += y[o1 + l] * x;
      s2 += y[o2 + l] * x;
      s3 += y[o3 + l] * x;
    }
    const w0 = w[q];
    const w1 = w[q + 1];
    const w2 = w[q + 2];
    const w3 = w[q + 3];
    const f0 = residual ? 1 + w0 - w0 * s0 : w0 * s0;
    const f1 = residual ? 1 + w1 - w1 * s1 : w1 * s1;
    const f2 = residual ? 1 + w2 - w2 * s2 : w2 * s2;
    const f3 = residual ? 1 + w3 - w3 * s3 : w3 * s3;
    for (let l = 0; l < k; l++) out[l] += f0 * y[o0 + l] + f1 * y[o1 + l] + f2 * y[o2 + l] + f3 * y[o3 + l];
  }
  for (; q < to; q++) {
    const yo = ids[q] * k;
    const s = dot(k, y, 1, yo, v, 1, vo);
    axpy(k, residual ? 1 + w[q] - w[q] * s : w[q] * s, y, 1, yo, out, 1, 0);
  }
}

/**
 * `steps` conjugate-gradient steps on row u's normal equations (see the module comment),
 * starting from and updating x = `x[xo .. xo+k)` in place.
 */
export function cgSolveRow(
  k: number,
  a: Float64Array,
  y: Float64Array,
  ids: Int32Array,
  w: Float64Array,
  from: number,
  to: number,
  x: Float64Array,
  xo: number,
  steps: number,
  s: CgScratch,
): void {
  const { r, p, ap } = s;
  // r = b − A x = Σ_i (1 + w_i − w_i y_i·x) y_i − a x
  symv(k, a, x, xo, r);
  scal(k, -1, r, 1, 0);
  addItemTerms(k, y, ids, w, from, to, x, xo, r, true);
  p.set(r);
  let rsOld = dot(k, r, 1, 0, r, 1, 0);
  if (rsOld < RESIDUAL_FLOOR) return;
  for (let it = 0; it < steps; it++) {
    // ap = A p = a p + Σ_i w_i (y_i·p) y_i
    symv(k, a, p, 0, ap);
    addItemTerms(k, y, ids, w, from, to, p, 0, ap, false);
    const pap = dot(k, p, 1, 0, ap, 1, 0);
    // Only a singular row (λ = 0, fewer items than factors) can give pᵀAp = 0: stop, not NaN.
    if (!(pap > 0)) break;
    const alpha = rsOld / pap;
    axpy(k, alpha, p, 1, 0, x, 1, xo);
    axpy(k, -alpha, ap, 1, 0, r, 1, 0);
    const rsNew = dot(k, r, 1, 0, r, 1, 0);
    if (rsNew < RESIDUAL_FLOOR) break;
    scal(k, rsNew / rsOld, p, 1, 0);
    axpy(k, 1, r, 1, 0, p, 1, 0);
    rsOld = rsNew;
  }
}

/**
 * The exact solution of row u's normal equations (see the module comment) into
 * `out[oo .. oo+k)`: the matrix is formed and factored by Cholesky. Throws if it is not positive
 * definite (only possible with λ = 0 and too few items).
 */
export function exactSolveRow(k: number, a: Float64Array, y: Float64Array, ids: Int32Array, w: Float64Array, from: number, to: number, out: Float64Array, oo: number): void {
  const m = a.slice(0, k * k);
  const b = new Float64Array(k);
  for (let q = from; q < to; q++) {
    const yo = ids[q] * k;
    // Only the lower triangle: all that `choleskySolve` reads (half the work; each entry's sum unchanged).
    for (let j = 0; j < k; j++) {
      const s = w[q] * y[yo + j];
      const jo = j * k;
      for (let l = 0; l <= j; l++) m[jo + l] += s * y[yo + l];
    }
    axpy(k, 1 + w[q], y, 1, yo, b, 1, 0);
  }
  choleskySolve(k, m, b);
  out.set(b, oo);
}

/**
 * Solves m x = b in place for the symmetric positive definite k × k `m` (row-major) by Cholesky:
 * `m`'s lower triangle is overwritten with L (m = L Lᵀ), `b` with x. Throws if `m` is not positive
 * definite (only possible with λ = 0 and too few entries).
 */
export function choleskySolve(k: number, m: Float64Array, b: Float64Array): void {
  // m = L Lᵀ, L stored in the lower triangle of m.
  for (let j = 0; j < k; j++) {
    const jo = j * k;
    const d = m[jo + j] - dot(j, m, 1, jo, m, 1, jo);
    if (!(d > 0)) throw new RangeError(`the normal equations are not positive definite (pivot ${j}): increase regularization`);
    const ljj = Math.sqrt(d);
    m[jo + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      const io = i * k;
      m[io + j] = (m[io + j] - dot(j, m, 1, io, m, 1, jo)) / ljj;
    }
  }
  // L z = b, then Lᵀ x = z.
  for (let i = 0; i < k; i++) b[i] = (b[i] - dot(i, m, 1, i * k, b, 1, 0)) / m[i * k + i];
  for (let i = k - 1; i >= 0; i--) {
    let t = b[i];
    for (let j = i + 1; j < k; j++) t -= m[j * k + i] * b[j];
    b[i] = t / m[i * k + i];
  }
}
