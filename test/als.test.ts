import { describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dataset, type InputColumns } from "../src/dataset.ts";
import { fit } from "../src/fit.ts";
import { generate } from "../src/generate/index.ts";
import { ALS_OPTIONS, als, AlsModel, buildIncidence, cgSolveRow, exactSolveRow, foldInUser } from "../src/methods/als/index.ts";
import { cgScratch } from "../src/methods/als/solve.ts";
import { resolveOptions } from "../src/methods/method.ts";
import { getMethod, methodFlags } from "../src/methods/registry.ts";
import { Rng } from "../src/random.ts";
import { readTables } from "../src/read/index.ts";
import type { Rankings } from "../src/types.ts";
import { runCli } from "./fixtures/cli.ts";
import { runMethod } from "./fixtures/methods.ts";
import { syntheticDataset } from "./fixtures/synthetic-dataset.ts";

/** A dataset from (user, interest tags, courses, assessment tags) rows; every view lasts 600 s. */
function dataset(rows: [string, string[], string[], string[]?][]): InputColumns {
  const ds: InputColumns = {
    user_interests: { user_handle: [], interest_tag: [] },
    user_assessment_scores: { user_handle: [], assessment_tag: [], user_assessment_score: new Float64Array(0) },
    user_course_views: { user_handle: [], course_id: [], level: [], view_time_seconds: new Float64Array(0) },
    course_tags: { course_id: [], course_tags: [] },
  };
  const scores: number[] = [];
  const seconds: number[] = [];
  for (const [user, tags, courses, assessments = []] of rows) {
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
    for (const a of assessments) {
      ds.user_assessment_scores.user_handle.push(user);
      ds.user_assessment_scores.assessment_tag.push(a);
      scores.push(150);
    }
  }
  ds.user_course_views.view_time_seconds = Float64Array.from(seconds);
  ds.user_assessment_scores.user_assessment_score = Float64Array.from(scores);
  return ds;
}

/** Two groups of users with disjoint items (interests and courses), drawn with a seed. */
function twoGroups(users: number, seed: number): InputColumns {
  const rng = new Rng(seed);
  const rows: [string, string[], string[]][] = [];
  for (let u = 0; u < users; u++) {
    const g = u % 2;
    rows.push([String(u + 1), Array.from({ length: 6 }, () => `g${g}-tag${rng.int(12)}`), Array.from({ length: 4 }, () => `g${g}-course${rng.int(15)}`)]);
  }
  return dataset(rows);
}

/** Solves the k × k system m x = b by Gaussian elimination with partial pivoting. */
function gaussSolve(m: number[][], b: number[]): number[] {
  const n = b.length;
  const a = m.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let best = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[best][c])) best = r;
    [a[c], a[best]] = [a[best], a[c]];
    for (let r = c + 1; r < n; r++) {
      const f = a[r][c] / a[c][c];
      for (let j = c; j <= n; j++) a[r][j] -= f * a[c][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let t = a[r][n];
    for (let j = r + 1; j < n; j++) t -= a[r][j] * x[j];
    x[r] = t / a[r][r];
  }
  return x;
}

/**
 * The definition, densely: x minimising Σ_i c_i (p_i − x·y_i)² + λ‖x‖² over every item i
 * (c_i = 1 + w_i and p_i = 1 for the observed, c_i = 1 and p_i = 0 for the rest), from its normal
 * equations (Σ_i c_i y_i y_iᵀ + λI) x = Σ_i c_i p_i y_i, formed item by item.
 */
function definitionalSolve(y: Float64Array, items: number, k: number, observed: Map<number, number>, lambda: number): number[] {
  const m = Array.from({ length: k }, (_, j) => Array.from({ length: k }, (_, l) => (j === l ? lambda : 0)));
  const b = new Array<number>(k).fill(0);
  for (let i = 0; i < items; i++) {
    const w = observed.get(i);
    const c = w === undefined ? 1 : 1 + w;
    const p = w === undefined ? 0 : 1;
    for (let j = 0; j < k; j++) {
      b[j] += c * p * y[i * k + j];
      for (let l = 0; l < k; l++) m[j][l] += c * y[i * k + j] * y[i * k + l];
    }
  }
  return gaussSolve(m, b);
}

