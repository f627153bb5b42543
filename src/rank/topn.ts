/**
 * Bounded selection of the n best (score, id) pairs: higher score first, ties by lower id.
 * Ids are user indices in canonical handle order, so "lower id" is the documented tie-break.
 * A min-heap keyed on the *worst* kept entry makes each offer O(1) when it loses, which is the
 * common case once the heap is full.
 */
export class TopN {
  readonly capacity: number;
  private readonly heapScores: Float64Array;
  private readonly heapIds: Int32Array;
  private count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`top-n capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.heapScores = new Float64Array(capacity);
    this.heapIds = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.count = 0;
  }

  /** Offers a candidate; keeps it only if it belongs among the best `capacity`. */
  offer(id: number, score: number): void {
    const hs = this.heapScores;
    const hi = this.heapIds;
    if (this.count < this.capacity) {
      let i = this.count++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(score, id, hs[p], hi[p])) break;
        hs[i] = hs[p];
        hi[i] = hi[p];
        i = p;
      }
      hs[i] = score;
      hi[i] = id;
      return;
    }
    if (!worse(hs[0], hi[0], score, id)) return;
    // Replace the root (the worst kept entry) and sift down.
    const n = this.count;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && worse(hs[r], hi[r], hs[l], hi[l]) ? r : l;
      if (!worse(hs[c], hi[c], score, id)) break;
      hs[i] = hs[c];
      hi[i] = hi[c];
      i = c;
    }
    hs[i] = score;
    hi[i] = id;
  }

  /**
   * Writes the kept entries best-first into `ids`/`scores` at `offset`, returns how many, and
   * empties the selector for reuse.
   */
  drain(ids: Int32Array, scores: Float64Array, offset: number): number {
    const n = this.count;
    const order = Array.from({ length: n }, (_, k) => k);
    const hs = this.heapScores;
    const hi = this.heapIds;
    order.sort((a, b) => hs[b] - hs[a] || hi[a] - hi[b]);
    for (let k = 0; k < n; k++) {
      ids[offset + k] = hi[order[k]];
      scores[offset + k] = hs[order[k]];
    }
    this.count = 0;
    return n;
  }
}

/** True if (s1, i1) ranks strictly below (s2, i2). */
function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 > i2);
}
