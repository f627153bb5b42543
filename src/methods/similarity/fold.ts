/**
 * A profile as one more row of the similarity matrix (fold-in), and the explanation of a score.
 *
 * Fold-in builds the profile's three block vectors exactly as `buildInteractions` builds a user's
 * (interests 1; a course ln(1 + minutes) and each of its tags ln(1 + Σ minutes of the profile's
 * courses with that tag); an assessment 1 + score/100), L2-normalizes each block over all of its
 * entries and scales it by √w_b, with the same operations in the same order as `normalizeRows` and
 * `scale`. So the row is what the matrix would hold for this person had they been in the input
 * (their own items included in the norms; items nobody else has simply meet no one), and for an
 * existing user's own profile it is that user's row, bit for bit.
 */
import type { Dataset } from "../../dataset.ts";
import { BLOCK_NAMES, type BlockName } from "../../matrix/interactions.ts";
import { noUnknownItems, type Profile, type UnknownItems } from "../../profile.ts";
import type { ExplainedItem, Explanation } from "../method.ts";
import type { SparseRow } from "./kernel.ts";
import type { UserItemMatrix } from "./matrix.ts";
import { idfFactor, weightEntry } from "./weighting.ts";

/** Lookups a model builds once for fold-in: vocabulary ids, matrix columns, course tags. */
export interface FoldIndex {
  interests: Map<string, number>;
  courses: Map<string, number>;
  assessments: Map<string, number>;
  /** Matrix column of an item key, where the matrix has one. */
  column: Map<string, number>;
  /** Tags of course c: `tagIds[tagStart[c] .. tagStart[c+1])`, distinct, increasing. */
  tagStart: Int32Array;
  tagIds: Int32Array;
  /** First matrix column of each block (its items' IDF factors are indexed from there). */
  blockStart: Record<BlockName, number>;
}

export function foldIndex(dataset: Dataset, matrix: UserItemMatrix): FoldIndex {
  const ids = (vocab: readonly string[]) => new Map(vocab.map((v, i) => [v, i] as const));
  const cr = dataset.courseTagRows;
  const lists: Set<number>[] = dataset.courses.map(() => new Set());
  for (let r = 0; r < cr.course.length; r++) lists[cr.course[r]].add(cr.tag[r]);
  const tagStart = new Int32Array(dataset.courses.length + 1);
  const tags: number[] = [];
  lists.forEach((set, c) => {
    tags.push(...[...set].sort((a, b) => a - b));
    tagStart[c + 1] = tags.length;
  });
  return {
    interests: ids(dataset.interests),
    courses: ids(dataset.courses),
    assessments: ids(dataset.assessments),
    column: new Map(matrix.columns.map((key, col) => [key, col] as const)),
    tagStart,
    tagIds: Int32Array.from(tags),
    blockStart: blockStarts(matrix),
  };
}

function blockStarts(matrix: UserItemMatrix): Record<BlockName, number> {
  const start = { interests: -1, courses: -1, assessments: -1 };
  for (let c = matrix.columnBlocks.length - 1; c >= 0; c--) start[BLOCK_NAMES[matrix.columnBlocks[c]]] = c;
  return start;
}

/** One block's entries: matrix column (-1: none) and raw value, in the block's column order. */
type Entries = { col: number; value: number }[];

/** The profile's row of the weighted matrix, and the items it does not know. */
export function foldInRow(dataset: Dataset, matrix: UserItemMatrix, index: FoldIndex, profile: Profile): { row: SparseRow; unknown: UnknownItems } {
  const unknown = noUnknownItems();
  const col = (key: string) => index.column.get(key) ?? -1;

  const interests: Entries = [];
  const interestIds: number[] = [];
  for (const tag of profile.interests ?? []) {
    const id = index.interests.get(tag);
    if (id === undefined) unknown.interests.push(tag);
    else interestIds.push(id);
  }
  // Vocabulary order is column order; ids are distinct (parseProfile merged duplicates).
  for (const id of [...new Set(interestIds)].sort((a, b) => a - b)) interests.push({ col: col(`interest:${dataset.interests[id]}`), value: 1 });

  const courseSeconds = new Map<number, number>();
  for (const [course, seconds] of Object.entries(profile.courses ?? {})) {
    const id = index.courses.get(course);
    if (id === undefined) unknown.courses.push(course);
    else courseSeconds.set(id, (courseSeconds.get(id) ?? 0) + seconds);
  }
  const courses: Entries = [];
  const minutesByTag = new Map<number, number>();
  for (const c of [...courseSeconds.keys()].sort((a, b) => a - b)) {
    const minutes = courseSeconds.get(c)! / 60;
    courses.push({ col: col(`course:${dataset.courses[c]}`), value: Math.log1p(minutes) });
    // Σ minutes per tag in course order, from 0, as buildInteractions sums them.
    for (let q = index.tagStart[c]; q < index.tagStart[c + 1]; q++) {
      const t = index.tagIds[q];
      minutesByTag.set(t, (minutesByTag.get(t) ?? 0) + minutes);
    }
  }
  for (const t of [...minutesByTag.keys()].sort((a, b) => a - b)) courses.push({ col: col(`tag:${dataset.tags[t]}`), value: Math.log1p(minutesByTag.get(t)!) });

  const assessments: Entries = [];
  const scores = new Map<number, number>();
  for (const [tag, score] of Object.entries(profile.assessments ?? {})) {
    const id = index.assessments.get(tag);
    if (id === undefined) unknown.assessments.push(tag);
    else scores.set(id, Math.max(scores.get(id) ?? -Infinity, score));
  }
  for (const a of [...scores.keys()].sort((x, y) => x - y)) assessments.push({ col: col(`assessment:${dataset.assessments[a]}`), value: 1 + scores.get(a)! / 100 });

  const indices: number[] = [];
  const data: number[] = [];
  const blocks: Record<BlockName, Entries> = { interests, courses, assessments };
  const scheme = matrix.scheme;
  // `whole`: the weighted, √w-scaled entries of every block, normalized together at the end.
  const whole: Entries = [];
  let wholeSq = 0;
  for (const name of BLOCK_NAMES) {
    const w = matrix.weights[name];
    if (!(w > 0)) continue;
    const weighted = weighBlock(matrix, index, name, blocks[name]);
    // Entries with a column come in column order; those without (items no user of the data
    // has, e.g. a course nobody viewed) still count in the norm, as they would in the matrix.
    const entries = weighted.filter((e) => e.col >= 0).sort((a, b) => a.col - b.col);
    const extra = weighted.filter((e) => e.col < 0);
    const factor = Math.sqrt(w);
    if (scheme.normalize === "whole") {
      // As `scale` then `normalizeRows` over the stacked row: zeros were dropped before scaling.
      for (const e of entries) if (e.value !== 0) whole.push({ col: e.col, value: e.value * factor });
      for (const e of extra) if (e.value !== 0) wholeSq += (e.value * factor) ** 2;
      continue;
    }
    let sq = 0;
    for (const e of entries) sq += e.value * e.value;
    for (const e of extra) sq += e.value * e.value;
    if (sq === 0) continue;
    const norm = Math.sqrt(sq);
    for (const e of entries) {
      if (e.value === 0) continue;
      indices.push(e.col);
      data.push((e.value / norm) * factor);
    }
  }
  if (scheme.normalize === "whole") {
    let sq = 0;
    for (const e of whole) sq += e.value * e.value;
    sq += wholeSq;
    if (sq > 0) {
      const norm = Math.sqrt(sq);
      for (const e of whole) {
        indices.push(e.col);
        data.push(e.value / norm);
      }
    }
  }
  return { row: { indices: Int32Array.from(indices), data: Float64Array.from(data) }, unknown };
}