/** The training loss by its definition: every (user, item) pair, dense. */
function definitionalLoss(model: AlsModel): number {
  const { k, userFactors: x, itemFactors: y } = model;
  const { alpha, regularization } = model.params;
  const m = model.incidence.userItems;
  const users = m.rows;
  const items = m.cols;
  let loss = 0;
  let weight = 0;
  for (let u = 0; u < users; u++) {
    const strength = new Map<number, number>();
    for (let q = m.indptr[u]; q < m.indptr[u + 1]; q++) strength.set(m.indices[q], m.data[q]);
    for (let i = 0; i < items; i++) {
      const s = strength.get(i);
      const c = s === undefined ? 1 : 1 + alpha * s;
      const p = s === undefined ? 0 : 1;
      let score = 0;
      for (let f = 0; f < k; f++) score += x[u * k + f] * y[i * k + f];
      loss += c * (p - score) ** 2;
      weight += c;
    }
  }
  let norms = 0;
  for (const v of x) norms += v * v;
  for (const v of y) norms += v * v;
  return (loss + regularization * norms) / weight;
}

function neighbors(r: Rankings, u: number): number[] {
  return Array.from(r.neighbors.subarray(r.offsets[u], r.offsets[u + 1]));
}

describe("als row solvers", () => {
  const k = 6;
  const items = 25;
  const rng = new Rng(3);
  const y = Float64Array.from({ length: items * k }, () => rng.normal() * 0.5);
  const lambda = 0.7;
  // Row: items 2, 5, 11, 17, 18, 23 with different confidences (sorted, as a CSR row is).
  const ids = Int32Array.from([2, 5, 11, 17, 18, 23]);
  const w = Float64Array.from([3, 0.5, 10, 1, 7, 2]);
  const gram = new Float64Array(k * k);
  for (let i = 0; i < items; i++) for (let j = 0; j < k; j++) for (let l = 0; l < k; l++) gram[j * k + l] += y[i * k + j] * y[i * k + l];
  const a = gram.slice();
  for (let j = 0; j < k; j++) a[j * k + j] += lambda;
  const oracle = definitionalSolve(y, items, k, new Map(Array.from(ids, (id, q) => [id, w[q]])), lambda);

  it("CG run to convergence solves the normal equations as the dense definition does (1e-8)", () => {
    const x = Float64Array.from({ length: k }, () => rng.next() * 0.01);
    cgSolveRow(k, a, y, ids, w, 0, ids.length, x, 0, 3 * k, cgScratch(k));
    for (let j = 0; j < k; j++) expect(Math.abs(x[j] - oracle[j])).toBeLessThan(1e-8);
  });

  it("CG with few steps lowers the row's objective at every step, warm-started from any x", () => {
    const objective = (x: Float64Array) => {
      let f = 0;
      for (let i = 0; i < items; i++) {
        const q = Array.from(ids).indexOf(i);
        const c = q < 0 ? 1 : 1 + w[q];
        let s = 0;
        for (let j = 0; j < k; j++) s += x[j] * y[i * k + j];
        f += c * ((q < 0 ? 0 : 1) - s) ** 2;
      }
      let n = 0;
      for (const v of x) n += v * v;
      return f + lambda * n;
    };
    const x = Float64Array.from({ length: k }, () => rng.normal());
    let last = objective(x);
    for (let step = 0; step < k; step++) {
      cgSolveRow(k, a, y, ids, w, 0, ids.length, x, 0, 1, cgScratch(k));
      const now = objective(x);
      expect(now).toBeLessThanOrEqual(last + 1e-12);
      last = now;
    }
    // One step at a time is steepest descent; a full CG run from there reaches the minimum.
    cgSolveRow(k, a, y, ids, w, 0, ids.length, x, 0, 3 * k, cgScratch(k));
    expect(objective(x) - objective(Float64Array.from(oracle))).toBeLessThan(1e-9);
  });

  it("CG stops instead of dividing by pᵀAp = 0 on a singular system (λ = 0, α = 0, a zero Gram)", () => {
    const x = Float64Array.from([0.5, -0.25, 0, 1, 2, 3]);
    cgSolveRow(k, new Float64Array(k * k), y, ids, new Float64Array(ids.length), 0, ids.length, x, 0, 3, cgScratch(k));
    expect(Array.from(x)).toEqual([0.5, -0.25, 0, 1, 2, 3]);
  });

  it("the exact (Cholesky) solve matches the dense definition, and writes at an offset", () => {
    const out = new Float64Array(3 * k);
    exactSolveRow(k, a, y, ids, w, 0, ids.length, out, k);
    for (let j = 0; j < k; j++) expect(Math.abs(out[k + j] - oracle[j])).toBeLessThan(1e-10);
    expect(Array.from(out.subarray(0, k)).every((v) => v === 0)).toBe(true);
    expect(() => exactSolveRow(k, new Float64Array(k * k), y, ids.subarray(0, 1), w, 0, 1, out, 0)).toThrow(/not positive definite/);
  });
});

