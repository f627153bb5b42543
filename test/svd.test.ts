/**
 * The randomized truncated SVD (src/matrix/svd.ts) against dense oracles, and similarity's
 * `--rank`: users ranked by the exact cosine of their SVD embeddings, fold-in, explanations,
 * stored models, the CLI flag, bad values.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type RankingsStore } from "../src/db/store.ts";
import { toDataset, type Dataset } from "../src/dataset.ts";
import { fit } from "../src/fit.ts";
import type { CSR } from "../src/matrix/csr.ts";
import { jacobiEigen, orthonormalize, projectRows, randomizedSvd } from "../src/matrix/svd.ts";
import type { Model } from "../src/methods/method.ts";
import { buildUserItemMatrix } from "../src/methods/similarity/index.ts";
import { runPipeline } from "../src/pipeline.ts";
import { profileOf } from "../src/profile.ts";
import { Rng } from "../src/random.ts";
import { loadRecommender } from "../src/recommender.ts";
import { runCli } from "./fixtures/cli.ts";
import { grouped, groupOf, writeCsvDir } from "./fixtures/grouped.ts";

/** A random sparse n × m CSR (each entry present with probability `density`, values in (0, 1]). */
function randomCsr(n: number, m: number, density: number, seed: number): CSR {
  const rng = new Rng(seed);
  const indptr = new Int32Array(n + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let u = 0; u < n; u++) {
    for (let c = 0; c < m; c++) {
      if (rng.next() >= density) continue;
      indices.push(c);
      data.push(1 - rng.next());
    }
    indptr[u + 1] = indices.length;
  }
  return { rows: n, cols: m, indptr, indices: Int32Array.from(indices), data: Float64Array.from(data) };
}

/** X as a dense row-major array. */
function dense(x: CSR): Float64Array {
  const out = new Float64Array(x.rows * x.cols);
  for (let u = 0; u < x.rows; u++) for (let p = x.indptr[u]; p < x.indptr[u + 1]; p++) out[u * x.cols + x.indices[p]] = x.data[p];
  return out;
}

/** XᵀX (m × m), the definitional triple loop. */
function gram(x: CSR): Float64Array {
  const d = dense(x);
  const m = x.cols;
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let u = 0; u < x.rows; u++) g[i * m + j] += d[u * m + i] * d[u * m + j];
  return g;
}

