/**
 * Similarity's item weighting (`none|idf|bm25`), normalization (`blocks|whole`) and shrinkage,
 * each against a definitional oracle written here with maps keyed by item (no CSR, no library
 * helpers), and the guarantees the features built on the matrix rely on: the one-user query equals
 * the all-users ranking, an existing user's folded-in profile is that user's row bit for bit, and
 * explanations add up to the score.
 */
import { describe, expect, it } from "bun:test";
import { Dataset, type InputColumns } from "../src/dataset.ts";
import { fit } from "../src/fit.ts";
import { compareHandles } from "../src/handles.ts";
import { BLOCK_NAMES, type BlockName } from "../src/matrix/interactions.ts";
import type { Model } from "../src/methods/method.ts";
import { profileOf } from "../src/profile.ts";
import type { Rankings } from "../src/types.ts";
import { syntheticDataset } from "./fixtures/synthetic-dataset.ts";

type Vec = Record<BlockName, Map<string, number>>;

/** Raw block vectors by handle, from the tables (the README's block definitions). */
function rawVectors(ds: InputColumns): Map<string, Vec> {
  const vectors = new Map<string, Vec>();
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
    a.set(ua.assessment_tag[i], Math.max(a.get(ua.assessment_tag[i]) ?? -Infinity, ua.user_assessment_score[i]));
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
      c.set(`course:${course}`, Math.log(1 + sec / 60));
      for (const t of tagsOf.get(course) ?? []) minutesByTag.set(t, (minutesByTag.get(t) ?? 0) + sec / 60);
    }
    for (const [t, m] of minutesByTag) c.set(`tag:${t}`, Math.log(1 + m));
  }
  // Zero values (0-second courses) are no entry at all.
  for (const v of vectors.values()) for (const b of BLOCK_NAMES) for (const [k, x] of v[b]) if (x === 0) v[b].delete(k);
  return vectors;
}

interface Scheme {
  weights: Record<BlockName, number>;
  itemWeighting: "none" | "idf" | "bm25";
  idfExponent: number;
  bm25K1: number;
  bm25B: number;
  normalize: "blocks" | "whole";
  shrinkage: number;
  shrinkageCount: "items" | "columns";
}

const BASE: Scheme = { weights: { interests: 0.5, courses: 0.3, assessments: 0.2 }, itemWeighting: "none", idfExponent: 0.5, bm25K1: 1.2, bm25B: 0.75, normalize: "blocks", shrinkage: 0, shrinkageCount: "items" };

/** The definition: users in handle order and the score of any two of them. */
function oracle(ds: InputColumns, s: Scheme) {
  const raw = rawVectors(ds);
  const users = [...raw.keys()].sort(compareHandles);
  const n = users.length;
  const vectors = new Map<string, Map<string, number>>();
  for (const h of users) vectors.set(h, new Map());
  for (const b of BLOCK_NAMES) {
    if (s.weights[b] === 0) continue;
    const df = new Map<string, number>();
    let lengths = 0;
    let holders = 0;
    for (const v of raw.values()) {
      for (const k of v[b].keys()) df.set(k, (df.get(k) ?? 0) + 1);
      if (v[b].size > 0) {
        lengths += v[b].size;
        holders++;
      }
    }
    const avgL = lengths / holders;
    for (const h of users) {
      const block = new Map<string, number>();
      const v = raw.get(h)![b];
      for (const [k, x] of v) {
        const d = df.get(k)!;
        let y = x;
        if (s.itemWeighting === "idf") y = x * Math.log(1 + n / d) ** s.idfExponent;
        if (s.itemWeighting === "bm25") y = (Math.log(1 + (n - d + 0.5) / (d + 0.5)) * x * (s.bm25K1 + 1)) / (x + s.bm25K1 * (1 - s.bm25B + (s.bm25B * v.size) / avgL));
        if (y !== 0) block.set(k, y);
      }
      const norm = Math.sqrt([...block.values()].reduce((t, y) => t + y * y, 0));
      for (const [k, y] of block) vectors.get(h)!.set(`${b}/${k}`, s.normalize === "blocks" ? (y / norm) * Math.sqrt(s.weights[b]) : y * Math.sqrt(s.weights[b]));
    }
  }
  if (s.normalize === "whole") {
    for (const v of vectors.values()) {
      const norm = Math.sqrt([...v.values()].reduce((t, y) => t + y * y, 0));
      for (const [k, y] of v) v.set(k, y / norm);
    }
  }
  const score = (a: string, c: string) => {
    let dot = 0;
    let shared = 0;
    for (const [k, x] of vectors.get(a)!) {
      const y = vectors.get(c)!.get(k);
      if (y === undefined) continue;
      dot += x * y;
      // Course tags come with the courses: with `items`, shrinkage's n does not count them.
      if (s.shrinkageCount === "columns" || !k.startsWith("courses/tag:")) shared++;
    }
    return s.shrinkage > 0 ? (dot * shared) / (shared + s.shrinkage) : dot;
  };
  return { users, score };
}

