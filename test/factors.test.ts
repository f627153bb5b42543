import { describe, expect, it } from "bun:test";
import { Rng } from "../src/random.ts";
import { factorTopN, normalizeRows } from "../src/rank/factors.ts";

/** Brute force: all pairs, naive dot products of the normalised rows, full sort. */
function bruteForce(m: Float64Array, rows: number, k: number, n: number, only?: number[]) {
  const unit = normalizeRows(m, rows, k);
  const zero = (r: number) => {
    for (let f = 0; f < k; f++) if (unit[r * k + f] !== 0) return false;
    return true;
  };
  const out: { ids: number[]; scores: number[] }[] = [];
  for (let a = 0; a < rows; a++) {
    if (only && !only.includes(a)) {
      out.push({ ids: [], scores: [] });
      continue;
    }
    const cands: [number, number][] = [];
    if (!zero(a))
      for (let b = 0; b < rows; b++) {
        if (b === a || zero(b)) continue;
        let s = 0;
        for (let f = 0; f < k; f++) s += unit[a * k + f] * unit[b * k + f];
        cands.push([b, s]);
      }
    cands.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    const top = cands.slice(0, n);
    out.push({ ids: top.map((c) => c[0]), scores: top.map((c) => c[1]) });
  }
  return out;
}

/**
 * Random factors with planted ties: duplicated rows, scaled copies (same direction, so equal
 * cosines), all-zero rows, and coarse integer entries that make equal dot products common.
 */
function tricky(rows: number, k: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const m = new Float64Array(rows * k);
  for (let i = 0; i < m.length; i++) m[i] = rng.int(5) - 2;
  for (let r = 0; r < rows; r++) {
    const kind = rng.int(10);
    if (kind === 0) m.fill(0, r * k, r * k + k);
    else if (kind === 1 && r > 0) {
      const src = rng.int(r);
      const scale = 1 + rng.int(3);
      for (let f = 0; f < k; f++) m[r * k + f] = scale * m[src * k + f];
    }
  }
  return m;
}

function rowsOf(r: { offsets: Int32Array; neighbors: Int32Array; scores: Float64Array }, rows: number) {
  return Array.from({ length: rows }, (_, u) => ({
    ids: Array.from(r.neighbors.subarray(r.offsets[u], r.offsets[u + 1])),
    scores: Array.from(r.scores.subarray(r.offsets[u], r.offsets[u + 1])),
  }));
}

describe("factor top-n", () => {
  for (const [rows, k, n] of [
    [1, 4, 3],
    [7, 3, 10],
    [150, 5, 7],
    [700, 8, 10],
  ] as const) {
    it(`equals brute force on ${rows} rows × ${k} factors, top ${n} (ties, zero rows, self excluded)`, async () => {
      const m = tricky(rows, k, rows);
      const expected = bruteForce(m, rows, k, n);
      const got = rowsOf(await factorTopN(m, rows, k, { topN: n, threads: 1 }), rows);
      expect(got).toEqual(expected);
    }, 60_000);
  }

  it("gives identical results on one thread and on worker threads", async () => {
    const rows = 2500;
    const k = 16;
    const m = tricky(rows, k, 77);
    const one = await factorTopN(m, rows, k, { topN: 10, threads: 1 });
    const two = await factorTopN(m, rows, k, { topN: 10, threads: 2 });
    expect(two.offsets).toEqual(one.offsets);
    expect(two.neighbors).toEqual(one.neighbors);
    expect(two.scores).toEqual(one.scores);
    // And the parallel result is itself exact.
    const picked = [0, 1, 2, 999, 1500, 2499];
    const sample = bruteForce(m, rows, k, 10, picked);
    const got = rowsOf(two, rows);
    for (const u of picked) expect(got[u]).toEqual(sample[u]);
  }, 60_000);

  it("keeps negative cosines when they are the best there is, and gives zero rows nothing", async () => {
    // Row 0 points one way, rows 1–2 the opposite way, row 3 is zero.
    const m = Float64Array.from([1, 0, -1, 0, -2, 0.5, 0, 0]);
    const r = rowsOf(await factorTopN(m, 4, 2, { topN: 5, threads: 1 }), 4);
    expect(r[0].ids).toEqual([2, 1]);
    expect(r[0].scores[1]).toBeCloseTo(-1, 12);
    expect(r[0].scores[0]).toBeLessThan(0);
    expect(r[3]).toEqual({ ids: [], scores: [] });
    expect(r[1].ids).toEqual([2, 0]);
  });

  it("reports progress and rejects a matrix of the wrong size", async () => {
    const seen: number[] = [];
    await factorTopN(new Float64Array(600 * 2).fill(1), 600, 2, { threads: 1, onProgress: (_s, done) => seen.push(done) });
    expect(seen.at(-1)).toBe(600);
    expect(factorTopN(new Float64Array(5), 3, 2)).rejects.toThrow(/expected 3 × 2/);
  });
});
