import { describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFeatures, hasItem, scoreBand } from "../src/methods/factorization/features.ts";
import { factorization, fmParameters, trainFM, userFactors, type FactorizationModel } from "../src/methods/factorization/index.ts";
import { profileOf } from "../src/profile.ts";
import { BprScratch, bprDifferences, bprGradient, gradient, initParams, predict, type FMParams } from "../src/methods/factorization/model.ts";
import { Rng } from "../src/random.ts";
import { generate } from "../src/generate/index.ts";
import { readTables } from "../src/read/index.ts";
import { Dataset as IdDataset, type InputColumns as Dataset } from "../src/dataset.ts";
import type { Rankings } from "../src/types.ts";
import { factorizationRun, rankByFactorization } from "./fixtures/methods.ts";

/** A dataset from (user, interest tags, courses) triples; courses get one tag and a level each. */
function dataset(rows: [string, string[], string[]][], courseTags: Record<string, string[]> = {}): Dataset {
  const ds: Dataset = {
    user_interests: { user_handle: [], interest_tag: [] },
    user_assessment_scores: { user_handle: [], assessment_tag: [], user_assessment_score: new Float64Array(0) },
    user_course_views: { user_handle: [], course_id: [], level: [], view_time_seconds: new Float64Array(0) },
    course_tags: { course_id: [], course_tags: [] },
  };
  const seconds: number[] = [];
  for (const [user, tags, courses] of rows) {
    for (const t of tags) {
      ds.user_interests.user_handle.push(user);
      ds.user_interests.interest_tag.push(t);
    }
    for (const c of courses) {
      ds.user_course_views.user_handle.push(user);
      ds.user_course_views.course_id.push(c);
      ds.user_course_views.level.push("Beginner");
      seconds.push(600);
    }
  }
  ds.user_course_views.view_time_seconds = Float64Array.from(seconds);
  for (const [c, tags] of Object.entries(courseTags))
    for (const t of tags) {
      ds.course_tags.course_id.push(c);
      ds.course_tags.course_tags.push(t);
    }
  return ds;
}

function randomParams(nFeatures: number, k: number, seed: number): FMParams {
  const rng = new Rng(seed);
  const p = initParams(nFeatures, k, rng, 0.5);
  p.w0[0] = rng.normal();
  for (let j = 0; j < nFeatures; j++) p.w[j] = rng.normal();
  return p;
}

/** Central difference of f with respect to a[i]. */
function numeric(a: Float64Array, i: number, f: () => number, h = 1e-6): number {
  const old = a[i];
  a[i] = old + h;
  const up = f();
  a[i] = old - h;
  const down = f();
  a[i] = old;
  return (up - down) / (2 * h);
}

function neighbors(r: Rankings, u: number): number[] {
  return Array.from(r.neighbors.subarray(r.offsets[u], r.offsets[u + 1]));
}