describe("als incidence", () => {
  it("has one item per followed interest, viewed course and assessment tag, with its block's strength; a block of strength 0 is left out", () => {
    const ds = Dataset.fromColumns(dataset([
      ["1", ["go", "sql"], ["c1"], ["java"]],
      ["2", ["go"], ["c2", "c1"]],
      ["3", [], [], ["java"]],
    ]));
    const inc = buildIncidence(ds, { interests: 1, courses: 2, assessments: 0.5 });
    expect(inc.items).toEqual(["interest:go", "interest:sql", "course:c1", "course:c2", "assessment:java"]);
    expect(inc.blockItems).toEqual({ interests: 2, courses: 2, assessments: 1 });
    const row = (u: number) => Array.from({ length: inc.userItems.indptr[u + 1] - inc.userItems.indptr[u] }, (_, i) => {
      const q = inc.userItems.indptr[u] + i;
      return [inc.items[inc.userItems.indices[q]], inc.userItems.data[q]];
    });
    expect(row(0)).toEqual([["interest:go", 1], ["interest:sql", 1], ["course:c1", 2], ["assessment:java", 0.5]]);
    expect(row(1)).toEqual([["interest:go", 1], ["course:c1", 2], ["course:c2", 2]]);
    expect(row(2)).toEqual([["assessment:java", 0.5]]);
    expect(inc.itemUsers.rows).toBe(5);
    const none = buildIncidence(ds, { interests: 1, courses: 0, assessments: 1 });
    expect(none.items).toEqual(["interest:go", "interest:sql", "assessment:java"]);
  });

  it("counts a course viewed for 0 seconds, and never makes items of course tags", () => {
    const cols = dataset([["1", ["go"], ["c1", "c2"]]]);
    cols.user_course_views.view_time_seconds[1] = 0;
    cols.course_tags = { course_id: ["c1", "c2"], course_tags: ["web", "go"] };
    const inc = buildIncidence(Dataset.fromColumns(cols), { interests: 1, courses: 1, assessments: 1 });
    expect(inc.items).toEqual(["interest:go", "course:c1", "course:c2"]);
    expect(Array.from(inc.userItems.data)).toEqual([1, 1, 1]);
  });
});