/** The library's ranking checked against the oracle: same scores (1e-12), best first, complete. */
function expectMatchesOracle(r: Rankings, ds: InputColumns, s: Scheme, topN: number) {
  const { users, score } = oracle(ds, s);
  expect(r.users).toEqual(users);
  for (let u = 0; u < users.length; u++) {
    const all = users.map((h, v) => (v === u ? 0 : score(users[u], h))).filter((x) => x > 1e-12).sort((a, b) => b - a);
    const got = Array.from(r.scores.subarray(r.offsets[u], r.offsets[u + 1]));
    expect(got.length).toBe(Math.min(topN, all.length));
    for (let i = 0; i < got.length; i++) {
      expect(Math.abs(got[i] - all[i])).toBeLessThan(1e-12);
      expect(Math.abs(got[i] - score(users[u], users[r.neighbors[r.offsets[u] + i]]))).toBeLessThan(1e-12);
    }
  }
}

const data = syntheticDataset({ users: 250, seed: 11 });
const TOP = 12;

const CASES: [string, Partial<Scheme>][] = [
  ["idf (p = 0.5)", { itemWeighting: "idf" }],
  ["idf (p = 1)", { itemWeighting: "idf", idfExponent: 1 }],
  ["bm25", { itemWeighting: "bm25" }],
  ["bm25 k1 = 0.4, b = 1", { itemWeighting: "bm25", bm25K1: 0.4, bm25B: 1 }],
  ["whole", { normalize: "whole" }],
  ["shrinkage 3", { shrinkage: 3 }],
  ["idf + whole + shrinkage + other weights", { itemWeighting: "idf", idfExponent: 0.7, normalize: "whole", shrinkage: 1.5, weights: { interests: 0.2, courses: 0.8, assessments: 0 } }],
  ["bm25 + whole + shrinkage", { itemWeighting: "bm25", normalize: "whole", shrinkage: 5 }],
  ["shrinkage 5 counting every column (course tags too)", { itemWeighting: "idf", shrinkage: 5, shrinkageCount: "columns" }],
];

async function model(s: Scheme): Promise<Model> {
  const { weights, ...rest } = s;
  return fit(data, "similarity", { weights, ...rest });
}