/**
 * A block's entries weighted as the matrix build weighs them (`weighting.ts`): the same
 * {@link weightEntry} on the same IDF factors; L counts the profile's non-zero entries, items
 * without a column included (they count as df = 1).
 */
function weighBlock(matrix: UserItemMatrix, index: FoldIndex, name: BlockName, entries: Entries): Entries {
  const scheme = matrix.scheme;
  const bw = matrix.weighting[name];
  if (scheme.itemWeighting === "none" || !bw) return entries;
  let length = 0;
  for (const e of entries) if (e.value !== 0) length++;
  const start = index.blockStart[name];
  const unseen = idfFactor(scheme, matrix.rows, 1);
  return entries.map((e) => ({ col: e.col, value: e.value === 0 ? 0 : weightEntry(scheme, e.value, e.col >= 0 ? bw.idf[e.col - start] : unseen, length, bw.avgLength) }));
}

/**
 * The similarity of `a` and `b` item by item: each shared column contributes x_a·x_b; a block's
 * contribution is the sum over its shared columns, and the score the sum over all of them in
 * column order (the kernel's order: bit-identical to the ranked score).
 */
export function explainRows(matrix: UserItemMatrix, a: SparseRow, b: SparseRow, limit: number): Explanation {
  const blocks: Record<BlockName, number> = { interests: 0, courses: 0, assessments: 0 };
  const items: ExplainedItem[] = [];
  let score = 0;
  let counted = 0;
  let i = 0;
  let j = 0;
  while (i < a.indices.length && j < b.indices.length) {
    const ca = a.indices[i];
    const cb = b.indices[j];
    if (ca < cb) i++;
    else if (cb < ca) j++;
    else {
      const contribution = a.data[i] * b.data[j];
      score += contribution;
      if (matrix.counter) counted += matrix.counter.adds[ca];
      items.push({ item: matrix.columns[ca], block: BLOCK_NAMES[matrix.columnBlocks[ca]], contribution, shared: true });
      i++;
      j++;
    }
  }
  // Shrinkage scales the whole score, so every item's share by the same factor (the kernel's
  // `shrink`, on the same sum of counts in the same order).
  const lambda = matrix.scheme.shrinkage;
  if (matrix.counter) {
    const n = counted >>> matrix.counter.shift;
    const factor = n / (n + lambda);
    score *= factor;
    for (const it of items) it.contribution *= factor;
  }
  for (const it of items) blocks[it.block] += it.contribution;
  items.sort((x, y) => y.contribution - x.contribution || (x.item < y.item ? -1 : 1));
  return {
    score,
    blocks,
    residual: 0,
    items: items.slice(0, limit),
    meaning: meaning(matrix),
  };
}

function meaning(matrix: UserItemMatrix): string {
  const s = matrix.scheme;
  const weighted = s.itemWeighting === "none" ? "" : `${s.itemWeighting}-weighted, `;
  const norm = s.normalize === "blocks" ? "each block's vector L2-normalized and scaled by √weight" : "each block scaled by √weight, the whole vector L2-normalized";
  const counted = s.shrinkageCount === "items" ? "interests, courses and assessments both have (course tags not counted)" : "items both have, course tags included";
  const shrink = s.shrinkage > 0 ? `, times n/(n + ${s.shrinkage}) for the n ${counted} (each item's share scaled alike)` : "";
  return `score = Σ over the items both have of x_a·x_b (${weighted}${norm})${shrink}; a block's share is the sum over its shared items`;
}
