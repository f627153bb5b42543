/**
 * The per-user item vectors of the three interaction blocks, built from a {@link Dataset}. Values
 * here are raw (before the per-block L2 normalization and weighting that similarity applies), so
 * the same blocks can feed other methods.
 *
 * Block definitions (the similarity contract, see README):
 * - interests: 1 for each distinct interest tag of the user;
 * - courses: for each course c the user viewed, item `course:c` with value ln(1 + m_c), where
 *   m_c = the user's total view_time_seconds on c / 60; and for each tag t of those courses (from
 *   course_tags), item `tag:t` with value ln(1 + m_t), m_t = Σ m_c over the user's courses tagged t.
 *   A course viewed for 0 seconds in total has value ln(1) = 0 and so contributes nothing (its
 *   entry is kept here as an explicit 0, and dropped by normalization);
 * - assessments: for each assessment tag, 1 + (the user's best score on it) / 100.
 *
 * Rows are the dataset's users (canonical handle order, so row order is tie-break order). Each
 * block's columns are the dataset's items that occur in it, in the dataset's (sorted) order: the
 * interests and assessment tags users have, the courses they viewed and those courses' tags.
 */
import { compactIds, usedIds, type Dataset } from "../dataset.ts";
import { type CSR, fromCoordinates } from "./csr.ts";

export type BlockName = "interests" | "courses" | "assessments";

/** The blocks in their fixed order (the column order of the concatenated similarity matrix). */
export const BLOCK_NAMES: readonly BlockName[] = ["interests", "courses", "assessments"] as const;

/** One block: its item keys (column order) and the users × items matrix of raw values. */
export interface InteractionBlock {
  items: string[];
  values: CSR;
}

export interface Interactions {
  /** The dataset's users, in canonical handle order (row order of every block). */
  users: readonly string[];
  blocks: Record<BlockName, InteractionBlock>;
}

/** Column ids of `ids` among the used ones, and the used keys in order. */
function columnsOf(ids: Int32Array, vocab: readonly string[]): { cols: Int32Array; keys: string[] } {
  const used = usedIds(ids, vocab.length);
  const { map } = compactIds(used);
  const keys: string[] = [];
  for (let i = 0; i < vocab.length; i++) if (used[i]) keys.push(vocab[i]);
  return { cols: Int32Array.from(ids, (id) => map[id]), keys };
}

/**
 * Builds the three raw interaction blocks. Item order within a block is the dataset's sorted
 * order (courses block: all `course:` items, then all `tag:` items), so results do not depend on
 * input row order.
 */
export function buildInteractions(dataset: Dataset): Interactions {
  const nUsers = dataset.users.length;

  // Interests: one coordinate per row; duplicates collapse to 1.
  const ir = dataset.interestRows;
  const interestCols = columnsOf(ir.interest, dataset.interests);
  const interests: InteractionBlock = {
    items: interestCols.keys,
    values: fromCoordinates(nUsers, interestCols.keys.length, ir.user, interestCols.cols, null, "one"),
  };

  // Assessments: best score per (user, tag).
  const ar = dataset.assessmentRows;
  const assessCols = columnsOf(ar.assessment, dataset.assessments);
  const best = fromCoordinates(nUsers, assessCols.keys.length, ar.user, assessCols.cols, ar.score, "max");
  for (let p = 0; p < best.data.length; p++) best.data[p] = 1 + best.data[p] / 100;
  const assessments: InteractionBlock = { items: assessCols.keys, values: best };

  // Course views: total seconds per (user, course).
  const vr = dataset.viewRows;
  const courseCols = columnsOf(vr.course, dataset.courses);
  const seconds = fromCoordinates(nUsers, courseCols.keys.length, vr.user, courseCols.cols, vr.seconds, "sum");

  return { users: dataset.users, blocks: { interests, courses: courseBlock(seconds, courseCols.keys, vr.course, dataset), assessments } };
}

/** The courses block from per-(user, course) total seconds and the course_tags table. */
function courseBlock(seconds: CSR, courseIds: string[], viewCourses: Int32Array, dataset: Dataset): InteractionBlock {
  const nUsers = seconds.rows;
  const nCourses = courseIds.length;
  const courseMap = compactIds(usedIds(viewCourses, dataset.courses.length)).map;

  // Tags of viewed courses only: tags of courses nobody viewed would be empty columns.
  const cr = dataset.courseTagRows;
  const tCourse: number[] = [];
  const tTag: number[] = [];
  for (let r = 0; r < cr.course.length; r++) {
    const c = courseMap[cr.course[r]];
    if (c < 0) continue;
    tCourse.push(c);
    tTag.push(cr.tag[r]);
  }
  const tagCols = columnsOf(Int32Array.from(tTag), dataset.tags);
  const nTags = tagCols.keys.length;
  const courseTags = fromCoordinates(nCourses, nTags, Int32Array.from(tCourse), tagCols.cols, null, "one");

  // Upper bound on entries: every course entry plus every (course, tag) pair it brings.
  let bound = 0;
  for (let p = 0; p < seconds.indices.length; p++) {
    const c = seconds.indices[p];
    bound += 1 + courseTags.indptr[c + 1] - courseTags.indptr[c];
  }
  const indptr = new Int32Array(nUsers + 1);
  const indices = new Int32Array(bound);
  const data = new Float64Array(bound);
  const minutesByTag = new Float64Array(nTags);
  const seen = new Uint8Array(nTags);
  const touched = new Int32Array(nTags);
  let out = 0;
  for (let u = 0; u < nUsers; u++) {
    indptr[u] = out;
    let nTouched = 0;
    for (let p = seconds.indptr[u]; p < seconds.indptr[u + 1]; p++) {
      const c = seconds.indices[p];
      const minutes = seconds.data[p] / 60;
      indices[out] = c;
      data[out] = Math.log1p(minutes);
      out++;
      // m_t sums m_c in course order, so the rounding is the same on every run.
      for (let q = courseTags.indptr[c]; q < courseTags.indptr[c + 1]; q++) {
        const t = courseTags.indices[q];
        if (!seen[t]) {
          seen[t] = 1;
          touched[nTouched++] = t;
        }
        minutesByTag[t] += minutes;
      }
    }
    const row = touched.subarray(0, nTouched).sort();
    for (let k = 0; k < nTouched; k++) {
      const t = row[k];
      indices[out] = nCourses + t;
      data[out] = Math.log1p(minutesByTag[t]);
      out++;
      minutesByTag[t] = 0;
      seen[t] = 0;
    }
  }
  indptr[nUsers] = out;
  const items = new Array<string>(nCourses + nTags);
  for (let c = 0; c < nCourses; c++) items[c] = `course:${courseIds[c]}`;
  for (let t = 0; t < nTags; t++) items[nCourses + t] = `tag:${tagCols.keys[t]}`;
  return {
    items,
    values: { rows: nUsers, cols: nCourses + nTags, indptr, indices: indices.slice(0, out), data: data.slice(0, out) },
  };
}
