import { describe, expect, it } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareHandles } from "../src/handles.ts";
import { BLOCK_NAMES, buildInteractions, type BlockName } from "../src/matrix/interactions.ts";
import { runRows, sharedArray, WorkersUnavailableError } from "../src/parallel.ts";
import { buildUserItemMatrix, type Weights } from "../src/methods/similarity/index.ts";
import { Dataset as IdDataset, type InputColumns as Dataset } from "../src/dataset.ts";
import type { Rankings } from "../src/types.ts";
import { rankBySimilarity, similarityRun, similarityTopN } from "./fixtures/methods.ts";
import { rng, syntheticDataset } from "./fixtures/synthetic-dataset.ts";
import type { RowsPayload } from "./fixtures/rows-worker.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;

interface Rows {
  interests?: [string, string][];
  views?: [string, string, number][];
  assessments?: [string, string, number][];
  courseTags?: [string, string][];
}

function dataset(rows: Rows): Dataset {
  const interests = rows.interests ?? [];
  const views = rows.views ?? [];
  const assessments = rows.assessments ?? [];
  const courseTags = rows.courseTags ?? [];
  return {
    user_interests: { user_handle: interests.map((r) => r[0]), interest_tag: interests.map((r) => r[1]) },
    user_course_views: {
      user_handle: views.map((r) => r[0]),
      course_id: views.map((r) => r[1]),
      level: views.map(() => "Beginner"),
      view_time_seconds: Float64Array.from(views.map((r) => r[2])),
    },
    user_assessment_scores: {
      user_handle: assessments.map((r) => r[0]),
      assessment_tag: assessments.map((r) => r[1]),
      user_assessment_score: Float64Array.from(assessments.map((r) => r[2])),
    },
    course_tags: { course_id: courseTags.map((r) => r[0]), course_tags: courseTags.map((r) => r[1]) },
  };
}

/** Neighbour lists by handle: `{ user: [[neighbour, score], …] }`. */
function byHandle(r: Rankings): Record<string, [string, number][]> {
  const out: Record<string, [string, number][]> = {};
  for (let u = 0; u < r.users.length; u++) {
    out[r.users[u]] = [];
    for (let p = r.offsets[u]; p < r.offsets[u + 1]; p++) out[r.users[u]].push([r.users[r.neighbors[p]], r.scores[p]]);
  }
  return out;
}

function expectIdentical(a: Rankings, b: Rankings) {
  expect(b.users).toEqual(a.users);
  expect([...b.offsets]).toEqual([...a.offsets]);
  expect([...b.neighbors]).toEqual([...a.neighbors]);
  // Bitwise: Object.is distinguishes every double, so toEqual on arrays of numbers is exact.
  expect([...b.scores]).toEqual([...a.scores]);
}

/**
 * The definition, written independently of the library: maps keyed by item, no CSR, no shared
 * helpers. Returns the users (handles with any row) and the weighted similarity of two of them.
 */