describe("factorization machine model", () => {
  it("computes ŷ in O(k·nnz) form equal to the explicit pairwise sum", () => {
    const p = randomParams(10, 4, 1);
    const idx = Int32Array.from([1, 4, 7]);
    const val = Float64Array.from([1, 0.5, 2]);
    let explicit = p.w0[0];
    for (let a = 0; a < 3; a++) {
      explicit += p.w[idx[a]] * val[a];
      for (let b = a + 1; b < 3; b++) {
        let d = 0;
        for (let f = 0; f < 4; f++) d += p.v[idx[a] * 4 + f] * p.v[idx[b] * 4 + f];
        explicit += d * val[a] * val[b];
      }
    }
    expect(predict(p, idx, val, 0, 3)).toBeCloseTo(explicit, 12);
  });

  it("has a gradient of ŷ that matches finite differences", () => {
    const k = 5;
    const p = randomParams(12, k, 2);
    const idx = Int32Array.from([0, 3, 5, 11]);
    const val = Float64Array.from([1, 0.25, 1.5, 0.7]);
    const gw = new Float64Array(4);
    const gv = new Float64Array(4 * k);
    gradient(p, idx, val, 0, 4, gw, gv);
    const f = () => predict(p, idx, val, 0, 4);
    expect(numeric(p.w0, 0, f)).toBeCloseTo(1, 6);
    for (let q = 0; q < 4; q++) {
      expect(gw[q]).toBeCloseTo(numeric(p.w, idx[q], f), 6);
      for (let c = 0; c < k; c++) expect(gv[q * k + c]).toBeCloseTo(numeric(p.v, idx[q] * k + c, f), 6);
    }
  });

  it("scores BPR pairs as ŷ(user, i) − ŷ(user, j), the user-only terms cancelling, with a gradient matching finite differences", () => {
    const k = 6;
    const p = randomParams(20, k, 3);
    const s = new BprScratch(k, 2, 4);
    // Context: user 0 and a band feature 19; positive item 5 with side features 9, 12; negative
    // item 6 with side features 12, 14 (12 shared with the positive); negative item 7 with 14.
    s.setContext(0, 19);
    s.setPositive([5, 9, 12], [1, 0.5, 1]);
    s.addNegative([6, 12, 14], [1, 1, 0.5]);
    s.addNegative([7, 14], [1, 0.25]);
    const yi = predict(p, Int32Array.from([0, 19, 5, 9, 12]), Float64Array.from([1, 1, 1, 0.5, 1]), 0, 5);
    const yj = predict(p, Int32Array.from([0, 19, 6, 12, 14]), Float64Array.from([1, 1, 1, 1, 0.5]), 0, 5);
    const yk = predict(p, Int32Array.from([0, 19, 7, 14]), Float64Array.from([1, 1, 1, 0.25]), 0, 4);
    bprDifferences(p, s);
    expect(s.d[0]).toBeCloseTo(yi - yj, 10);
    expect(s.d[1]).toBeCloseTo(yi - yk, 10);

    // The loss gradient against finite differences of the loss, for every touched parameter
    // (features in several rows have one entry per row; the entries add up).
    const weight = 1.7;
    const loss = bprGradient(p, s, weight);
    const lossOf = () => {
      bprDifferences(p, s);
      return weight * (Math.log1p(Math.exp(-s.d[0])) + Math.log1p(Math.exp(-s.d[1])));
    };
    expect(loss).toBeCloseTo(lossOf(), 12);
    bprGradient(p, s, weight);
    const gradV = new Map<number, Float64Array>();
    const gradW = new Map<number, number>();
    const addV = (j: number, g: Float64Array, off: number) => {
      const cur = gradV.get(j) ?? new Float64Array(k);
      for (let f = 0; f < k; f++) cur[f] += g[off + f];
      gradV.set(j, cur);
    };
    for (let q = 0; q < s.nCtx; q++) addV(s.ctxIdx[q], s.gCtxV, q * k);
    for (let q = 0; q < s.nPos; q++) {
      addV(s.posIdx[q], s.gPosV, q * k);
      gradW.set(s.posIdx[q], (gradW.get(s.posIdx[q]) ?? 0) + s.gPosW[q]);
    }
    for (let q = 0; q < s.negStart[s.nNegatives]; q++) {
      addV(s.negIdx[q], s.gNegV, q * k);
      gradW.set(s.negIdx[q], (gradW.get(s.negIdx[q]) ?? 0) + s.gNegW[q]);
    }
    expect([...gradV.keys()].sort((a, b) => a - b)).toEqual([0, 5, 6, 7, 9, 12, 14, 19]);
    for (const [j, g] of gradV) for (let f = 0; f < k; f++) expect(g[f]).toBeCloseTo(numeric(p.v, j * k + f, lossOf), 6);
    for (const [j, g] of gradW) expect(g).toBeCloseTo(numeric(p.w, j, lossOf), 6);
    // The user's and the band's biases cancel: the loss does not depend on them.
    expect(numeric(p.w, 0, lossOf)).toBeCloseTo(0, 9);
    expect(numeric(p.w, 19, lossOf)).toBeCloseTo(0, 9);
  });
});

describe("factorization features", () => {
  it("builds one positive per distinct (user, item), with side features and score bands", () => {
    const ds = dataset(
      [
        ["2", ["python", "python"], ["c1", "c1"]],
        ["10", ["java"], []],
      ],
      { c1: ["python", "data"] },
    );
    ds.user_assessment_scores = { user_handle: ["10", "10"], assessment_tag: ["java", "java"], user_assessment_score: Float64Array.from([90, 210]) };
    const d = buildFeatures(IdDataset.fromColumns(ds));
    expect(d.users).toEqual(["2", "10"]);
    expect(d.itemNames).toEqual(["interest:java", "interest:python", "course:c1", "assessment:java"]);
    // 2: python, c1; 10: java (interest), java (assessment).
    expect(d.posUser.length).toBe(4);
    const course = d.itemNames.indexOf("course:c1");
    const row = Array.from(d.itemFeatures.subarray(d.itemOffsets[course], d.itemOffsets[course + 1]));
    expect(row.length).toBe(4); // id, two tags, level
    const p = Array.from(d.posItem).indexOf(d.itemNames.indexOf("assessment:java"));
    // Best score 210 → band "high", a context feature of the example.
    expect(d.posContext[p]).toBe(d.nFeatures - 3 + scoreBand(210));
    expect(hasItem(d, 0, course)).toBe(true);
    expect(hasItem(d, 1, course)).toBe(false);
  });
});

