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
  };
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
  for (const name of BLOCK_NAMES) {
    const w = matrix.weights[name];
    if (!(w > 0)) continue;
    // Entries with a column come in column order; those without (items no user of the data
    // has, e.g. a course nobody viewed) still count in the norm, as they would in the matrix.
    const entries = blocks[name].filter((e) => e.col >= 0).sort((a, b) => a.col - b.col);
    const extra = blocks[name].filter((e) => e.col < 0);
    let sq = 0;
    for (const e of entries) sq += e.value * e.value;
    for (const e of extra) sq += e.value * e.value;
    if (sq === 0) continue;
    const norm = Math.sqrt(sq);
    const factor = Math.sqrt(w);
    for (const e of entries) {
      if (e.value === 0) continue;
      indices.push(e.col);
      data.push((e.value / norm) * factor);
    }
  }
  return { row: { indices: Int32Array.from(indices), data: Float64Array.from(data) }, unknown };
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
      const block = BLOCK_NAMES[matrix.columnBlocks[ca]];
      blocks[block] += contribution;
      items.push({ item: matrix.columns[ca], block, contribution, shared: true });
      i++;
      j++;
    }
  }
  items.sort((x, y) => y.contribution - x.contribution || (x.item < y.item ? -1 : 1));
  return {
    score,
    blocks,
    residual: 0,
    items: items.slice(0, limit),
    meaning: "score = Σ over the items both have of x_a·x_b (each block's vector L2-normalized and scaled by √weight); a block's share is the sum over its shared items",
  };
}