function cosine(a: Float64Array, ao: number, b: Float64Array, bo: number, k: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let f = 0; f < k; f++) {
    ab += a[ao + f] * b[bo + f];
    aa += a[ao + f] * a[ao + f];
    bb += b[bo + f] * b[bo + f];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

describe("jacobiEigen", () => {
  it("finds planted eigenvalues and orthonormal eigenvectors (A v = λ v) of a symmetric matrix", () => {
    const n = 12;
    const rng = new Rng(3);
    // A = Q diag(λ) Qᵀ with Q orthonormalized from Gaussian columns (checked orthonormal first).
    const q = Float64Array.from({ length: n * n }, () => rng.normal());
    orthonormalize(q, n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let d = 0;
      for (let t = 0; t < n; t++) d += q[i * n + t] * q[j * n + t];
      expect(Math.abs(d - (i === j ? 1 : 0))).toBeLessThan(1e-12);
    }
    const lambda = [9, 7.5, 7, 4, 3, 2.5, 1, 0.5, 0, -0.25, -1, -3];
    const a = new Float64Array(n * n);
    // Column j of q (stored column-major) is eigenvector j.
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) for (let j = 0; j < n; j++) a[r * n + c] += q[j * n + r] * lambda[j] * q[j * n + c];
    const { values, vectors } = jacobiEigen(a, n);
    for (let j = 0; j < n; j++) expect(Math.abs(values[j] - lambda[j])).toBeLessThan(1e-12);
    for (let j = 0; j < n; j++) {
      for (let r = 0; r < n; r++) {
        let av = 0;
        for (let c = 0; c < n; c++) av += a[r * n + c] * vectors[c * n + j];
        expect(Math.abs(av - values[j] * vectors[r * n + j])).toBeLessThan(1e-12);
      }
      for (let i = 0; i < n; i++) {
        let d = 0;
        for (let r = 0; r < n; r++) d += vectors[r * n + i] * vectors[r * n + j];
        expect(Math.abs(d - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  it("handles a diagonal matrix (no rotation) and a 1 × 1 one", () => {
    expect([...jacobiEigen(Float64Array.from([1, 0, 0, 3]), 2).values]).toEqual([3, 1]);
    expect([...jacobiEigen(Float64Array.from([-2]), 1).values]).toEqual([-2]);
  });
});

describe("randomizedSvd against the dense eigen-decomposition of XᵀX", () => {
  const x = randomCsr(60, 40, 0.3, 11);
  const m = x.cols;
  const exact = jacobiEigen(gram(x), m);
  const k = 6;
  const svd = randomizedSvd(x, k, { powerIterations: 25, seed: 5 });

  it("singular values are the square roots of XᵀX's top eigenvalues", () => {
    for (let f = 0; f < k; f++) expect(Math.abs(svd.sigma[f] - Math.sqrt(exact.values[f]))).toBeLessThan(1e-9 * svd.sigma[0]);
  });

  it("V_k is orthonormal and the rank-k reconstruction error is the optimal one (Eckart–Young)", () => {
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      let d = 0;
      for (let c = 0; c < m; c++) d += svd.v[c * k + i] * svd.v[c * k + j];
      expect(Math.abs(d - (i === j ? 1 : 0))).toBeLessThan(1e-10);
    }
    // ‖X − X V Vᵀ‖²_F against Σ_{i > k} λ_i.
    const d = dense(x);
    const e = projectRows(x, svd);
    let err = 0;
    for (let u = 0; u < x.rows; u++) for (let c = 0; c < m; c++) {
      let r = 0;
      for (let f = 0; f < k; f++) r += e[u * k + f] * svd.v[c * k + f];
      err += (d[u * m + c] - r) ** 2;
    }
    let optimal = 0;
    for (let f = k; f < m; f++) optimal += Math.max(exact.values[f], 0);
    expect(Math.abs(err - optimal)).toBeLessThan(1e-9 * optimal);
  });

  it("with the default 3 power iterations the error is within 1% of the optimal one", () => {
    const s = randomizedSvd(x, k, { seed: 5 });
    const d = dense(x);
    const e = projectRows(x, s);
    let err = 0;
    for (let u = 0; u < x.rows; u++) for (let c = 0; c < m; c++) {
      let r = 0;
      for (let f = 0; f < k; f++) r += e[u * k + f] * s.v[c * k + f];
      err += (d[u * m + c] - r) ** 2;
    }
    let optimal = 0;
    for (let f = k; f < m; f++) optimal += Math.max(exact.values[f], 0);
    expect(err).toBeGreaterThanOrEqual(optimal * (1 - 1e-12));
    expect(err).toBeLessThan(optimal * 1.01);
  });

  it("embeddings' cosines are the dense cosines of U_kΣ_k = X·V_k (exact V_k from the eigenvectors)", () => {
    const d = dense(x);
    const oracle = new Float64Array(x.rows * k);
    for (let u = 0; u < x.rows; u++) for (let f = 0; f < k; f++) for (let c = 0; c < m; c++) oracle[u * k + f] += d[u * m + c] * exact.vectors[c * m + f];
    const e = projectRows(x, svd);
    for (let u = 0; u < x.rows; u++) for (let v = 0; v < x.rows; v++) expect(Math.abs(cosine(e, u * k, e, v * k, k) - cosine(oracle, u * k, oracle, v * k, k))).toBeLessThan(1e-8);
  });

  it("same seed, same bits; another seed, other bits but the same spectrum", () => {
    const a = randomizedSvd(x, k, { seed: 9 });
    const b = randomizedSvd(x, k, { seed: 9 });
    expect(Buffer.from(a.v.buffer).equals(Buffer.from(b.v.buffer))).toBe(true);
    expect(Buffer.from(a.sigma.buffer).equals(Buffer.from(b.sigma.buffer))).toBe(true);
    const c = randomizedSvd(x, k, { seed: 10, powerIterations: 25 });
    expect(Buffer.from(a.v.buffer).equals(Buffer.from(c.v.buffer))).toBe(false);
    for (let f = 0; f < k; f++) expect(Math.abs(c.sigma[f] - svd.sigma[f])).toBeLessThan(1e-9 * svd.sigma[0]);
  });

  it("a rank-deficient matrix: the missing directions get σ 0 and zero columns, never NaN", () => {
    // Rank 2: every row a combination of two patterns.
    const rows = 20;
    const indptr = new Int32Array(rows + 1);
    const indices: number[] = [];
    const data: number[] = [];
    for (let u = 0; u < rows; u++) {
      const a = 1 + (u % 3);
      const b = u % 2;
      for (let c = 0; c < 8; c++) {
        const val = a * (c < 4 ? 1 : 0) + b * (c % 2);
        if (val === 0) continue;
        indices.push(c);
        data.push(val);
      }
      indptr[u + 1] = indices.length;
    }
    const r = randomizedSvd({ rows, cols: 8, indptr, indices: Int32Array.from(indices), data: Float64Array.from(data) }, 4, { seed: 1 });
    expect(r.sigma[1]).toBeGreaterThan(1);
    expect(r.sigma[2]).toBeLessThan(1e-6 * r.sigma[0]);
    expect([...r.v].every(Number.isFinite)).toBe(true);
  });

  it("refuses a rank outside 1..min(rows, cols)", () => {
    expect(() => randomizedSvd(x, 0)).toThrow(/rank must be an integer in 1\.\.40/);
    expect(() => randomizedSvd(x, 41)).toThrow(/rank must be an integer in 1\.\.40/);
  });
});

describe("similarity --rank", () => {
  const data = grouped(300, 7);
  const ds = toDataset(data);
  const K = 8;
  let model: Model;
  beforeAll(async () => {
    model = await fit(data, "similarity", { rank: K, itemWeighting: "idf", idfExponent: 1 });
  });

  it("ranks every user by the exact cosine of X·V_k (a definitional oracle over all pairs)", async () => {
    const m = buildUserItemMatrix(ds, undefined, { itemWeighting: "idf", idfExponent: 1, normalize: "blocks", shrinkage: 0 });
    const svd = randomizedSvd(m.matrix, K, { oversampling: 10, powerIterations: 3, seed: 42 });
    // Embeddings by the dense definition, Σ_c X[u, c]·V[c, f].
    const d = dense(m.matrix);
    const cols = m.matrix.cols;
    const e = new Float64Array(ds.users.length * K);
    for (let u = 0; u < ds.users.length; u++) for (let f = 0; f < K; f++) for (let c = 0; c < cols; c++) e[u * K + f] += d[u * cols + c] * svd.v[c * K + f];
    const r = await model.rankAll({ topN: 10, threads: 1 });
    let checked = 0;
    for (let u = 0; u < ds.users.length; u++) {
      const all: number[] = [];
      for (let v = 0; v < ds.users.length; v++) if (v !== u) all.push(cosine(e, u * K, e, v * K, K));
      all.sort((a, b) => b - a);
      for (let t = r.offsets[u]; t < r.offsets[u + 1]; t++) {
        const v = r.neighbors[t];
        expect(Math.abs(r.scores[t] - cosine(e, u * K, e, v * K, K))).toBeLessThan(1e-9);
        expect(Math.abs(r.scores[t] - all[t - r.offsets[u]])).toBeLessThan(1e-9);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(2900);
    // Smoothing finds taste: most neighbours share the planted group.
    let same = 0;
    for (let u = 0; u < ds.users.length; u++) for (let t = r.offsets[u]; t < r.offsets[u + 1]; t++) same += groupOf(ds.users[u]) === groupOf(ds.users[r.neighbors[t]]) ? 1 : 0;
    expect(same / r.neighbors.length).toBeGreaterThan(0.8);
  });

  it("same bits for any thread count, and similarUsers is the ranked row", async () => {
    const one = await model.rankAll({ topN: 10, threads: 1 });
    const two = await model.rankAll({ topN: 10, threads: 2 });
    expect(Buffer.from(one.scores.buffer).equals(Buffer.from(two.scores.buffer))).toBe(true);
    expect([...one.neighbors]).toEqual([...two.neighbors]);
    const again = await fit(data, "similarity", { rank: K, itemWeighting: "idf", idfExponent: 1 });
    const three = await again.rankAll({ topN: 10, threads: 1 });
    expect(Buffer.from(three.scores.buffer).equals(Buffer.from(one.scores.buffer))).toBe(true);
    for (let u = 0; u < 50; u++) {
      const q = model.similarUsers(u, { n: 10 });
      expect([...q.ids]).toEqual([...one.neighbors.subarray(one.offsets[u], one.offsets[u + 1])]);
      expect([...q.scores]).toEqual([...one.scores.subarray(one.offsets[u], one.offsets[u + 1])]);
    }
  });

  it("an existing user's folded-in profile gets that user's neighbours, bit for bit", () => {
    for (let u = 0; u < ds.users.length; u += 3) {
      const own = model.similarUsers(u, { n: 10 });
      const folded = model.similarUsers(model.foldIn!(profileOf(ds, u)), { n: 11 });
      const keep = [...folded.ids].map((v, i) => [v, folded.scores[i]] as const).filter(([v]) => v !== u).slice(0, 10);
      expect(keep.map((x) => x[0])).toEqual([...own.ids]);
      expect(keep.map((x) => x[1])).toEqual([...own.scores]);
    }
  });

  it("explanations split the score by block and add up to it (residual ≈ 0)", () => {
    let explained = 0;
    for (let u = 0; u < 40; u++) {
      const q = model.similarUsers(u, { n: 3 });
      for (const v of q.ids) {
        const e = model.explain!(u, v, { items: 1000 });
        expect(e.score).toBe(q.scores[[...q.ids].indexOf(v)]);
        const blocks = e.blocks.interests + e.blocks.courses + e.blocks.assessments;
        expect(Math.abs(blocks + e.residual - e.score)).toBeLessThan(1e-12);
        expect(Math.abs(e.residual)).toBeLessThan(1e-9);
        expect(Math.abs(e.items.reduce((s, i) => s + i.contribution, 0) - blocks)).toBeLessThan(1e-9);
        explained++;
      }
    }
    expect(explained).toBeGreaterThan(100);
    const p = model.foldIn!(profileOf(ds, 4));
    const e = model.explain!(p, 7);
    expect(Math.abs(e.residual)).toBeLessThan(1e-9);
  });

  it("records rank and seed, and shrinkage 0 (the default λ is not applied)", () => {
    expect(model.params).toMatchObject({ rank: K, seed: 42, shrinkage: 0 });
  });

  it("refuses --shrinkage > 0 given with a rank, and a rank beyond min(users, items), naming the options", async () => {
    await expect(fit(data, "similarity", { rank: K, shrinkage: 5 })).rejects.toThrow(/--rank 8 and --shrinkage 5 cannot go together/);
    expect(() => fit(data, "similarity", { rank: K, shrinkage: 0 })).not.toThrow();
    const m = buildUserItemMatrix(ds);
    const max = Math.min(m.matrix.rows, m.matrix.cols);
    await expect(fit(data, "similarity", { rank: max + 1 })).rejects.toThrow(`--rank must be at most min(users, items) = ${max}`);
    await expect(fit(data, "similarity", { rank: -1 })).rejects.toThrow(/rank must be an integer in 0\.\.4096/);
    await expect(fit(data, "similarity", { rank: 2.5 })).rejects.toThrow(/rank must be an integer/);
  });
});

describe("similarity --rank stored, reloaded and from the CLI", () => {
  let work: string;
  let store: RankingsStore;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "recsys-svd-"));
    writeCsvDir(join(work, "data"), grouped(240, 3));
  });
  afterAll(() => {
    store?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("a stored run's model is restored from V_k (and refitted to the same answers without it)", async () => {
    store = await openStore(join(work, "lib.db"));
    await runPipeline({ input: { dataDir: join(work, "data") }, store, method: "similarity", topN: 10, threads: 1, options: { rank: 6, seed: 3 } });
    let source = "";
    const rec = await loadRecommender(store, "user_ranking", (info) => (source = info.source));
    expect(source).toBe("stored");
    expect(rec.model.params).toMatchObject({ rank: 6, seed: 3, shrinkage: 0 });
    const ranked = await rec.model.rankAll({ topN: 10, threads: 1 });
    const fresh = await fit(rec.dataset as Dataset, "similarity", { rank: 6, seed: 3 });
    const again = await fresh.rankAll({ topN: 10, threads: 1 });
    expect(Buffer.from(ranked.scores.buffer).equals(Buffer.from(again.scores.buffer))).toBe(true);
    for (const h of rec.dataset.users.slice(0, 60)) {
      expect(rec.similar(rec.profile(h), { n: 10, exclude: [h] }).neighbors).toEqual(rec.similar(h, { n: 10 }).neighbors);
    }
    const raw = new Database(join(work, "lib.db"));
    raw.exec("DELETE FROM recsys_models");
    raw.close();
    const refit = await loadRecommender(store, "user_ranking", (info) => (source = info.source));
    expect(source).toBe("refit");
    for (const h of rec.dataset.users.slice(0, 60)) expect(refit.similar(h, { n: 10 }).neighbors).toEqual(rec.similar(h, { n: 10 }).neighbors);
  });

  it("pipeline --rank then similar: the stored neighbours, by cosine of embeddings", () => {
    const db = join(work, "cli.db");
    const p = runCli(["pipeline", "--data-dir", join(work, "data"), "--db", db, "--method", "similarity", "--rank", "5", "--threads", "1", "--json"]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out)).toMatchObject({ params: { rank: 5, shrinkage: 0 } });
    const s = runCli(["similar", "3", "--db", db, "--json", "--n", "5"]);
    expect(s.code).toBe(0);
    const neighbors = JSON.parse(s.out) as { similar: string; score: number }[];
    expect(neighbors.length).toBe(5);
    expect(neighbors.filter((n) => groupOf(n.similar) === groupOf("3")).length).toBeGreaterThanOrEqual(4);
  });

  it("bad values are usage errors naming the flag(s)", () => {
    const base = ["pipeline", "--data-dir", join(work, "data"), "--db", join(work, "bad.db"), "--method", "similarity"];
    for (const [args, message] of [
      [["--rank", "x"], /--rank must be an integer in 0\.\.4096, got "x"/],
      [["--rank", "-3"], /--rank must be an integer/],
      [["--rank", "8", "--shrinkage", "2"], /--rank 8 and --shrinkage 2 cannot go together/],
    ] as const) {
      const r = runCli([...base, ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    }
    const big = runCli([...base, "--rank", "4000"]);
    expect(big.code).toBe(2);
    expect(big.err).toMatch(/--rank must be at most min\(users, items\)/);
    expect(runCli([...base, "--rank", "4", "--shrinkage", "0"]).code).toBe(0);
  });
});