describe("rankByFactorization", () => {
  it("separates two planted groups with disjoint items (top-5 neighbours in the own group)", async () => {
    const rng = new Rng(5);
    const rows: [string, string[], string[]][] = [];
    for (let u = 0; u < 60; u++) {
      const g = u % 2;
      const tags: string[] = [];
      const courses: string[] = [];
      for (let t = 0; t < 6; t++) tags.push(`g${g}-tag${rng.int(12)}`);
      for (let c = 0; c < 4; c++) courses.push(`g${g}-course${rng.int(15)}`);
      rows.push([String(u + 1), tags, courses]);
    }
    const r = await rankByFactorization(dataset(rows), { topN: 5, seed: 3, threads: 1 });
    expect(r.users.length).toBe(60);
    for (let u = 0; u < 60; u++) {
      const group = (Number(r.users[u]) - 1) % 2;
      const ns = neighbors(r, u);
      expect(ns.length).toBe(5);
      for (const v of ns) expect((Number(r.users[v]) - 1) % 2).toBe(group);
    }
  });

  it("is deterministic for a seed, whatever the thread count, and differs across seeds", async () => {
    const rows: [string, string[], string[]][] = [];
    const rng = new Rng(9);
    for (let u = 0; u < 80; u++) rows.push([`u${u}`, [`t${rng.int(20)}`, `t${rng.int(20)}`], [`c${rng.int(30)}`]]);
    const ds = dataset(rows, { c1: ["t1"], c2: ["t2", "t3"] });
    const a = trainFM(ds, { seed: 11, epochs: 3, training: "bpr" });
    const b = trainFM(ds, { seed: 11, epochs: 3, training: "bpr" });
    const c = trainFM(ds, { seed: 12, epochs: 3, training: "bpr" });
    expect(b.params.v).toEqual(a.params.v);
    expect(b.params.w).toEqual(a.params.w);
    expect(b.epochs.map((e) => e.loss)).toEqual(a.epochs.map((e) => e.loss));
    expect(c.params.v).not.toEqual(a.params.v);
    const r1 = await rankByFactorization(ds, { seed: 11, epochs: 3, training: "bpr", threads: 1 });
    const r2 = await rankByFactorization(ds, { seed: 11, epochs: 3, training: "bpr", threads: 2 });
    expect(r2).toEqual(r1);
  }, 60_000);

  it("reports per-epoch loss and sampled AUC, and the loss falls", async () => {
    const rng = new Rng(4);
    const rows: [string, string[], string[]][] = [];
    for (let u = 0; u < 100; u++) {
      const g = u % 4;
      rows.push([String(u), Array.from({ length: 5 }, () => `g${g}-t${rng.int(10)}`), [`g${g}-c${rng.int(8)}`]]);
    }
    const distinct = new Set(rows.flatMap(([u, tags, courses]) => [...tags.map((t) => `${u}/i/${t}`), ...courses.map((c) => `${u}/c/${c}`)]));
    const seen: number[] = [];
    const { stats } = await factorizationRun(dataset(rows), { training: "bpr", epochs: 6, learningRate: 0.1, seed: 1, threads: 1, onEpoch: (e) => seen.push(e.epoch) });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    const first = stats.epochs[0];
    const last = stats.epochs[5];
    expect(last.loss).toBeLessThan(first.loss * 0.8);
    expect(last.auc).toBeGreaterThan(0.8);
    expect(stats.seconds.train).toBeGreaterThan(0);
    expect(stats.positives).toBe(distinct.size);
    expect(stats.items.interest).toBe(new Set(rows.flatMap((r) => r[1])).size);
  });

  it("gives a user without any usable row no neighbours", async () => {
    const rows: [string, string[], string[]][] = [
      ["1", ["a", "b"], []],
      ["2", ["a"], []],
      ["3", [""], []],
      ["4", ["c", "d"], ["x"]],
    ];
    // A row with an empty tag carries nothing: "3" is not a user of the dataset at all.
    const r = await rankByFactorization(dataset(rows), { seed: 1, threads: 1 });
    expect(r.users).toEqual(["1", "2", "4"]);
    for (const u of [0, 1, 2]) expect(neighbors(r, u).sort()).toEqual([0, 1, 2].filter((v) => v !== u));
    // A user of the dataset left without rows (as a split can leave one) is never trained: even
    // with random initial user factors, its row is zeroed, so it has no neighbours.
    const full = IdDataset.fromColumns(dataset(rows));
    const two = full.userId("2")!;
    const keep = Array.from(full.interestRows.user, (u, i) => (u === two ? -1 : i)).filter((i) => i >= 0);
    const without = full.withRows({ interestRows: { user: Int32Array.from(keep, (i) => full.interestRows.user[i]), interest: Int32Array.from(keep, (i) => full.interestRows.interest[i]) } });
    const m = trainFM(without, { seed: 1, userInitStd: 0.1, training: "bpr" });
    expect(Array.from(m.params.v.subarray(two * m.k, (two + 1) * m.k)).some((x) => x !== 0)).toBe(true);
    expect(Array.from(userFactors(m).subarray(two * m.k, (two + 1) * m.k)).every((x) => x === 0)).toBe(true);
    const r2 = await rankByFactorization(without, { seed: 1, threads: 1 });
    expect(neighbors(r2, two)).toEqual([]);
    for (let u = 0; u < r2.users.length; u++) expect(neighbors(r2, u)).not.toContain(two);
  });

  it("rejects invalid parameters with the parameter's name", () => {
    expect(() => fmParameters({ factors: 0 })).toThrow(/factors/);
    expect(() => fmParameters({ learningRate: -1 })).toThrow(/learningRate/);
    expect(() => fmParameters({ popularNegatives: 2 })).toThrow(/popularNegatives/);
  });
});

