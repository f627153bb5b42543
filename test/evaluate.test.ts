import { describe, expect, it } from "bun:test";
import { Dataset as IdDataset, type InputColumns as Dataset } from "../src/dataset.ts";
import { grouped } from "./fixtures/grouped.ts";
import { evaluate, indexItems, recommendFromNeighbors, recommendPopular, scoreRecommendations, splitHoldout } from "../src/evaluate.ts";
import { Rng } from "../src/random.ts";
import type { Rankings } from "../src/types.ts";

const interestKey = (tag: string) => `interest:${tag}`;
const courseKey = (id: string) => `course:${id}`;

/** A small dataset with taste: users of group g follow tags and watch courses of g, plus noise. */

function itemsByUser(ds: Dataset): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  const add = (u: string, k: string) => (m.get(u) ?? m.set(u, new Set()).get(u)!).add(k);
  ds.user_interests.user_handle.forEach((u, r) => add(u, interestKey(ds.user_interests.interest_tag[r])));
  ds.user_course_views.user_handle.forEach((u, r) => add(u, courseKey(ds.user_course_views.course_id[r])));
  return m;
}

describe("splitHoldout", () => {
  const ds = grouped(300, 1);

  it("hides round(20%) of each user's distinct interests and courses, never all of them", () => {
    const split = splitHoldout(ds, { seed: 5 });
    const before = itemsByUser(ds);
    let scored = 0;
    for (let u = 0; u < split.users.length; u++) {
      const n = before.get(split.users[u])?.size ?? 0;
      const h = split.hiddenOffsets[u + 1] - split.hiddenOffsets[u];
      expect(h).toBe(Math.min(Math.max(n - 1, 0), Math.round(0.2 * n)));
      if (h > 0) scored++;
    }
    expect(split.scoredUsers).toBe(scored);
    expect(scored).toBeGreaterThan(150);
  });

  it("leaves no hidden item in the training data, and keeps everything else", () => {
    const split = splitHoldout(ds, { seed: 5 });
    const before = itemsByUser(ds);
    const after = itemsByUser(split.train.columns());
    for (let u = 0; u < split.users.length; u++) {
      const user = split.users[u];
      const hidden = new Set(Array.from(split.hidden.subarray(split.hiddenOffsets[u], split.hiddenOffsets[u + 1]), (id) => split.space.items[id]));
      const kept = after.get(user) ?? new Set();
      for (const key of hidden) expect(kept.has(key)).toBe(false);
      for (const key of before.get(user) ?? []) expect(kept.has(key) || hidden.has(key)).toBe(true);
      if ((before.get(user)?.size ?? 0) > 0) expect(kept.size).toBeGreaterThan(0);
    }
    expect(split.train.assessmentRows).toEqual(IdDataset.fromColumns(ds).assessmentRows);
    expect(split.train.users).toEqual(IdDataset.fromColumns(ds).users);
    expect(split.train.viewRows.seconds.length).toBe(split.train.viewRows.user.length);
  });

  it("is seeded: the same seed gives the same split, another seed another", () => {
    const a = splitHoldout(ds, { seed: 5 });
    const b = splitHoldout(ds, { seed: 5 });
    const c = splitHoldout(ds, { seed: 6 });
    expect(b.hidden).toEqual(a.hidden);
    expect(b.train).toEqual(a.train);
    expect(c.hidden).not.toEqual(a.hidden);
  });

  it("rejects a fraction outside (0, 1)", () => {
    expect(() => splitHoldout(ds, { fraction: 1 })).toThrow(/fraction/);
    expect(() => splitHoldout(ds, { fraction: 0 })).toThrow(/fraction/);
  });
});

