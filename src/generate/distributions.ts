/** Sampling from weights, histograms and quantile tables in O(1) per draw. */
import type { StreamRng as Rng } from "../random.ts";

/** Walker's alias table over non-negative weights: O(n) to build, O(1) per draw. */
export class AliasTable {
  readonly size: number;
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.size = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    if (n === 0 || !(total > 0)) throw new Error("AliasTable needs at least one positive weight");
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      (scaled[i] < 1 ? small : large).push(i);
    }
    while (small.length && large.length) {
      const s = small.pop()!;
      const l = large[large.length - 1];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small.push(large.pop()!);
    }
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }

  /** An index drawn with probability proportional to its weight. */
  draw(rng: Rng): number {
    const x = rng.float() * this.size;
    const i = Math.floor(x);
    return x - i < this.prob[i] ? i : this.alias[i];
  }
}

/** An empirical integer distribution given as "value:count value:count …". */
export class Histogram {
  readonly values: Int32Array;
  private readonly table: AliasTable;

  constructor(text: string) {
    const pairs = text.trim().split(/\s+/).map((p) => p.split(":").map(Number));
    this.values = Int32Array.from(pairs, (p) => p[0]);
    this.table = new AliasTable(pairs.map((p) => p[1]));
  }

  draw(rng: Rng): number {
    return this.values[this.table.draw(rng)];
  }
}

/**
 * Inverse-CDF sampling from equally spaced quantiles q[0..k] (q[0] = min, q[k] = max),
 * linear between knots (or log-linear when `log`, for positive heavy-tailed values).
 */
export function sampleQuantiles(q: readonly number[], rng: Rng, log = false): number {
  const x = rng.float() * (q.length - 1);
  const i = Math.floor(x);
  const f = x - i;
  const a = q[i];
  const b = q[Math.min(i + 1, q.length - 1)];
  if (log && a > 0 && b > 0) return Math.exp(Math.log(a) + f * (Math.log(b) - Math.log(a)));
  return a + f * (b - a);
}
