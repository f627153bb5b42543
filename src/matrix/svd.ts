/**
 * Randomized truncated SVD of a sparse matrix (Halko, Martinsson & Tropp 2011, algorithms 4.4
 * and 5.1), and the cyclic Jacobi eigensolver it needs for the small projected problem.
 *
 * For X (n × m, CSR) and a rank k: a Gaussian test matrix Ω (m × l, l = k + oversampling, from
 * the seeded {@link Rng}), Y = XΩ, then q power iterations Y ← X(XᵀQ) with the basis
 * re-orthonormalized after every product (modified Gram–Schmidt, twice: one pass loses
 * orthogonality when the columns are nearly dependent, which is what power iterations make them);
 * Q = orth(Y), B = QᵀX (l × m), and the SVD of B from the eigen-decomposition of BBᵀ (l × l):
 * BBᵀ = W Λ Wᵀ, σ_i = √λ_i, V = BᵀW Σ⁻¹. Only V_k and σ are kept.
 *
 * Every product runs over the CSR rows in order and every sum in index order, one thread: the same
 * seed gives the same bits on every run.
 */
import type { CSR } from "./csr.ts";
import { Rng } from "../random.ts";

/** A truncated SVD: X ≈ U_k Σ_k V_kᵀ (U_k is not kept: X·V_k = U_k Σ_k is what is used). */
export interface TruncatedSvd {
  k: number;
  /** σ_1 ≥ … ≥ σ_k ≥ 0. */
  sigma: Float64Array;
  /** V_k, m × k row-major: row c is column c's coordinates (0 where σ_i is 0). */
  v: Float64Array;
}

/** Options of {@link randomizedSvd}. */
export interface RandomizedSvdOptions {
  /** Extra test vectors beyond k (default 10). */
  oversampling?: number;
  /** Power iterations q (default 3). */
  powerIterations?: number;
  seed?: number;
}

/** Y (n × l, column-major: column j at j·n) = X·M, M (m × l, column-major). */
function times(x: CSR, m: Float64Array, l: number, out: Float64Array): void {
  const n = x.rows;
  const cols = x.cols;
  out.fill(0);
  for (let j = 0; j < l; j++) {
    const mo = j * cols;
    const oo = j * n;
    for (let u = 0; u < n; u++) {
      let s = 0;
      for (let p = x.indptr[u]; p < x.indptr[u + 1]; p++) s += x.data[p] * m[mo + x.indices[p]];
      out[oo + u] = s;
    }
  }
}

/** Z (m × l, column-major) = Xᵀ·Q, Q (n × l, column-major): rows of X in order, so each sum in row order. */
function transposeTimes(x: CSR, q: Float64Array, l: number, out: Float64Array): void {
  const n = x.rows;
  const cols = x.cols;
  out.fill(0);
  for (let j = 0; j < l; j++) {
    const qo = j * n;
    const oo = j * cols;
    for (let u = 0; u < n; u++) {
      const a = q[qo + u];
      if (a === 0) continue;
      for (let p = x.indptr[u]; p < x.indptr[u + 1]; p++) out[oo + x.indices[p]] += x.data[p] * a;
    }
  }
}

/**
 * Orthonormalizes the l columns (each of length `len`, column-major) in place by modified
 * Gram–Schmidt, two passes. A column that vanishes (dependent on the earlier ones) becomes zero.
 */
export function orthonormalize(a: Float64Array, len: number, l: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < l; j++) {
      const oj = j * len;
      for (let i = 0; i < j; i++) {
        const oi = i * len;
        let d = 0;
        for (let t = 0; t < len; t++) d += a[oi + t] * a[oj + t];
        if (d === 0) continue;
        for (let t = 0; t < len; t++) a[oj + t] -= d * a[oi + t];
      }
      let s = 0;
      for (let t = 0; t < len; t++) s += a[oj + t] * a[oj + t];
      // After the first pass a column is already unit or zero; a residue below 1e-10 of it is noise.
      const norm = Math.sqrt(s);
      if (!(norm > (pass === 0 ? 1e-300 : 1e-10))) {
        a.fill(0, oj, oj + len);
        continue;
      }
      for (let t = 0; t < len; t++) a[oj + t] /= norm;
    }
  }
}

/** Eigen-decomposition of a symmetric matrix: values descending, vectors[i·n + j] = component i of eigenvector j. */
export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

/**
 * The eigenvalues and eigenvectors of the symmetric n × n matrix `a` (row-major; not modified) by
 * cyclic Jacobi rotations (Golub & Van Loan §8.5): sweeps over every pair (p, q) in order, each
 * rotation zeroing a_pq, until the off-diagonal mass is below 1e-15 of the whole (at most 100
 * sweeps; it converges quadratically, in under 10 for the sizes used here). Sorted by descending
 * eigenvalue, ties by index.
 */