describe("neighbour votes and scores", () => {
  // Users a, b, c, d with hand-made items; a's neighbours are b (0.9) and c (0.5); d is a's
  // negative neighbour, whose vote must not count.
  const ds: Dataset = {
    user_interests: { user_handle: ["1", "2", "2", "3", "3", "4"], interest_tag: ["x", "x", "y", "y", "z", "w"] },
    user_assessment_scores: { user_handle: [], assessment_tag: [], user_assessment_score: new Float64Array(0) },
    user_course_views: { user_handle: ["2", "3"], course_id: ["c1", "c1"], level: ["", ""], view_time_seconds: Float64Array.from([60, 60]) },
    course_tags: { course_id: [], course_tags: [] },
  };
  const users = ["1", "2", "3", "4"];
  const rankings: Rankings = {
    users,
    offsets: Int32Array.from([0, 3, 3, 3, 3]),
    neighbors: Int32Array.from([1, 2, 3]),
    scores: Float64Array.from([0.9, 0.5, -0.2]),
  };

  it("ranks items the user lacks by summed neighbour similarity, ignoring negative similarities", () => {
    const index = indexItems(IdDataset.fromColumns(ds));
    const recs = recommendFromNeighbors(rankings, index, { neighbors: 20, k: 10 });
    const names = Array.from(recs.ids.subarray(recs.offsets[0], recs.offsets[1]), (i) => index.items[i]);
    // c1: 0.9 + 0.5; y: 0.9 + 0.5 (tie: both have 2 users; then by name); z: 0.5. Never x (own), never w (d).
    expect(names).toEqual(["course:c1", "interest:y", "interest:z"]);
    const two = recommendFromNeighbors(rankings, index, { neighbors: 1, k: 10 });
    expect(Array.from(two.ids.subarray(two.offsets[0], two.offsets[1]), (i) => index.items[i])).toEqual(["course:c1", "interest:y"]);
  });

  it("computes recall@k and NDCG@k by hand", () => {
    const index = indexItems(IdDataset.fromColumns(ds));
    const recs = recommendFromNeighbors(rankings, index, { k: 2 });
    // User 1's hidden items: z (not in its top 2) and y (rank 2): recall 1/2, NDCG (1/log2 3) / (1 + 1/log2 3).
    const split = { hiddenOffsets: Int32Array.from([0, 2, 2, 2, 2]), hidden: Int32Array.from(["interest:y", "interest:z"], (k) => index.items.indexOf(k)) };
    const s = scoreRecommendations(recs, split);
    expect(s.users).toBe(1);
    expect(s.recall).toBeCloseTo(0.5, 12);
    const g = 1 / Math.log2(3);
    expect(s.ndcg).toBeCloseTo(g / (1 + g), 12);
  });

  it("recommends the most popular items a user lacks as the baseline", () => {
    const index = indexItems(IdDataset.fromColumns(ds));
    const recs = recommendPopular(index, users.length, 2);
    const of = (u: number) => Array.from(recs.ids.subarray(recs.offsets[u], recs.offsets[u + 1]), (i) => index.items[i]);
    // Popularity: x 2, y 2, c1 2, z 1, w 1; ties by name: course:c1, interest:x, interest:y.
    expect(of(0)).toEqual(["course:c1", "interest:y"]);
    expect(of(3)).toEqual(["course:c1", "interest:x"]);
  });
});

describe("evaluate", () => {
  it("scores both methods and the baseline; methods that find alike users beat popularity", async () => {
    const ds = grouped(600, 3);
    const r = await evaluate(ds, { methods: ["similarity", "factorization"], seed: 2, threads: 1 });
    // The factorization machine is scored both ways: neighbour votes and its own item scores.
    expect(r.results.map((x) => x.method)).toEqual(["similarity", "factorization", "factorization (model)", "most-popular"]);
    expect(r.scoredUsers).toBeGreaterThan(300);
    const [sim, fm, fmModel, pop] = r.results;
    for (const x of r.results) {
      expect(x.users).toBe(r.scoredUsers);
      expect(x.recall).toBeGreaterThanOrEqual(0);
      expect(x.recall).toBeLessThanOrEqual(1);
      expect(x.coverage).toBeGreaterThan(0);
      expect(x.coverage).toBeLessThanOrEqual(1);
    }
    expect(sim.recall).toBeGreaterThan(pop.recall);
    expect(fm.recall).toBeGreaterThan(pop.recall);
    expect(fmModel.recall).toBeGreaterThan(0);
    // Popularity recommends the same few items to everyone: the least coverage.
    expect(pop.coverage).toBeLessThan(sim.coverage);
    // Deterministic for a seed.
    const again = await evaluate(ds, { methods: ["factorization"], seed: 2, threads: 1 });
    expect(again.results[0].recall).toBe(fm.recall);
  }, 60_000);
});
