/**
 * A shard's slice of the ranking (`RankAllOptions.rows`): each user of [start, end) gets exactly
 * the neighbours and score bits of the whole ranking, on one thread and on workers, for every
 * registered method (and similarity's low-rank path); the other users get none.
 */
import { describe, expect, it } from "bun:test";
import { toDataset } from "../src/dataset.ts";
import { fit } from "../src/fit.ts";
import type { Model } from "../src/methods/method.ts";
import { methodNames } from "../src/methods/registry.ts";
import type { Rankings } from "../src/types.ts";
import { syntheticDataset } from "./fixtures/synthetic-dataset.ts";

const dataset = toDataset(syntheticDataset({ users: 2600, seed: 5 }));

function expectSlice(full: Rankings, part: Rankings, start: number, end: number) {
  const rows = full.users.length;
  expect(part.offsets.length).toBe(rows + 1);
  for (let u = 0; u < rows; u++) {
    const got = [...part.neighbors.subarray(part.offsets[u], part.offsets[u + 1])];
    const gotScores = [...part.scores.subarray(part.offsets[u], part.offsets[u + 1])];
    if (u < start || u >= end) {
      expect(got).toEqual([]);
      continue;
    }
    expect(got).toEqual([...full.neighbors.subarray(full.offsets[u], full.offsets[u + 1])]);
    // Bit for bit: toEqual on numbers would let -0 and 0 pass; Object.is does not.
    const want = [...full.scores.subarray(full.offsets[u], full.offsets[u + 1])];
    expect(gotScores.every((s, i) => Object.is(s, want[i]))).toBe(true);
  }
}

/** Every registered method, small training options, and similarity's `--rank` path (the SVD's factor ranking). */
const VARIANTS: [string, string, Record<string, unknown>][] = [
  ["similarity", "similarity", {}],
  ["similarity --rank 8", "similarity", { rank: 8 }],
  ["factorization", "factorization", { epochs: 2 }],
  ["als", "als", { iterations: 2 }],
];

it("the variants cover every registered method", () => {
  expect([...new Set(VARIANTS.map(([, m]) => m))].sort()).toEqual(methodNames().sort());
});

describe.each(VARIANTS)("%s: a slice ranks as the whole", (_name, method, options) => {
  // Fitted once for both tests: a fit per test made the second time out on a busy machine.
  let fitted: Promise<Model> | undefined;
  const model = () => (fitted ??= fit(dataset, method, options));

  it("on one thread and on two, for uneven slices, the first and the last", async () => {
    const m = await model();
    const full = await m.rankAll({ topN: 7, threads: 1 });
    const rows = full.users.length;
    for (const [start, end] of [
      [0, 331],
      [331, 1777],
      [1777, rows],
      [1000, 1000],
    ]) {
      for (const threads of [1, 2]) expectSlice(full, await m.rankAll({ topN: 7, threads, rows: { start, end } }), start, end);
    }
  }, 120_000);

  it("refuses a range outside the rows", async () => {
    const m = await model();
    await expect(m.rankAll({ threads: 1, rows: { start: 10, end: 5 } })).rejects.toThrow(/row range/);
    await expect(m.rankAll({ threads: 1, rows: { start: 0, end: 1e7 } })).rejects.toThrow(/row range/);
  }, 120_000);
});