describe("factorization on generated data", () => {
  it("puts users sharing a taste group among each other's neighbours far more often than chance", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-fm-"));
    try {
      await generate({ users: 1500, seed: 21, outDir: dir });
      const { tables } = await readTables(dir);
      const groups = new Map<string, Set<string>>();
      const text = readFileSync(join(dir, "taste_groups.csv"), "utf8").trim().split("\n").slice(1);
      for (const line of text) {
        const [user, g] = line.split(",");
        groups.set(user.replaceAll('"', ""), new Set(g.replaceAll('"', "").split(";")));
      }
      const share = (a: string, b: string) => {
        const x = groups.get(a)!;
        for (const g of groups.get(b)!) if (x.has(g)) return true;
        return false;
      };
      const r = await rankByFactorization(tables, { topN: 10, seed: 5 });
      let hits = 0;
      let total = 0;
      for (let u = 0; u < r.users.length; u++)
        for (const v of neighbors(r, u)) {
          total++;
          if (share(r.users[u], r.users[v])) hits++;
        }
      const rng = new Rng(1);
      let chance = 0;
      const trials = 20000;
      for (let t = 0; t < trials; t++) {
        const a = r.users[rng.int(r.users.length)];
        const b = r.users[rng.int(r.users.length)];
        if (share(a, b)) chance++;
      }
      const neighbourRate = hits / total;
      const chanceRate = chance / trials;
      expect(total).toBeGreaterThan(r.users.length * 5);
      // A wide margin: at least twice the chance rate and 30 points above it.
      expect(neighbourRate).toBeGreaterThan(2 * chanceRate);
      expect(neighbourRate - chanceRate).toBeGreaterThan(0.3);
    } finally {
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("factorization fold-in of an existing user", () => {
  it("gives back the user's stored factors bit for bit, and so its neighbours (repeated fractional views, random user init)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-fm-fold-"));
    try {
      await generate({ users: 400, seed: 13, outDir: dir });
      const { tables } = await readTables(dir);
      // Split every view in two rows of fractional seconds, so a course's minutes are a sum: fold-in
      // must add a profile's seconds as training adds its rows.
      const v = tables.user_course_views;
      const twice = <T,>(xs: ArrayLike<T>) => Array.from(xs).flatMap((x) => [x, x]);
      const seconds = Float64Array.from(Array.from(v.view_time_seconds).flatMap((s) => [s * 0.3 + 0.1, s * 0.7 + 0.2]));
      const data = IdDataset.fromColumns({ ...tables, user_course_views: { user_handle: twice(v.user_handle), course_id: twice(v.course_id), level: twice(v.level), view_time_seconds: seconds } });
      for (const opts of [{ seed: 3, epochs: 2, training: "bpr" as const }, { seed: 4, epochs: 2, userInitStd: 0.1, popularNegatives: 0.5, training: "bpr" as const }, { seed: 5, training: "als" as const, alsIterations: 2 }]) {
        const model = (await factorization.fit(data, fmParameters(opts))) as FactorizationModel;
        const k = model.fm.k;
        let checked = 0;
        for (let u = 0; u < data.users.length; u += 3) {
          const folded = model.foldIn(profileOf(data, u)) as unknown as { factors: Float64Array };
          expect(Array.from(folded.factors)).toEqual(Array.from(model.fm.params.v.subarray(u * k, u * k + k)));
          const own = model.similarUsers(u, { n: 10 });
          const others = new Uint8Array(data.users.length).fill(1);
          others[u] = 0;
          expect(model.similarUsers(folded as never, { n: 10, eligible: others })).toEqual(own);
          checked++;
        }
        expect(checked).toBeGreaterThan(100);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
