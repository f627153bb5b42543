import { describe, expect, it } from "bun:test";
import { finishSelections, offerRow, rowSelections, TopN } from "../src/rank/heap.ts";

/** A tiny seeded PRNG so failures are reproducible. */
function rng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe("TopN", () => {
  it("keeps the n best by score, ties by lower id, whatever the offer order", () => {
    const random = rng(7);
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + Math.floor(random() * 6);
      const m = Math.floor(random() * 40);
      const all = Array.from({ length: m }, (_, id) => ({ id, score: Math.floor(random() * 5) / 4 - 0.25 }));
      const top = new TopN(n);
      for (const { id, score } of [...all].sort(() => random() - 0.5)) top.offer(id, score);
      const ids = new Int32Array(n);
      const scores = new Float64Array(n);
      const count = top.drain(ids, scores, 0);
      const expected = all.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, n);
      expect(count).toBe(expected.length);
      expect([...ids.subarray(0, count)]).toEqual(expected.map((e) => e.id));
      expect([...scores.subarray(0, count)]).toEqual(expected.map((e) => e.score));
    }
  });

  it("is empty and reusable after drain", () => {
    const top = new TopN(2);
    top.offer(1, 0.5);
    top.drain(new Int32Array(2), new Float64Array(2), 0);
    expect(top.size).toBe(0);
    top.offer(4, 0.1);
    const ids = new Int32Array(3);
    expect(top.drain(ids, new Float64Array(3), 1)).toBe(1);
    expect(ids[1]).toBe(4);
  });

  it("rejects a non-positive capacity", () => {
    expect(() => new TopN(0)).toThrow(/positive integer/);
  });
});

describe("per-row selections (shared by both methods' top-n)", () => {
  it("keep what TopN keeps, in any offer order, split across parts or not", () => {
    const random = rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const rows = 1 + Math.floor(random() * 4);
      const n = 1 + Math.floor(random() * 5);
      const whole = rowSelections(rows, n);
      const parts = [rowSelections(rows, n), rowSelections(rows, n, true)];
      const reference = Array.from({ length: rows }, () => new TopN(n));
      for (let k = Math.floor(random() * 60); k > 0; k--) {
        const r = Math.floor(random() * rows);
        const id = Math.floor(random() * 30);
        const score = (Math.floor(random() * 5) - 1) / 4; // coarse, some negative: many exact ties
        offerRow(whole, r, id, score);
        offerRow(parts[Math.floor(random() * 2)], r, id, score);
        reference[r].offer(id, score);
      }
      const a = finishSelections([whole], rows);
      const b = finishSelections(parts, rows);
      for (let r = 0; r < rows; r++) {
        const ids = new Int32Array(n);
        const scores = new Float64Array(n);
        const count = reference[r].drain(ids, scores, 0);
        for (const out of [a, b]) {
          expect(out.offsets[r + 1] - out.offsets[r]).toBe(count);
          expect([...out.neighbors.subarray(out.offsets[r], out.offsets[r + 1])]).toEqual([...ids.subarray(0, count)]);
          expect([...out.scores.subarray(out.offsets[r], out.offsets[r + 1])]).toEqual([...scores.subarray(0, count)]);
        }
      }
    }
  });
});