describe("als training", () => {
  it("lowers the loss at every iteration, and reports the loss of its definition", async () => {
    const epochs: number[] = [];
    const model = (await fit(twoGroups(60, 1), "als", { factors: 8, iterations: 8, alpha: 10, regularization: 0.5 }, { threads: 1, onEpoch: (e) => epochs.push(e.loss) })) as AlsModel;
    expect(epochs).toHaveLength(8);
    for (let i = 1; i < epochs.length; i++) expect(epochs[i]).toBeLessThanOrEqual(epochs[i - 1] * (1 + 1e-12));
    expect(epochs.at(-1)!).toBeLessThan(epochs[0]);
    expect(Math.abs(epochs.at(-1)! - definitionalLoss(model)) / definitionalLoss(model)).toBeLessThan(1e-10);
  });

  it("gives bit-identical factors and rankings on 1 and 2 threads, and different ones for another seed", async () => {
    // 700 users: six chunks of the user half-step, so two workers really split them.
    const ds = syntheticDataset({ users: 700, seed: 4, courses: 400, tags: 120 });
    const options = { factors: 12, iterations: 4 };
    const one = await runMethod(ds, "als", options, { threads: 1 });
    const two = await runMethod(ds, "als", options, { threads: 2 });
    const a = one.model as AlsModel;
    const b = two.model as AlsModel;
    expect(a.trainThreads).toBe(1);
    expect(b.trainThreads).toBe(2);
    expect(two.stats.threads).toBe(2);
    expect(b.userFactors).toEqual(a.userFactors);
    expect(b.itemFactors).toEqual(a.itemFactors);
    expect(b.epochs.map((e) => e.loss)).toEqual(a.epochs.map((e) => e.loss));
    expect(two.rankings).toEqual(one.rankings);
    const other = (await fit(ds, "als", { ...options, seed: 7 }, { threads: 1 })) as AlsModel;
    expect(other.userFactors).not.toEqual(a.userFactors);
  }, 60_000);

  it("separates two planted groups with disjoint items (every top-5 neighbour in the own group)", async () => {
    const { rankings: r } = await runMethod(twoGroups(60, 5), "als", { factors: 4 }, { topN: 5, threads: 1 });
    for (let u = 0; u < 60; u++) {
      const group = (Number(r.users[u]) - 1) % 2;
      const ns = neighbors(r, u);
      expect(ns).toHaveLength(5);
      for (const v of ns) expect((Number(r.users[v]) - 1) % 2).toBe(group);
    }
  });

  it("gives a user left without items zero factors and no neighbours, and answers queries as rankAll ranks", async () => {
    const full = Dataset.fromColumns(twoGroups(40, 2));
    const gone = full.userId("3")!;
    const keep = (users: Int32Array) => Array.from(users, (u, i) => (u === gone ? -1 : i)).filter((i) => i >= 0);
    const ki = keep(full.interestRows.user);
    const kv = keep(full.viewRows.user);
    const pick = <T extends Int32Array | Float64Array>(col: T, rows: number[]) => col.constructor === Int32Array ? Int32Array.from(rows, (r) => col[r]) : Float64Array.from(rows, (r) => col[r]);
    const without = full.withRows({
      interestRows: { user: pick(full.interestRows.user, ki) as Int32Array, interest: pick(full.interestRows.interest, ki) as Int32Array },
      viewRows: { user: pick(full.viewRows.user, kv) as Int32Array, course: pick(full.viewRows.course, kv) as Int32Array, level: pick(full.viewRows.level, kv) as Int32Array, seconds: pick(full.viewRows.seconds, kv) as Float64Array },
    });
    const { model, rankings } = await runMethod(without, "als", { factors: 6 }, { threads: 1 });
    const m = model as AlsModel;
    expect(Array.from(m.userFactors.subarray(gone * m.k, (gone + 1) * m.k)).every((v) => v === 0)).toBe(true);
    expect(neighbors(rankings, gone)).toEqual([]);
    for (let u = 0; u < rankings.users.length; u++) expect(neighbors(rankings, u)).not.toContain(gone);
    for (const u of [0, 5, 17]) {
      const q = m.similarUsers(u, { n: 10 });
      expect(Array.from(q.ids)).toEqual(neighbors(rankings, u));
      expect(Array.from(q.scores)).toEqual(Array.from(rankings.scores.subarray(rankings.offsets[u], rankings.offsets[u + 1])));
    }
    expect(m.similarUsers(gone).ids).toHaveLength(0);
  });

  it("puts users sharing a taste group among each other's neighbours far more often than chance (generated data)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-als-"));
    try {
      await generate({ users: 1500, seed: 21, outDir: dir });
      const { tables } = await readTables(dir);
      const groups = new Map<string, Set<string>>();
      for (const line of readFileSync(join(dir, "taste_groups.csv"), "utf8").trim().split("\n").slice(1)) {
        const [user, g] = line.split(",");
        groups.set(user.replaceAll('"', ""), new Set(g.replaceAll('"', "").split(";")));
      }
      const share = (a: string, b: string) => [...groups.get(b)!].some((g) => groups.get(a)!.has(g));
      const { rankings: r } = await runMethod(tables, "als", {}, { topN: 10 });
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
      for (let t = 0; t < trials; t++) if (share(r.users[rng.int(r.users.length)], r.users[rng.int(r.users.length)])) chance++;
      const rate = hits / total;
      const chanceRate = chance / trials;
      expect(total).toBeGreaterThan(r.users.length * 9);
      expect(rate).toBeGreaterThan(2 * chanceRate);
      expect(rate - chanceRate).toBeGreaterThan(0.3);
    } finally {
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("als fold-in", () => {
  it("reproduces an existing user's factors from its own items (the last half-step solved users against the final items)", async () => {
    // CG steps beyond k let every row's CG converge, so the trained rows are exact solutions.
    const model = (await fit(syntheticDataset({ users: 150, seed: 8, courses: 80, tags: 40 }), "als", { factors: 8, cgSteps: 30, iterations: 3, alpha: 20 }, { threads: 1 })) as AlsModel;
    const m = model.incidence.userItems;
    let checked = 0;
    for (const u of [0, 1, 7, 42, 99]) {
      const items = Array.from({ length: m.indptr[u + 1] - m.indptr[u] }, (_, i) => ({ key: model.items[m.indices[m.indptr[u] + i]], strength: m.data[m.indptr[u] + i] }));
      // Input order does not matter.
      const x = foldInUser(model, items.reverse());
      for (let f = 0; f < model.k; f++) expect(Math.abs(x[f] - model.userFactors[u * model.k + f])).toBeLessThan(1e-8);
      checked++;
    }
    expect(checked).toBe(5);
    expect(Array.from(foldInUser(model, []))).toEqual(new Array(model.k).fill(0));
  });

  it("rejects an unknown item, an item given twice and a bad strength, naming them", async () => {
    const model = (await fit(twoGroups(20, 1), "als", { factors: 4, iterations: 2 }, { threads: 1 })) as AlsModel;
    const key = model.items[0];
    expect(model.itemId(key)).toBe(0);
    expect(model.itemId("course:nope")).toBeUndefined();
    expect(() => foldInUser(model, [{ key: "course:nope", strength: 1 }])).toThrow('foldInUser: unknown item "course:nope"');
    expect(() => foldInUser(model, [{ key, strength: 1 }, { key, strength: 2 }])).toThrow(`foldInUser: item ${key} is given twice`);
    expect(() => foldInUser(model, [{ key, strength: -1 }])).toThrow(`foldInUser: strength of ${key} must be a finite number ≥ 0, got -1`);
    expect(() => foldInUser(model, [{ key, strength: Number.NaN }])).toThrow(/got NaN/);
  });
});

describe("als options", () => {
  it("has the options an implicit user knows, with checked values and messages that name the option", () => {
    expect(resolveOptions(als, {})).toMatchObject({ factors: 64, regularization: 1, alpha: 4, iterations: 15, cgSteps: 1, seed: 42 });
    expect(() => resolveOptions(als, { factors: 0 })).toThrow("factors must be an integer in 1..1024, got 0");
    expect(() => resolveOptions(als, { iterations: 1.5 })).toThrow("iterations must be an integer in 1..10000, got 1.5");
    expect(() => resolveOptions(als, { cgSteps: 0 })).toThrow("cgSteps must be an integer in 1..1024, got 0");
    expect(() => resolveOptions(als, { alpha: -1 })).toThrow("alpha must be a non-negative number, got -1");
    expect(() => resolveOptions(als, { regularization: Number.POSITIVE_INFINITY })).toThrow("regularization must be a non-negative number, got Infinity");
    expect(() => resolveOptions(als, { courseStrength: -2 })).toThrow("courseStrength must be a non-negative number, got -2");
    expect(() => resolveOptions(als, { epochs: 3 })).toThrow('als has no option "epochs"');
    expect(fit(twoGroups(4, 1), "als", { interestStrength: 0, courseStrength: 0, assessmentStrength: 0 })).rejects.toThrow("als: interestStrength, courseStrength and assessmentStrength are all 0");
    expect(() => ALS_OPTIONS.alpha.parse("lots", "--alpha")).toThrow('--alpha must be a non-negative number, got "lots"');
    expect(ALS_OPTIONS.cgSteps.parse("4", "--cg-steps")).toBe(4);
  });

  it("is registered, with its CLI flags taken from its options", () => {
    expect(getMethod("als")).toBe(als);
    const flags = new Map(methodFlags().map((f) => [f.flag, f.methods.map((m) => m.method.name)]));
    for (const flag of ["factors", "regularization", "seed"]) expect(flags.get(flag)).toContain("als");
    for (const flag of ["alpha", "iterations", "cg-steps"]) expect(flags.get(flag)).toEqual(["als"]);
    expect(flags.has("course-strength")).toBe(false);
  });
});

describe("als through the CLI", () => {
  it("lists its flags in --help and runs `pipeline --method als` end to end", () => {
    const help = runCli(["pipeline", "--help"]);
    expect(help.code).toBe(0);
    for (const flag of ["--alpha", "--iterations", "--cg-steps", "--regularization", "--factors"]) expect(help.out).toContain(flag);
    // A flag two methods share shows each one's default, or the one they agree on.
    expect(help.out).toMatch(/--regularization=<L2>\s+factorization, als: L2 penalty \(defaults: factorization 0\.03, als 1\)/);
    expect(help.out).toMatch(/--factors=<K>\s+factorization, als: latent factors \(default: 64\)/);
    expect(help.out).toContain("als");

    const dir = mkdtempSync(join(tmpdir(), "recsys-als-cli-"));
    try {
      const gen = runCli(["generate", "--users", "300", "--seed", "5", "--out", join(dir, "data")]);
      expect(gen.code).toBe(0);
      const db = join(dir, "r.db");
      const r = runCli(["pipeline", "--method", "als", "--data-dir", join(dir, "data"), "--db", db, "--iterations", "3", "--factors", "8", "--alpha", "5", "--json"]);
      expect(r.err).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.out);
      expect(out.method).toBe("als");
      expect(out.users).toBe(300);
      expect(out.rows).toBeGreaterThan(2900);
      expect(out.params).toMatchObject({ factors: 8, iterations: 3, alpha: 5, cgSteps: 1 });
      expect(out.details.epochs).toHaveLength(3);
      // For people: its epochs with the figures ALS has (no AUC, no learning rate), and its summary.
      const text = runCli(["pipeline", "--method", "als", "--db", db, "--iterations", "2", "--factors", "8"]);
      expect(text.code).toBe(0);
      expect(text.err).toMatch(/epoch 2\/2 {2}loss 0\.\d{4} {2}\d+\.\d\d s/);
      expect(text.err).not.toContain("NaN");
      expect(text.out).toMatch(/observed pairs; 8 factors\n {2}2 iterations, final loss/);
      const bad = runCli(["pipeline", "--method", "als", "--data-dir", join(dir, "data"), "--db", db, "--cg-steps", "0"]);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain("--cg-steps must be an integer in 1..1024, got \"0\"");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
