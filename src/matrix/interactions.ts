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
 * Tags are expected normalized (trimmed, lower-cased) as `readTables`/`loadDataset` deliver them;
 * empty tags are ignored. Users are every handle with at least one row in any of the three user
 * tables, in canonical handle order (see `compareHandles`), so user index order is tie-break order.
 */
import { compareHandles } from "../handles.ts";
import type { Dataset } from "../types.ts";
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
  /** Users with at least one interaction, in canonical handle order (row order of every block). */
  users: string[];
  blocks: Record<BlockName, InteractionBlock>;
}

/** Assigns provisional ids in first-seen order; `finish` sorts the keys and maps old ids to new. */
class Interner {
  private readonly ids = new Map<string, number>();
  // Tables usually list a user's rows together: repeating keys skip the hash lookup.
  private lastKey: string | undefined;
  private lastId = -1;

  id(key: string): number {
    if (key === this.lastKey) return this.lastId;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(key, id);
    }
    this.lastKey = key;
    this.lastId = id;
    return id;
  }

  has(key: string): boolean {
    return this.ids.has(key);
  }

  /** Keys sorted by `compare` (default: code-unit order), and provisional id → final id. */
  finish(compare?: (a: string, b: string) => number): { keys: string[]; remap: Int32Array } {
    const keys = [...this.ids.keys()].sort(compare);
    const remap = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) remap[this.ids.get(keys[i])!] = i;
    return { keys, remap };
  }
}

function applyRemap(ids: Int32Array, remap: Int32Array): void {
  for (let i = 0; i < ids.length; i++) ids[i] = remap[ids[i]];
}

/**
 * Builds the three raw interaction blocks. Item order within a block is sorted by key (courses
 * block: all `course:` items, then all `tag:` items), so results do not depend on input row order.
 */
export function buildInteractions(dataset: Dataset): Interactions {
  const users = new Interner();

  // Interests: one coordinate per kept row; duplicates collapse to 1.
  const ui = dataset.user_interests;
  const interestTags = new Interner();
  let interestRows = new Int32Array(ui.user_handle.length);
  let interestCols = new Int32Array(ui.user_handle.length);
  let nInterests = 0;
  for (let r = 0; r < ui.user_handle.length; r++) {
    const tag = ui.interest_tag[r];
    if (tag === "") continue;
    interestRows[nInterests] = users.id(ui.user_handle[r]);
    interestCols[nInterests] = interestTags.id(tag);
    nInterests++;
  }
  interestRows = interestRows.subarray(0, nInterests);
  interestCols = interestCols.subarray(0, nInterests);

  // Assessments: best score per (user, tag).
  const ua = dataset.user_assessment_scores;
  const assessTags = new Interner();
  let assessRows = new Int32Array(ua.user_handle.length);
  let assessCols = new Int32Array(ua.user_handle.length);
  let assessScores = new Float64Array(ua.user_handle.length);
  let nAssess = 0;
  for (let r = 0; r < ua.user_handle.length; r++) {
    const tag = ua.assessment_tag[r];
    if (tag === "") continue;
    assessRows[nAssess] = users.id(ua.user_handle[r]);
    assessCols[nAssess] = assessTags.id(tag);
    assessScores[nAssess] = ua.user_assessment_score[r];
    nAssess++;
  }
  assessRows = assessRows.subarray(0, nAssess);
  assessCols = assessCols.subarray(0, nAssess);
  assessScores = assessScores.subarray(0, nAssess);

  // Course views: total seconds per (user, course).
  const uv = dataset.user_course_views;
  const courses = new Interner();
  const vUser = new Int32Array(uv.user_handle.length);
  const vCourse = new Int32Array(uv.user_handle.length);
  for (let r = 0; r < uv.user_handle.length; r++) {
    vUser[r] = users.id(uv.user_handle[r]);
    vCourse[r] = courses.id(uv.course_id[r]);
  }

  const { keys: handles, remap: userRemap } = users.finish(compareHandles);
  const nUsers = handles.length;

  applyRemap(interestRows, userRemap);
  const interestVocab = interestTags.finish();
  applyRemap(interestCols, interestVocab.remap);
  const interests: InteractionBlock = {
    items: interestVocab.keys,
    values: fromCoordinates(nUsers, interestVocab.keys.length, interestRows, interestCols, null, "one"),
  };

  applyRemap(assessRows, userRemap);
  const assessVocab = assessTags.finish();
  applyRemap(assessCols, assessVocab.remap);
  const best = fromCoordinates(nUsers, assessVocab.keys.length, assessRows, assessCols, assessScores, "max");
  for (let p = 0; p < best.data.length; p++) best.data[p] = 1 + best.data[p] / 100;
  const assessments: InteractionBlock = { items: assessVocab.keys, values: best };

  applyRemap(vUser, userRemap);
  const courseVocab = courses.finish();
  applyRemap(vCourse, courseVocab.remap);
  const seconds = fromCoordinates(nUsers, courseVocab.keys.length, vUser, vCourse, uv.view_time_seconds, "sum");

  return { users: handles, blocks: { interests, courses: courseBlock(seconds, courseVocab.keys, dataset), assessments } };
}

/** The courses block from per-(user, course) total seconds and the course_tags table. */
function courseBlock(seconds: CSR, courseIds: string[], dataset: Dataset): InteractionBlock {
  const nUsers = seconds.rows;
  const nCourses = courseIds.length;
  const courseIndex = new Map<string, number>();
  for (let c = 0; c < nCourses; c++) courseIndex.set(courseIds[c], c);

  // Tags of viewed courses only: tags of courses nobody viewed would be empty columns.
  const ct = dataset.course_tags;
  const tags = new Interner();
  const tCourse: number[] = [];
  const tTag: number[] = [];
  for (let r = 0; r < ct.course_id.length; r++) {
    const c = courseIndex.get(ct.course_id[r]);
    const tag = ct.course_tags[r];
    if (c === undefined || tag === "") continue;
    tCourse.push(c);
    tTag.push(tags.id(tag));
  }
  const tagVocab = tags.finish();
  const tagCols = Int32Array.from(tTag);
  applyRemap(tagCols, tagVocab.remap);
  const nTags = tagVocab.keys.length;
  const courseTags = fromCoordinates(nCourses, nTags, Int32Array.from(tCourse), tagCols, null, "one");

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
  for (let t = 0; t < nTags; t++) items[nCourses + t] = `tag:${tagVocab.keys[t]}`;
  return {
    items,
    values: { rows: nUsers, cols: nCourses + nTags, indptr, indices: indices.slice(0, out), data: data.slice(0, out) },
  };
}
