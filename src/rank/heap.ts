/**
 * The one bounded top-n heap of the project: keeps the n best (score, id) pairs, higher score
 * first, ties by lower id. Ids are user indices in canonical handle order, so "lower id" is the
 * documented tie-break. A min-heap keyed on the *worst* kept entry makes each offer O(1) when it
 * loses, which is the common case once the heap is full.
 *
 * {@link RowSelections} hold one such heap per row, in flat typed arrays that workers can share.
 * Both methods score each unordered pair {u, v} once and offer it to u's and v's selections; a
 * thread keeps its own set, and the sets are merged at the end ({@link finishSelections}).
 *
 * Row r's kept candidates are the binary min-heap `ids/scores[r·n, r·n + counts[r])`, its root the
 * worst kept entry (lowest score, then highest id): the order of {@link TopN}, score descending,
 * ties by lower id. `floor[r]` caches the root's score once the row holds n entries (-Infinity
 * before), so the common losing offer reads one number instead of three arrays.
 */
import { sharedArray } from "../parallel.ts";

export interface RowSelections {
  n: number;
  counts: Int32Array;
  ids: Int32Array;
  scores: Float64Array;
  floor: Float64Array;
}

/** Empty selections of `n` for `rows` rows; `shared` backs them with SharedArrayBuffers. */
export function rowSelections(rows: number, n: number, shared = false): RowSelections {
  const sel: RowSelections = shared
    ? { n, counts: sharedArray(Int32Array, rows), ids: sharedArray(Int32Array, rows * n), scores: sharedArray(Float64Array, rows * n), floor: sharedArray(Float64Array, rows) }
    : { n, counts: new Int32Array(rows), ids: new Int32Array(rows * n), scores: new Float64Array(rows * n), floor: new Float64Array(rows) };
  sel.floor.fill(-Infinity);
  return sel;
}

/** True if (s1, i1) ranks strictly below (s2, i2). */
function worse(s1: number, i1: number, s2: number, i2: number): boolean {
  return s1 < s2 || (s1 === s2 && i1 > i2);
}

/** Offers (id, score) to row `row`'s selection; kept only if it belongs among the row's best n. */
export function offerRow(sel: RowSelections, row: number, id: number, score: number): void {
  if (score < sel.floor[row]) return;
  const n = sel.n;
  const base = row * n;
  const hs = sel.scores;
  const hi = sel.ids;
  const count = sel.counts[row];
  if (count < n) {
    let i = count;
    sel.counts[row] = count + 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(score, id, hs[base + p], hi[base + p])) break;
      hs[base + i] = hs[base + p];
      hi[base + i] = hi[base + p];
      i = p;
    }
    hs[base + i] = score;
    hi[base + i] = id;
    if (count + 1 === n) sel.floor[row] = hs[base];
    return;
  }
  if (!worse(hs[base], hi[base], score, id)) return;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && worse(hs[base + r], hi[base + r], hs[base + l], hi[base + l]) ? r : l;
    if (!worse(hs[base + c], hi[base + c], score, id)) break;
    hs[base + i] = hs[base + c];
    hi[base + i] = hi[base + c];
    i = c;
  }
  hs[base + i] = score;
  hi[base + i] = id;
  sel.floor[row] = hs[base];
}

/**
 * One heap on its own: the selection of a single query (a user's top-n on demand, or the merge
 * of per-thread selections). The same arrays and the same {@link offerRow} as a row of
 * {@link RowSelections}.
 */
export class TopN {
  readonly capacity: number;
  private readonly sel: RowSelections;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`top-n capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.sel = rowSelections(1, capacity);
  }

  get size(): number {
    return this.sel.counts[0];
  }

  clear(): void {
    this.sel.counts[0] = 0;
    this.sel.floor[0] = -Infinity;
  }

  /** Offers a candidate; keeps it only if it belongs among the best `capacity`. */
  offer(id: number, score: number): void {
    offerRow(this.sel, 0, id, score);
  }

  /**
   * Writes the kept entries best-first into `ids`/`scores` at `offset`, returns how many, and
   * empties the selector for reuse.
   */
  drain(ids: Int32Array, scores: Float64Array, offset: number): number {
    const n = this.sel.counts[0];
    const hs = this.sel.scores;
    const hi = this.sel.ids;
    const order = Array.from({ length: n }, (_, k) => k);
    order.sort((a, b) => hs[b] - hs[a] || hi[a] - hi[b]);
    for (let k = 0; k < n; k++) {
      ids[offset + k] = hi[order[k]];
      scores[offset + k] = hs[order[k]];
    }
    this.clear();
    return n;
  }
}

/**
 * Merges per-thread selections into CSR top-n lists, best first (score desc, id asc): every
 * thread saw a disjoint set of pairs, so a row's top n is the top n of the union of its entries.
 */
export function finishSelections(parts: readonly RowSelections[], rows: number): { offsets: Int32Array; neighbors: Int32Array; scores: Float64Array } {
  const n = parts[0].n;
  const top = new TopN(n);
  const offsets = new Int32Array(rows + 1);
  const ids = new Int32Array(rows * n);
  const scores = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (const sel of parts) for (let i = 0; i < sel.counts[r]; i++) top.offer(sel.ids[r * n + i], sel.scores[r * n + i]);
    offsets[r + 1] = offsets[r] + top.drain(ids, scores, offsets[r]);
  }
  return { offsets, neighbors: ids.slice(0, offsets[rows]), scores: scores.slice(0, offsets[rows]) };
}

/** How many rows of a CSR top-n result have at least one neighbour. */
export function usersWithNeighbors(r: { offsets: Int32Array }): number {
  let count = 0;
  for (let u = 0; u + 1 < r.offsets.length; u++) if (r.offsets[u + 1] > r.offsets[u]) count++;
  return count;
}