function definitional(ds: Dataset, w: Weights) {
  const vectors = new Map<string, Record<BlockName, Map<string, number>>>();
  const vec = (h: string) => {
    let v = vectors.get(h);
    if (!v) vectors.set(h, (v = { interests: new Map(), courses: new Map(), assessments: new Map() }));
    return v;
  };
  const ui = ds.user_interests;
  for (let i = 0; i < ui.user_handle.length; i++) if (ui.interest_tag[i] !== "") vec(ui.user_handle[i]).interests.set(ui.interest_tag[i], 1);
  const ua = ds.user_assessment_scores;
  for (let i = 0; i < ua.user_handle.length; i++) {
    if (ua.assessment_tag[i] === "") continue;
    const a = vec(ua.user_handle[i]).assessments;
    a.set(ua.assessment_tag[i], Math.max(a.get(ua.assessment_tag[i]) ?? 0, ua.user_assessment_score[i]));
  }
  for (const v of vectors.values()) for (const [t, best] of v.assessments) v.assessments.set(t, 1 + best / 100);
  const seconds = new Map<string, Map<string, number>>();
  const uv = ds.user_course_views;
  for (let i = 0; i < uv.user_handle.length; i++) {
    vec(uv.user_handle[i]);
    const s = seconds.get(uv.user_handle[i]) ?? new Map<string, number>();
    seconds.set(uv.user_handle[i], s);
    s.set(uv.course_id[i], (s.get(uv.course_id[i]) ?? 0) + uv.view_time_seconds[i]);
  }
  const tagsOf = new Map<string, Set<string>>();
  for (let i = 0; i < ds.course_tags.course_id.length; i++) {
    const set = tagsOf.get(ds.course_tags.course_id[i]) ?? new Set<string>();
    tagsOf.set(ds.course_tags.course_id[i], set);
    if (ds.course_tags.course_tags[i] !== "") set.add(ds.course_tags.course_tags[i]);
  }
  for (const [h, s] of seconds) {
    const c = vec(h).courses;
    const minutesByTag = new Map<string, number>();
    for (const [course, sec] of s) {
      const m = sec / 60;
      c.set(`course:${course}`, Math.log(1 + m));
      for (const t of tagsOf.get(course) ?? []) minutesByTag.set(t, (minutesByTag.get(t) ?? 0) + m);
    }
    for (const [t, m] of minutesByTag) c.set(`tag:${t}`, Math.log(1 + m));
  }
  for (const v of vectors.values()) {
    for (const b of BLOCK_NAMES) {
      let norm = 0;
      for (const x of v[b].values()) norm += x * x;
      norm = Math.sqrt(norm);
      for (const [k, x] of v[b]) v[b].set(k, norm === 0 ? 0 : x / norm);
    }
  }
  const users = [...vectors.keys()].sort(compareHandles);
  const score = (a: string, b: string) => {
    let s = 0;
    for (const block of BLOCK_NAMES) {
      let dot = 0;
      for (const [k, x] of vectors.get(a)![block]) dot += x * (vectors.get(b)![block].get(k) ?? 0);
      s += w[block] * dot;
    }
    return s;
  };
  return { users, score };
}

/** Top-n from a dense Gram matrix of the library's own weighted matrix (columns summed in order). */
function denseTopN(ds: Dataset, w: Weights, n: number): Rankings {
  const { users, matrix: x } = buildUserItemMatrix(ds, w);
  const dense = new Float64Array(x.rows * x.cols);
  for (let u = 0; u < x.rows; u++) for (let p = x.indptr[u]; p < x.indptr[u + 1]; p++) dense[u * x.cols + x.indices[p]] = x.data[p];
  const offsets = new Int32Array(x.rows + 1);
  const neighbors: number[] = [];
  const scores: number[] = [];
  for (let u = 0; u < x.rows; u++) {
    const candidates: [number, number][] = [];
    for (let v = 0; v < x.rows; v++) {
      if (v === u) continue;
      let s = 0;
      for (let k = 0; k < x.cols; k++) s += dense[u * x.cols + k] * dense[v * x.cols + k];
      if (s > 0) candidates.push([v, s]);
    }
    candidates.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (const [v, s] of candidates.slice(0, n)) {
      neighbors.push(v);
      scores.push(s);
    }
    offsets[u + 1] = neighbors.length;
  }
  return { users: [...users], offsets, neighbors: Int32Array.from(neighbors), scores: Float64Array.from(scores) };
}

interface RandomShape {
  users: number;
  seed: number;
  /** No assessment rows at all. */
  noAssessments?: boolean;
  /** Exactly one user has assessments. */
  oneAssessor?: boolean;
}