export function jacobiEigen(a: Float64Array, n: number): SymmetricEigen {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += m[i] * m[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
    if (!(off > 1e-30 * total)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        const app = m[p * n + p];
        const aqq = m[q * n + q];
        // The rotation angle that zeroes a_pq, in the stable form (Numerical Recipes §11.1).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < n; r++) {
          const mrp = m[r * n + p];
          const mrq = m[r * n + q];
          m[r * n + p] = c * mrp - s * mrq;
          m[r * n + q] = s * mrp + c * mrq;
        }
        for (let r = 0; r < n; r++) {
          const mpr = m[p * n + r];
          const mqr = m[q * n + r];
          m[p * n + r] = c * mpr - s * mqr;
          m[q * n + r] = s * mpr + c * mqr;
        }
        for (let r = 0; r < n; r++) {
          const vrp = v[r * n + p];
          const vrq = v[r * n + q];
          v[r * n + p] = c * vrp - s * vrq;
          v[r * n + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = [...Array(n).keys()].sort((x, y) => m[y * n + y] - m[x * n + x] || x - y);
  const values = Float64Array.from(order, (j) => m[j * n + j]);
  const vectors = new Float64Array(n * n);
  order.forEach((j, to) => {
    for (let i = 0; i < n; i++) vectors[i * n + to] = v[i * n + j];
  });
  return { values, vectors };
}

/**
 * The rank-k randomized SVD of `x` (see the module comment). k must be in 1..min(rows, cols).
 * Deterministic: same matrix, k, options and seed, same bits.
 */
export function randomizedSvd(x: CSR, k: number, opts: RandomizedSvdOptions = {}): TruncatedSvd {
  const n = x.rows;
  const m = x.cols;
  if (!Number.isInteger(k) || k < 1 || k > Math.min(n, m)) throw new RangeError(`rank must be an integer in 1..${Math.min(n, m)} (min of rows and columns), got ${k}`);
  const l = Math.min(k + (opts.oversampling ?? 10), n, m);
  const q = opts.powerIterations ?? 3;
  const rng = new Rng(opts.seed ?? 42);
  const omega = new Float64Array(m * l);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  const y = new Float64Array(n * l);
  const z = new Float64Array(m * l);
  times(x, omega, l, y);
  orthonormalize(y, n, l);
  for (let it = 0; it < q; it++) {
    transposeTimes(x, y, l, z);
    orthonormalize(z, m, l);
    times(x, z, l, y);
    orthonormalize(y, n, l);
  }
  // B = QᵀX (l × m row-major) is (XᵀQ)ᵀ: z's column-major layout is B's row-major one.
  transposeTimes(x, y, l, z);
  const b = z;
  const g = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    for (let j = i; j < l; j++) {
      let s = 0;
      for (let c = 0; c < m; c++) s += b[i * m + c] * b[j * m + c];
      g[i * l + j] = s;
      g[j * l + i] = s;
    }
  }
  const { values, vectors } = jacobiEigen(g, l);
  const sigma = new Float64Array(k);
  const v = new Float64Array(m * k);
  const top = Math.sqrt(Math.max(values[0], 0));
  for (let f = 0; f < k; f++) {
    const s = Math.sqrt(Math.max(values[f], 0));
    sigma[f] = s;
    // A singular value at rounding level has no direction worth keeping (V's column would be noise).
    if (!(s > 1e-10 * top)) continue;
    for (let c = 0; c < m; c++) {
      let t = 0;
      for (let i = 0; i < l; i++) t += b[i * m + c] * vectors[i * l + f];
      v[c * k + f] = t / s;
    }
  }
  return { k, sigma, v };
}

/**
 * Row `indices`/`data` (a sparse row of the matrix) times V_k: Σ over the row's entries in order
 * of x_c · V[c, :]. The same loop for the matrix's rows and a folded-in row, so an existing user's
 * own profile gets that user's embedding bit for bit.
 */
export function projectRow(svd: TruncatedSvd, indices: ArrayLike<number>, data: ArrayLike<number>, out: Float64Array, at = 0): void {
  const { k, v } = svd;
  for (let f = 0; f < k; f++) out[at + f] = 0;
  for (let p = 0; p < indices.length; p++) {
    const a = data[p];
    const o = indices[p] * k;
    for (let f = 0; f < k; f++) out[at + f] += a * v[o + f];
  }
}

/** X·V_k (rows × k, row-major): every row's embedding by {@link projectRow}. */
export function projectRows(x: CSR, svd: TruncatedSvd): Float64Array {
  const out = new Float64Array(x.rows * svd.k);
  for (let u = 0; u < x.rows; u++) {
    const from = x.indptr[u];
    const to = x.indptr[u + 1];
    projectRow(svd, x.indices.subarray(from, to), x.data.subarray(from, to), out, u * svd.k);
  }
  return out;
}
