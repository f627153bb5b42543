import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alsLoss, featureItems, featureStep, initialFactors, itemStep, pairsOf, trainFMAls, userGram, userStep, type Pairs } from "../src/methods/factorization/als.ts";
import { buildFeatures, type FMData } from "../src/methods/factorization/features.ts";
import { factorization, fmParameters, type FactorizationModel } from "../src/methods/factorization/index.ts";
import type { FMParams } from "../src/methods/factorization/model.ts";
import { itemSides, userPass } from "../src/methods/factorization/user.ts";
import { Dataset } from "../src/dataset.ts";
import { generate } from "../src/generate/index.ts";
import { profileOf } from "../src/profile.ts";
import { readTables } from "../src/read/index.ts";
import { Rng } from "../src/random.ts";

async function generated(users: number, seed: number): Promise<Dataset> {
  const dir = mkdtempSync(join(tmpdir(), "recsys-fm-als-"));
  try {
    await generate({ users, seed, outDir: dir });
    return Dataset.fromColumns((await readTables(dir)).tables);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every parameter random (users too), so that no step starts at an optimum. */
function randomParams(data: FMData, k: number, seed: number): FMParams {
  const rng = new Rng(seed);
  const v = Float64Array.from({ length: data.nFeatures * k }, () => 0.3 * rng.normal());
  return { nFeatures: data.nFeatures, k, w0: new Float64Array(1), w: new Float64Array(data.nFeatures), v };
}

/** Dense c_ui (1 + α·weight for u's items, 1 else) and p_ui, users × items. */
function dense(data: FMData, pairs: Pairs): { c: Float64Array; p: Float64Array } {
  const c = new Float64Array(data.nUsers * data.nItems).fill(1);
  const p = new Float64Array(data.nUsers * data.nItems);
  for (let u = 0; u < data.nUsers; u++)
    for (let e = pairs.userOffsets[u]; e < pairs.userOffsets[u + 1]; e++) {
      c[u * data.nItems + pairs.userItems[e]] = 1 + pairs.userW[e];
      p[u * data.nItems + pairs.userItems[e]] = 1;
    }
  return { c, p };
}

/** S_i by definition: Σ_j x_ij v_j over item i's row. */
function sumOf(data: FMData, v: Float64Array, k: number, i: number): Float64Array {
  const s = new Float64Array(k);
  for (let q = data.itemOffsets[i]; q < data.itemOffsets[i + 1]; q++) for (let a = 0; a < k; a++) s[a] += data.itemValues[q] * v[data.itemFeatures[q] * k + a];
  return s;
}

/** The loss by definition, every (user, item) pair summed. */
function denseLoss(data: FMData, v: Float64Array, k: number, pairs: Pairs, lu: number, li: number): number {
  const { c, p } = dense(data, pairs);
  let loss = 0;
  for (let i = 0; i < data.nItems; i++) {
    const s = sumOf(data, v, k, i);
    for (let u = 0; u < data.nUsers; u++) {
      let y = 0;
      for (let a = 0; a < k; a++) y += v[u * k + a] * s[a];
      loss += c[u * data.nItems + i] * (p[u * data.nItems + i] - y) ** 2;
    }
  }
  for (let a = 0; a < data.nUsers * k; a++) loss += lu * v[a] * v[a];
  const used = new Set(data.itemFeatures);
  for (const f of used) for (let a = 0; a < k; a++) loss += li * v[f * k + a] ** 2;
  return loss;
}

/** Solves m x = b by Gaussian elimination with partial pivoting (m: n × n, row-major; copies). */
function gaussSolve(n: number, m0: Float64Array, b0: Float64Array): Float64Array {
  const m = m0.slice();
  const b = b0.slice();
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[piv * n + c])) piv = r;
    for (let j = 0; j < n; j++) [m[c * n + j], m[piv * n + j]] = [m[piv * n + j], m[c * n + j]];
    [b[c], b[piv]] = [b[piv], b[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      for (let j = c; j < n; j++) m[r * n + j] -= f * m[c * n + j];
      b[r] -= f * b[c];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let t = b[r];
    for (let j = r + 1; j < n; j++) t -= m[r * n + j] * x[j];
    x[r] = t / m[r * n + r];
  }
  return x;
}

/**
 * The exact minimiser of the loss over v_f, all else fixed, from the dense normal equations:
 * ŷ_ui = ⟨v_u, R_i⟩ + x_if ⟨v_u, v_f⟩ over f's items, R_i = S_i − x_if v_f.
 */
function denseFeatureOptimum(data: FMData, v: Float64Array, k: number, pairs: Pairs, lambda: number, f: number): Float64Array {
  const { c, p } = dense(data, pairs);
  const m = new Float64Array(k * k);
  const b = new Float64Array(k);
  for (let a = 0; a < k; a++) m[a * k + a] = lambda;
  for (let i = 0; i < data.nItems; i++) {
    let x = 0;
    for (let q = data.itemOffsets[i]; q < data.itemOffsets[i + 1]; q++) if (data.itemFeatures[q] === f) x = data.itemValues[q];
    if (x === 0) continue;
    const r = sumOf(data, v, k, i);
    for (let a = 0; a < k; a++) r[a] -= x * v[f * k + a];
    for (let u = 0; u < data.nUsers; u++) {
      const cu = c[u * data.nItems + i];
      let base = 0;
      for (let a = 0; a < k; a++) base += v[u * k + a] * r[a];
      for (let a = 0; a < k; a++) {
        b[a] += cu * x * (p[u * data.nItems + i] - base) * v[u * k + a];
        for (let d = 0; d < k; d++) m[a * k + d] += cu * x * x * v[u * k + a] * v[u * k + d];
      }
    }
  }
  return gaussSolve(k, m, b);
}

describe("factorization --training als", async () => {
  const ds = await generated(60, 5);
  const data = buildFeatures(ds, {});
  const k = 4;
  const opts = { userAlpha: 4, userRegularization: 2, itemRegularization: 3 };
  const pairs = pairsOf(data, opts.userAlpha);
  const fi = featureItems(data);
  // An item id, a course tag (shared by several courses, x = 1/#tags) and a level.
  const course = data.nsStart[1];
  const tag = data.itemFeatures[data.itemOffsets[course] + 1];
  const level = data.itemFeatures[data.itemOffsets[course + 1] - 1];

  it("each exact feature step reaches the dense normal equations' minimiser, and keeps S_i current", () => {
    expect(fi.offsets[tag + 1] - fi.offsets[tag]).toBeGreaterThan(1);
    expect(fi.offsets[level + 1] - fi.offsets[level]).toBeGreaterThan(5);
    const params = randomParams(data, k, 1);
    const sums = itemSides(data, params, 0).sums;
    const g = userGram(params.v, data.nUsers, k);
    for (const f of [data.itemBase + 3, data.itemBase + course, tag, level]) {
      const want = denseFeatureOptimum(data, params.v, k, pairs, opts.itemRegularization, f);
      featureStep(k, params.v, sums, g, opts.itemRegularization, pairs, fi, f, 0);
      for (let a = 0; a < k; a++) expect(params.v[f * k + a]).toBeCloseTo(want[a], 9);
      const fresh = itemSides(data, params, 0).sums;
      for (let q = 0; q < sums.length; q++) expect(sums[q]).toBeCloseTo(fresh[q], 12);
    }
  });

  it("computes the loss as its definition sums it; no user or feature step raises it (exact and 1 CG step)", () => {
    for (const steps of [0, 1]) {
      const params = randomParams(data, k, 2);
      const loss = () => alsLoss(data, params, pairs, opts.userRegularization, opts.itemRegularization, fi);
      expect(loss()).toBeCloseTo(denseLoss(data, params.v, k, pairs, opts.userRegularization, opts.itemRegularization), 6);
      let last = loss();
      for (let it = 0; it < 3; it++) {
        userPass(data, params, opts);
        const afterUsers = loss();
        expect(afterUsers).toBeLessThanOrEqual(last * (1 + 1e-12));
        // Feature by feature: each step alone never raises the loss.
        const sums = itemSides(data, params, 0).sums;
        const g = userGram(params.v, data.nUsers, k);
        let prev = afterUsers;
        for (let f = data.itemBase; f < data.nFeatures; f++) {
          featureStep(k, params.v, sums, g, opts.itemRegularization, pairs, fi, f, steps);
          if (f % 7 === 0 || f >= data.itemBase + data.nItems) {
            const now = loss();
            expect(now).toBeLessThanOrEqual(prev * (1 + 1e-12));
            prev = now;
          }
        }
        const afterItems = loss();
        expect(afterItems).toBeLessThan(afterUsers);
        last = afterItems;
      }
      // A whole item step (as training runs it) also lowers it.
      const before = loss();
      itemStep(data, params, pairs, fi, opts.itemRegularization, steps);
      expect(loss()).toBeLessThanOrEqual(before * (1 + 1e-12));
    }
  });

  it("trains to a falling loss, deterministic for a seed; the seed matters", () => {
    const o = { ...opts, factors: 6, iterations: 5, cgSteps: 1, seed: 3, initScale: 0.2 };
    const a = trainFMAls(data, o);
    const b = trainFMAls(data, o);
    expect(Array.from(a.params.v)).toEqual(Array.from(b.params.v));
    const losses = a.epochs.map((e) => e.loss);
    for (let t = 1; t < losses.length; t++) expect(losses[t]).toBeLessThanOrEqual(losses[t - 1]);
    expect(Array.from(trainFMAls(data, { ...o, seed: 4 }).params.v)).not.toEqual(Array.from(a.params.v));
  });

  it("starts every used factor uniform in [0, scale) (users' draws first), then runs items, users, …, items, exact pass", () => {
    const kk = 5;
    const scale = 0.01;
    // The start, by definition: one draw per user coordinate, then per feature coordinate from
    // itemBase, a row without items zeroed whatever it drew.
    const rng = new Rng(11);
    const want = new Float64Array(data.nFeatures * kk);
    for (let u = 0; u < data.nUsers; u++) for (let a = 0; a < kk; a++) want[u * kk + a] = rng.next() * scale;
    for (let f = data.itemBase; f < data.nFeatures; f++) for (let a = 0; a < kk; a++) want[f * kk + a] = rng.next() * scale;
    let zeroed = 0;
    for (let u = 0; u < data.nUsers; u++) if (data.userOffsets[u + 1] === data.userOffsets[u]) want.fill(0, u * kk, (u + 1) * kk);
    for (let f = data.itemBase; f < data.nFeatures; f++) if (fi.offsets[f + 1] === fi.offsets[f]) (zeroed++, want.fill(0, f * kk, (f + 1) * kk));
    expect(zeroed).toBeGreaterThan(0); // the score bands
    const start = initialFactors(data, fi, kk, scale, new Rng(11));
    expect(Array.from(start)).toEqual(Array.from(want));
    for (let q = 0; q < data.itemBase * kk; q++) expect(start[q]).toBeLessThan(scale);
    // Three iterations = items, CG users, items, CG users, items, exact pass: the same bits.
    const o = { ...opts, factors: kk, iterations: 3, cgSteps: 1, seed: 11, initScale: scale };
    const params: FMParams = { nFeatures: data.nFeatures, k: kk, w0: new Float64Array(1), w: new Float64Array(data.nFeatures), v: start };
    for (let it = 0; it < 3; it++) {
      itemStep(data, params, pairs, fi, opts.itemRegularization, 1);
      if (it < 2) userStep(data, params, pairs, o);
      else userPass(data, params, opts);
    }
    expect(Array.from(trainFMAls(data, o).params.v)).toEqual(Array.from(params.v));
    // No iterations: the start, with users fitted exactly (fold-in stays exact).
    const none = { nFeatures: data.nFeatures, k: kk, w0: new Float64Array(1), w: new Float64Array(data.nFeatures), v: initialFactors(data, fi, kk, scale, new Rng(11)) };
    userPass(data, none, opts);
    expect(Array.from(trainFMAls(data, { ...o, iterations: 0 }).params.v)).toEqual(Array.from(none.v));
  });

  it("fits as a method: same rankings on 1 and 2 threads, exact fold-in, state round-trips", async () => {
    const big = await generated(300, 9);
    const options = fmParameters({ training: "als", alsIterations: 4, factors: 8 });
    const m1 = (await factorization.fit(big, options, { threads: 1 })) as FactorizationModel;
    const m2 = (await factorization.fit(big, options, { threads: 2 })) as FactorizationModel;
    expect(Array.from(m2.fm.params.v)).toEqual(Array.from(m1.fm.params.v));
    const r1 = await m1.rankAll({ topN: 10, threads: 1 });
    expect(await m2.rankAll({ topN: 10, threads: 2 })).toEqual(r1);
    expect(m1.describe({ threads: 1 }).join("\n")).toContain("4 ALS iterations, final loss");
    const k = m1.fm.k;
    for (let u = 0; u < big.users.length; u += 17) {
      const folded = m1.foldIn(profileOf(big, u)) as unknown as { factors: Float64Array };
      expect(Array.from(folded.factors)).toEqual(Array.from(m1.fm.params.v.subarray(u * k, u * k + k)));
    }
    // Stored and restored: the same rankings, explanations and fold-ins.
    const state = m1.state();
    const restored = factorization.restore!(big, options, { arrays: state.arrays, meta: JSON.parse(JSON.stringify(state.meta)) }) as FactorizationModel;
    expect(await restored.rankAll({ topN: 10, threads: 1 })).toEqual(r1);
    expect(restored.explain(5, r1.neighbors[r1.offsets[5]])).toEqual(m1.explain(5, r1.neighbors[r1.offsets[5]]));
    const p = profileOf(big, 7);
    expect(Array.from((restored.foldIn(p) as unknown as { factors: Float64Array }).factors)).toEqual(Array.from((m1.foldIn(p) as unknown as { factors: Float64Array }).factors));
  }, 60_000);

  it("after 0 iterations too, an existing user's profile folds in to its stored factors (training still ends with the exact pass)", async () => {
    const big = await generated(300, 9);
    const m = (await factorization.fit(big, fmParameters({ training: "als", alsIterations: 0, factors: 8 }), { threads: 1 })) as FactorizationModel;
    const k = m.fm.k;
    let fitted = 0;
    for (let u = 0; u < big.users.length; u += 17) {
      const own = m.fm.params.v.subarray(u * k, u * k + k);
      if (own.some((x) => x !== 0)) fitted++;
      expect(Array.from((m.foldIn(profileOf(big, u)) as unknown as { factors: Float64Array }).factors)).toEqual(Array.from(own));
    }
    expect(fitted).toBeGreaterThan(5);
  }, 60_000);
});