/** Small random data with many exact ties: tiny vocabularies, quantized values, duplicated users. */
function randomDataset(shape: RandomShape): Dataset {
  const random = rng(shape.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const rows: Required<Rows> = { interests: [], views: [], assessments: [], courseTags: [] };
  const special = ["2", "10", "1a", "7", "007", "a", "B", "é"];
  const handles = Array.from({ length: shape.users }, (_, i) => special[i] ?? String(100 + i));
  const courses = Array.from({ length: 12 }, (_, i) => `c${i}`);
  for (const c of courses.slice(0, 9)) for (let k = 0; k < 1 + Math.floor(random() * 3); k++) rows.courseTags.push([c, pick(["x", "y", "z", "w"])]);
  rows.courseTags.push(["c0", "x"]); // a duplicated (course, tag) row counts once
  rows.courseTags.push(["unviewed", "q"]);
  for (const h of handles) {
    const kind = random();
    if (kind < 0.08) {
      // A loner: one course nobody else can view, no tags: a user with no neighbours.
      rows.views.push([h, `solo-${h}`, 60 + Math.floor(random() * 600)]);
      continue;
    }
    for (let k = Math.floor(random() * 4); k > 0; k--) rows.interests.push([h, pick(["python", "sql", "java", "go", "rust", ""])]);
    for (let k = Math.floor(random() * 4); k > 0; k--) rows.views.push([h, pick(courses), pick([0, 60, 120, 600, 37])]);
    if (!shape.noAssessments && !shape.oneAssessor && random() < 0.4) {
      for (let k = 1 + Math.floor(random() * 2); k > 0; k--) rows.assessments.push([h, pick(["p", "q", "r"]), pick([0, 50, 100, 150])]);
    }
  }
  if (shape.oneAssessor) rows.assessments.push([handles[3], "p", 80]);
  // Duplicates: the same rows under a new handle tie exactly with the original.
  for (let d = 0; d < 3; d++) {
    const src = handles[5 + d * 3];
    const copy = `dup${d}`;
    for (const r of rows.interests.filter((r) => r[0] === src)) rows.interests.push([copy, r[1]]);
    for (const r of rows.views.filter((r) => r[0] === src)) rows.views.push([copy, r[1], r[2]]);
    for (const r of rows.assessments.filter((r) => r[0] === src)) rows.assessments.push([copy, r[1], r[2]]);
  }
  // Shuffle row order: results must not depend on it.
  for (const list of [rows.interests, rows.views, rows.assessments] as unknown[][]) list.sort(() => random() - 0.5);
  return dataset(rows);
}

describe("similarity: a hand-computed example", () => {
  // Users in handle order: "1", "2", "10", "a", "b". Course tags: c1 → x; c2 → x, y; c3 → none.
  const ds = dataset({
    interests: [
      ["1", "python"], ["1", "sql"],
      ["2", "python"], ["2", "sql"], ["2", "java"], ["2", "python"], // a re-follow counts once
      ["10", "java"],
    ],
    views: [
      ["1", "c1", 60], // m = 1: course:c1 = tag:x = ln 2
      ["2", "c1", 30], ["2", "c1", 30], // 30 + 30 seconds: the same as user 1
      ["10", "c2", 0], // 0 seconds: ln(1 + 0) = 0, contributes nothing, no courses vector
      ["a", "c2", 180], // m = 3: course:c2 = tag:x = tag:y = ln 4
      ["b", "c3", 120], // a course nobody else viewed, without tags
    ],
    assessments: [
      ["1", "python", 50], // 1.5
      ["10", "python", 100], ["10", "python", 20], ["10", "sql", 0], // best 100 → 2; sql → 1
      ["a", "python", 0], // 1
    ],
    courseTags: [["c1", "x"], ["c2", "x"], ["c2", "y"]],
  });
  // Normalized block vectors:
  //   "1":  interests (python 1/√2, sql 1/√2); courses (c1 1/√2, x 1/√2); assessments (python 1)
  //   "2":  interests (python, sql, java: 1/√3 each); courses (c1 1/√2, x 1/√2)
  //   "10": interests (java 1); assessments (python 2/√5, sql 1/√5)
  //   "a":  courses (c2, x, y: ln4/√(3·ln4²) = 1/√3 each); assessments (python 1)
  //   "b":  courses (c3 1)
  const s12 = 0.5 * (2 * (1 / Math.SQRT2) * (1 / Math.sqrt(3))) + 0.3 * (0.5 + 0.5); // ≈ 0.70825
  const s1_10 = 0.2 * (1 * (2 / Math.sqrt(5))); // ≈ 0.17889
  const s1a = 0.3 * ((1 / Math.SQRT2) * (1 / Math.sqrt(3))) + 0.2 * (1 * 1); // ≈ 0.32247
  const s2_10 = 0.5 * ((1 / Math.sqrt(3)) * 1); // ≈ 0.28868
  const s2a = 0.3 * ((1 / Math.SQRT2) * (1 / Math.sqrt(3))); // ≈ 0.12247
  const s10a = 0.2 * ((2 / Math.sqrt(5)) * 1); // = s1_10: an exact tie, broken by handle ("1" < "a")

  it("ranks every user's neighbours by the weighted sum of block cosines", async () => {
    const got = byHandle(await rankBySimilarity(ds));
    const expected: Record<string, [string, number][]> = {
      "1": [["2", s12], ["a", s1a], ["10", s1_10]],
      "2": [["1", s12], ["10", s2_10], ["a", s2a]],
      "10": [["2", s2_10], ["1", s1_10], ["a", s10a]],
      a: [["1", s1a], ["10", s10a], ["2", s2a]],
      b: [],
    };
    expect(Object.keys(got)).toEqual(["1", "2", "10", "a", "b"]);
    for (const [user, list] of Object.entries(expected)) {
      expect(got[user].map((e) => e[0])).toEqual(list.map((e) => e[0]));
      for (let i = 0; i < list.length; i++) expect(got[user][i][1]).toBeCloseTo(list[i][1], 14);
    }
    expect(got["10"][1][1]).toBe(got["10"][2][1]); // the tie is exact, so the handle decides
  });

  it("cuts at top-n after breaking ties by handle", async () => {
    const got = byHandle(await rankBySimilarity(ds, { topN: 2 }));
    expect(got["10"].map((e) => e[0])).toEqual(["2", "1"]);
    expect(got["1"].map((e) => e[0])).toEqual(["2", "a"]);
  });

  it("uses only the weighted blocks: with courses alone, scores are course cosines", async () => {
    const got = byHandle(await rankBySimilarity(ds, { weights: { courses: 7 } }));
    expect(got["1"].map((e) => e[0])).toEqual(["2", "a"]);
    expect(got["1"][0][1]).toBeCloseTo(1, 14);
    expect(got["1"][1][1]).toBeCloseTo(1 / Math.sqrt(6), 14);
    expect(got["10"]).toEqual([]); // a 0-second course is no course vector
    expect(got.b).toEqual([]);
  });

  it("reports users, items, non-zeros and users per block", async () => {
    const { stats } = await similarityRun(ds);
    expect(stats.users).toBe(5);
    expect(stats.usersWithNeighbors).toBe(4);
    expect(stats.blocks.interests).toEqual({ weight: 0.5, items: 3, nnz: 6, users: 3 });
    // course:c1 c2 c3 + tag:x y; the 0-second view of "10" stores nothing.
    expect(stats.blocks.courses).toEqual({ weight: 0.3, items: 5, nnz: 2 + 2 + 3 + 1, users: 4 });
    expect(stats.blocks.assessments).toEqual({ weight: 0.2, items: 2, nnz: 4, users: 3 });
    expect(stats.nnz).toBe(6 + 8 + 4);
    expect(stats.rows).toBe(12);
    expect(stats.seconds.matrix).toBeGreaterThanOrEqual(0);
    expect(stats.seconds.topN).toBeGreaterThanOrEqual(0);
  });

  it("builds the raw block values of the definition", () => {
    const { users, blocks } = buildInteractions(IdDataset.fromColumns(ds));
    expect(users).toEqual(["1", "2", "10", "a", "b"]);
    expect(blocks.courses.items).toEqual(["course:c1", "course:c2", "course:c3", "tag:x", "tag:y"]);
    const a = 3;
    const row = blocks.courses.values;
    const entries = [...row.indices.subarray(row.indptr[a], row.indptr[a + 1])].map((k, i) => [blocks.courses.items[k], row.data[row.indptr[a] + i]]);
    expect(entries).toEqual([["course:c2", Math.log1p(3)], ["tag:x", Math.log1p(3)], ["tag:y", Math.log1p(3)]]);
    const best = blocks.assessments.values;
    expect([...best.data.subarray(best.indptr[2], best.indptr[3])]).toEqual([2, 1]); // "10": python best 100, sql 0
  });

  it("ranks no one for handles whose only rows carry empty tags", async () => {
    const r = await rankBySimilarity(dataset({ interests: [["x", ""], ["1", "go"], ["2", "go"]], assessments: [["y", "", 10]] }));
    expect(r.users).toEqual(["1", "2"]);
  });
});

describe("similarity: agreement with brute force", () => {
  const shapes: (RandomShape & { topN: number; weights: Partial<Weights> })[] = [
    { users: 40, seed: 1, topN: 3, weights: { interests: 0.5, courses: 0.3, assessments: 0.2 } },
    { users: 90, seed: 2, topN: 10, weights: { interests: 1, courses: 1, assessments: 1 } },
    { users: 120, seed: 3, topN: 1, weights: { courses: 1 } },
    { users: 60, seed: 4, topN: 5, weights: { interests: 0.2, assessments: 0.8 }, noAssessments: true },
    { users: 70, seed: 5, topN: 4, weights: { interests: 0.5, courses: 0.3, assessments: 0.2 }, oneAssessor: true },
    { users: 30, seed: 6, topN: 1000, weights: { interests: 0, courses: 0.4, assessments: 0.6 } },
    { users: 150, seed: 7, topN: 7, weights: { interests: 0.3, courses: 0.3, assessments: 0.4 } },
  ];
  for (const shape of shapes) {
    it(`matches a dense Gram matrix exactly and the definition within 1e-12 (${shape.users} users, seed ${shape.seed}, top-${shape.topN}, weights ${JSON.stringify(shape.weights)}${shape.noAssessments ? ", no assessments" : ""}${shape.oneAssessor ? ", one assessor" : ""})`, async () => {
      const ds = randomDataset(shape);
      const { rankings: r, stats } = await similarityRun(ds, { topN: shape.topN, weights: shape.weights, threads: 1 });
      const w = stats.weights;

      // Same matrix, summed densely column by column: identical bits, so ties order identically.
      expectIdentical(denseTopN(ds, w, shape.topN), r);

      // Independent definition: same users, same scores, a valid top-n.
      const def = definitional(ds, w);
      expect(r.users).toEqual(def.users);
      let lonely = 0;
      for (let u = 0; u < r.users.length; u++) {
        const listed = new Set<number>();
        for (let p = r.offsets[u]; p < r.offsets[u + 1]; p++) {
          const v = r.neighbors[p];
          expect(v).not.toBe(u);
          expect(r.scores[p]).toBeGreaterThan(0);
          expect(Math.abs(r.scores[p] - def.score(r.users[u], r.users[v]))).toBeLessThan(1e-12);
          if (p > r.offsets[u]) expect(r.scores[p] <= r.scores[p - 1]).toBe(true);
          listed.add(v);
        }
        const positive = r.users.map((h, v) => (v === u ? 0 : def.score(r.users[u], h))).filter((s) => s > 0).length;
        expect(r.offsets[u + 1] - r.offsets[u]).toBe(Math.min(shape.topN, positive));
        if (positive === 0) lonely++;
        const last = r.offsets[u + 1] > r.offsets[u] ? r.scores[r.offsets[u + 1] - 1] : Infinity;
        for (let v = 0; v < r.users.length; v++) {
          if (v !== u && !listed.has(v)) expect(def.score(r.users[u], r.users[v])).toBeLessThanOrEqual(last + 1e-12);
        }
      }
      expect(lonely).toBeGreaterThan(0); // the data has users without neighbours
      if (shape.noAssessments) expect(stats.blocks.assessments).toEqual({ weight: w.assessments, items: 0, nnz: 0, users: 0 });
      if (shape.oneAssessor) expect(stats.blocks.assessments.users).toBe(1);
    });
  }

  it("orders duplicated users (exact ties) by handle", async () => {
    const ds = randomDataset({ users: 40, seed: 11 });
    const got = byHandle(await rankBySimilarity(ds, { topN: 50 }));
    // "dup0" has exactly the rows of "a": every third user scores both identically, "a" first.
    let both = 0;
    for (const [user, list] of Object.entries(got)) {
      for (let i = 1; i < list.length; i++) {
        if (list[i][1] === list[i - 1][1]) expect(compareHandles(list[i - 1][0], list[i][0])).toBeLessThan(0);
      }
      const a = list.findIndex((e) => e[0] === "a");
      const dup = list.findIndex((e) => e[0] === "dup0");
      if (user === "a" || user === "dup0" || a < 0) continue;
      expect(dup).toBeGreaterThan(a);
      expect(list[dup][1]).toBe(list[a][1]);
      both++;
    }
    expect(both).toBeGreaterThan(0);
  });
});

describe("similarity: threads", () => {
  it("gives identical results inline and with workers", async () => {
    const ds = syntheticDataset({ users: 2500, seed: 5 });
    const m = buildUserItemMatrix(ds);
    const inline = await similarityTopN(m, { topN: 10, threads: 1 });
    const two = await similarityTopN(m, { topN: 10, threads: 2 });
    const three = await similarityTopN(m, { topN: 10, threads: 3 });
    expectIdentical(inline, two);
    expectIdentical(inline, three);
    expect(inline.neighbors.length).toBeGreaterThan(2500 * 9);
  });

  it("gives identical results with workers on tiny inputs and ties", async () => {
    for (const seed of [21, 22]) {
      const ds = randomDataset({ users: 50, seed });
      const m = buildUserItemMatrix(ds);
      expectIdentical(await similarityTopN(m, { topN: 4, threads: 1 }), await similarityTopN(m, { topN: 4, threads: 2 }));
    }
  });

  it("reports top-n progress up to the number of users, inline and with workers", async () => {
    const ds = randomDataset({ users: 60, seed: 9 });
    for (const threads of [1, 2]) {
      const seen: [string, number, number][] = [];
      const { stats } = await similarityRun(ds, { threads, onProgress: (stage, done, total) => seen.push([stage, done, total]) });
      expect(seen[0]).toEqual(["matrix", 0, 1]);
      expect(seen).toContainEqual(["matrix", 1, 1]);
      expect(seen.at(-1)).toEqual(["top-n", stats.users, stats.users]);
      expect(stats.threads).toBe(threads);
    }
  });

  it("rejects a non-positive top-n or thread count", async () => {
    const m = buildUserItemMatrix(randomDataset({ users: 10, seed: 1 }));
    await expect(similarityTopN(m, { topN: 0 })).rejects.toThrow("topN must be an integer in 1..1000, got 0");
    await expect(similarityTopN(m, { threads: 1.5 })).rejects.toThrow(/threads must be an integer in 1..\d+ \(2 per core\), got 1.5/);
  });

  it("handles a single user and an empty dataset", async () => {
    const one = await rankBySimilarity(dataset({ interests: [["5", "go"]] }), { threads: 2 });
    expect(one.users).toEqual(["5"]);
    expect([...one.offsets]).toEqual([0, 0]);
    const none = await rankBySimilarity(dataset({}));
    expect(none.users).toEqual([]);
    expect([...none.offsets]).toEqual([0]);
  });
});

describe("runRows (worker pool)", () => {
  const worker = new URL("./fixtures/rows-worker.ts", import.meta.url);
  const payload = (mode: RowsPayload["mode"], rows: number): RowsPayload => ({ mode, marks: sharedArray(Int32Array, rows) });

  it("hands every row to exactly one worker and reports progress to the total", async () => {
    const p = payload("mark", 1001);
    const progress: number[] = [];
    await runRows({ worker, rows: 1001, payload: p, threads: 3, chunk: 17, onProgress: (done, total) => progress.push(done / total) });
    expect([...p.marks].every((m) => m === 1)).toBe(true);
    expect(progress.at(-1)).toBe(1);
  });

  it("propagates an error thrown by the kernel, as a plain failure (the workers did run)", async () => {
    const error = await runRows({ worker, rows: 100, payload: payload("throw", 100), threads: 2, chunk: 10 }).catch((e) => e);
    expect(error.message).toMatch(/kernel failed on rows \d+\.\.\d+/);
    expect(error).not.toBeInstanceOf(WorkersUnavailableError);
  });

  it("propagates an error thrown while setting up", async () => {
    const error = await runRows({ worker, rows: 10, payload: payload("setup-throws", 10), threads: 2 }).catch((e) => e);
    expect(error.message).toMatch(/setup refused the payload/);
    expect(error).not.toBeInstanceOf(WorkersUnavailableError);
  });

  it("fails when a worker exits before finishing", async () => {
    await expect(runRows({ worker, rows: 10, payload: payload("exit", 10), threads: 1 })).rejects.toThrow(/exited before finishing/);
  });

  it("reports a worker module that is there but throws while loading as a failure, not as unavailable", async () => {
    const broken = new URL("./fixtures/throwing-worker.ts", import.meta.url);
    const error = await runRows({ worker: broken, rows: 10, payload: payload("mark", 10), threads: 2 }).catch((e) => e);
    expect(error.message).toMatch(/worker module failed to load/);
    expect(error).not.toBeInstanceOf(WorkersUnavailableError);
  });

  it("says the workers are unavailable when the module does not exist, so callers can run the rows themselves", async () => {
    const missing = new URL("./fixtures/no-such-worker.ts", import.meta.url);
    const error = await runRows({ worker: missing, rows: 10, payload: payload("mark", 10), threads: 2 }).catch((e) => e);
    expect(error).toBeInstanceOf(WorkersUnavailableError);
    expect(error.message).toMatch(/no-such-worker/);
  });
});

describe("top-n workers outside this test run", () => {
  // Both methods' top-n with 1 and 2 threads; prints whether the results agree and how many
  // threads actually computed the rows.
  const script = (src: string) => `
    import { fit } from ${JSON.stringify(src + "/fit.ts")};
    import { factorTopN } from ${JSON.stringify(src + "/rank/factors.ts")};
    const rows = { user_handle: [], interest_tag: [] };
    for (let u = 0; u < 300; u++) for (let t = 0; t < 3; t++) { rows.user_handle.push(String(u)); rows.interest_tag.push("t" + ((u * 7 + t * 13) % 40)); }
    const ds = {
      user_interests: rows,
      user_assessment_scores: { user_handle: [], assessment_tag: [], user_assessment_score: new Float64Array(0) },
      user_course_views: { user_handle: [], course_id: [], level: [], view_time_seconds: new Float64Array(0) },
      course_tags: { course_id: [], course_tags: [] },
    };
    const same = (a, b) => a.neighbors.length > 0 && a.neighbors.every((v, i) => v === b.neighbors[i]) && a.scores.every((v, i) => v === b.scores[i]);
    const model = await fit(ds, "similarity");
    let used = 0;
    const a = await model.rankAll({ threads: 1 });
    const b = await model.rankAll({ threads: 2, onThreads: (t) => (used = t) });
    const factors = Float64Array.from({ length: 300 * 4 }, (_, i) => Math.sin(i * 1.7) + ((i * 7) % 5) / 5);
    let usedF = 0;
    const c = await factorTopN(factors, 300, 4, { threads: 1 });
    const d = await factorTopN(factors, 300, 4, { threads: 2, onThreads: (t) => (usedF = t) });
    console.log(\`similarity \${same(a, b) ? "identical" : "different"} on \${used}; factors \${same(c, d) ? "identical" : "different"} on \${usedF}\`);
  `;

  /** Builds bin/app.ts (the script) into a single-file executable with `extra` entrypoints, then runs it from an empty directory with the sources gone. */
  function compileAndRun(extra: string[]): { stdout: string; stderr: string } {
    // Mirror the project layout (bin/ + src/) so the embedded names match the real build's.
    const dir = mkdtempSync(join(tmpdir(), "recsys-compile-"));
    const empty = mkdtempSync(join(tmpdir(), "recsys-empty-"));
    try {
      cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
      // Someone else's app has recsys's dependencies installed beside it.
      symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
      mkdirSync(join(dir, "bin"));
      writeFileSync(join(dir, "bin/app.ts"), script("../src"));
      const build = spawnSync(BUN, ["build", "--compile", "--minify", "bin/app.ts", ...extra, "--outfile", "app"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(build.status).toBe(0);
      rmSync(join(dir, "src"), { recursive: true });
      const run = spawnSync(join(dir, "app"), [], { cwd: empty, encoding: "utf8", timeout: 30_000 });
      return { stdout: run.stdout, stderr: run.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  }

  it("start from a library imported from another working directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-lib-"));
    try {
      writeFileSync(join(dir, "use.ts"), script(join(ROOT, "src")));
      const run = spawnSync(BUN, ["use.ts"], { cwd: dir, encoding: "utf8", timeout: 30_000 });
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("similarity identical on 2; factors identical on 2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("start inside a compiled single-file executable built with the workers as extra entrypoints", () => {
    const run = compileAndRun(["src/methods/similarity/worker.ts", "src/rank/factors-worker.ts"]);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("similarity identical on 2; factors identical on 2");
  });

  it("are replaced by the calling thread, with the same result, in an executable built without them (someone else's app)", () => {
    const run = compileAndRun([]);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("similarity identical on 1; factors identical on 1");
  });
});