describe("similarity options against the definition", () => {
  for (const [name, opts] of CASES) {
    const s = { ...BASE, ...opts };
    it(`${name}: the ranking is the oracle's`, async () => {
      const m = await model(s);
      expectMatchesOracle(await m.rankAll({ topN: TOP, threads: 1 }), data, s, TOP);
    });

    it(`${name}: one user's query equals its row of the ranking, bit for bit, on any thread count`, async () => {
      const m = await model(s);
      const all = await m.rankAll({ topN: TOP, threads: 1 });
      const two = await m.rankAll({ topN: TOP, threads: 2 });
      expect([...two.scores]).toEqual([...all.scores]);
      expect([...two.neighbors]).toEqual([...all.neighbors]);
      for (let u = 0; u < all.users.length; u++) {
        const q = m.similarUsers(u, { n: TOP });
        expect([...q.ids]).toEqual([...all.neighbors.subarray(all.offsets[u], all.offsets[u + 1])]);
        expect([...q.scores]).toEqual([...all.scores.subarray(all.offsets[u], all.offsets[u + 1])]);
      }
    });

    it(`${name}: an existing user's folded-in profile gets that user's neighbours, bit for bit`, async () => {
      const m = await model(s);
      const ds = m.dataset as Dataset;
      for (let u = 0; u < ds.users.length; u += 3) {
        const own = m.similarUsers(u, { n: TOP });
        const folded = m.similarUsers(m.foldIn!(profileOf(ds, u)), { n: TOP + 1 });
        const keep = [...folded.ids].map((v, i) => [v, folded.scores[i]] as const).filter(([v]) => v !== u).slice(0, TOP);
        expect(keep.map((x) => x[0])).toEqual([...own.ids]);
        expect(keep.map((x) => x[1])).toEqual([...own.scores]);
      }
    });

    it(`${name}: explanations add up to the ranked score (1e-12)`, async () => {
      const m = await model(s);
      for (let u = 0; u < 40; u++) {
        const q = m.similarUsers(u, { n: 3 });
        for (let i = 0; i < q.ids.length; i++) {
          const e = m.explain!(u, q.ids[i], { items: 1000 });
          expect(e.score).toBe(q.scores[i]);
          expect(Math.abs(e.blocks.interests + e.blocks.courses + e.blocks.assessments - e.score)).toBeLessThan(1e-12);
          expect(Math.abs(e.items.reduce((t, x) => t + x.contribution, 0) - e.score)).toBeLessThan(1e-12);
        }
      }
    });
  }

  it("none, blocks and shrinkage 0 given explicitly are the original contract, bit for bit", async () => {
    const contract = await (await fit(data, "similarity", { weights: BASE.weights, itemWeighting: "none", normalize: "blocks", shrinkage: 0 })).rankAll({ topN: TOP, threads: 1 });
    expectMatchesOracle(contract, data, BASE, TOP);
    // The other parameters are inert without their scheme.
    const inert = await (await fit(data, "similarity", { weights: BASE.weights, itemWeighting: "none", idfExponent: 2, bm25K1: 3, bm25B: 0.1, normalize: "blocks", shrinkage: 0 })).rankAll({ topN: TOP, threads: 1 });
    expect([...inert.scores]).toEqual([...contract.scores]);
    expect([...inert.neighbors]).toEqual([...contract.neighbors]);
  });

  it("idf weighs a rare shared item above one everyone has, which still counts (ln 2)", async () => {
    const ds: InputColumns = {
      user_interests: { user_handle: ["a", "b", "c", "a", "b"], interest_tag: ["all", "all", "all", "rare", "rare"] },
      user_course_views: { user_handle: [], course_id: [], level: [], view_time_seconds: new Float64Array(0) },
      user_assessment_scores: { user_handle: [], assessment_tag: [], user_assessment_score: new Float64Array(0) },
      course_tags: { course_id: [], course_tags: [] },
    };
    const r = await (await fit(ds, "similarity", { itemWeighting: "idf", idfExponent: 1, shrinkage: 0 })).rankAll({ topN: 5, threads: 1 });
    // a = (all ln 2, rare ln 2.5) = b; c = (all ln 2): a–b cosine 1, a–c ln 2 / |a|, in the interests block (weight 0.5).
    expect([...r.neighbors.subarray(r.offsets[0], r.offsets[1])]).toEqual([1, 2]);
    expect(r.scores[0]).toBeCloseTo(0.5, 14);
    expect(r.scores[1]).toBeCloseTo((0.5 * Math.LN2) / Math.hypot(Math.LN2, Math.log(2.5)), 14);
    expect([...r.neighbors.subarray(r.offsets[2], r.offsets[3])]).toEqual([0, 1]);
  });

  it("rejects bad values naming the option", async () => {
    await expect(fit(data, "similarity", { itemWeighting: "tfidf" })).rejects.toThrow(/itemWeighting must be one of none, idf, bm25/);
    await expect(fit(data, "similarity", { normalize: "rows" })).rejects.toThrow(/normalize must be one of blocks, whole/);
    await expect(fit(data, "similarity", { shrinkage: -1 })).rejects.toThrow(/shrinkage must be/);
    await expect(fit(data, "similarity", { bm25B: 1.5 })).rejects.toThrow(/bm25B must be a number in \[0, 1\]/);
    await expect(fit(data, "similarity", { idfExponent: 0 })).rejects.toThrow(/idfExponent must be/);
  });
});
