/**
 * The one place where users and items get their integer ids (LightFM's `Dataset`): every method,
 * evaluation and query works on these integers; handles and tags are strings only here and at
 * the edges (storage, API).
 *
 * Ids follow fixed orders, so they never depend on input row order:
 * - users: every handle with at least one row in `user_interests`, `user_assessment_scores` or
 *   `user_course_views`, in canonical handle order (`compareHandles`): user id order is the
 *   documented tie-break order of every ranking;
 * - interests, courses, assessments, course tags, levels: sorted by UTF-16 code units (plain
 *   `Array.prototype.sort`). Courses are those of the views and of `course_tags`.
 *
 * Rows keep their input order (sums over rows are then reproducible). Rows with an empty tag or
 * course id carry nothing and are left out, as every method would skip them.
 */
import { compareHandles } from "./handles.ts";
import type { EncodedStrings as Encoded } from "./read/csv.ts";
import type { ColumnsOf } from "./read/schema.ts";

/** The input columns a {@link Dataset} is built from (what the ranking methods read). */
export interface InputColumns {
  user_interests: ColumnsOf<"user_interests", "user_handle" | "interest_tag">;
  user_assessment_scores: ColumnsOf<"user_assessment_scores", "user_handle" | "assessment_tag" | "user_assessment_score">;
  user_course_views: ColumnsOf<"user_course_views", "user_handle" | "course_id" | "level" | "view_time_seconds">;
  course_tags: ColumnsOf<"course_tags", "course_id" | "course_tags">;
}

/** The four tables' method columns with their string columns dictionary-encoded (the reader's form). */
export interface EncodedColumns {
  user_interests: { user_handle: Encoded; interest_tag: Encoded };
  user_assessment_scores: { user_handle: Encoded; assessment_tag: Encoded; user_assessment_score: Float64Array };
  user_course_views: { user_handle: Encoded; course_id: Encoded; level: Encoded; view_time_seconds: Float64Array };
  course_tags: { course_id: Encoded; course_tags: Encoded };
}

/** Rows of `user_interests`: user id, interest id. */
export interface InterestRows {
  user: Int32Array;
  interest: Int32Array;
}
/** Rows of `user_assessment_scores`: user id, assessment id, score. */
export interface AssessmentRows {
  user: Int32Array;
  assessment: Int32Array;
  score: Float64Array;
}
/** Rows of `user_course_views`: user id, course id, level id, seconds viewed. */
export interface ViewRows {
  user: Int32Array;
  course: Int32Array;
  level: Int32Array;
  seconds: Float64Array;
}
/** Rows of `course_tags`: course id, tag id. */
export interface CourseTagRows {
  course: Int32Array;
  tag: Int32Array;
}

/** The vocabularies of a dataset, id = position. */
export interface Vocabulary {
  users: readonly string[];
  interests: readonly string[];
  courses: readonly string[];
  assessments: readonly string[];
  tags: readonly string[];
  levels: readonly string[];
}

/** The id-encoded input of every method. Build one with {@link Dataset.fromColumns}. */
export class Dataset implements Vocabulary {
  readonly users: readonly string[];
  readonly interests: readonly string[];
  readonly courses: readonly string[];
  readonly assessments: readonly string[];
  readonly tags: readonly string[];
  readonly levels: readonly string[];
  readonly interestRows: InterestRows;
  readonly assessmentRows: AssessmentRows;
  readonly viewRows: ViewRows;
  readonly courseTagRows: CourseTagRows;
  private userIds: Map<string, number> | undefined;

  constructor(vocabulary: Vocabulary, rows: { interestRows: InterestRows; assessmentRows: AssessmentRows; viewRows: ViewRows; courseTagRows: CourseTagRows }) {
    this.users = vocabulary.users;
    this.interests = vocabulary.interests;
    this.courses = vocabulary.courses;
    this.assessments = vocabulary.assessments;
    this.tags = vocabulary.tags;
    this.levels = vocabulary.levels;
    this.interestRows = rows.interestRows;
    this.assessmentRows = rows.assessmentRows;
    this.viewRows = rows.viewRows;
    this.courseTagRows = rows.courseTagRows;
  }

  /** Ids from string columns (tables read from CSV, loaded from a store, or built in memory). */
  static fromColumns(columns: InputColumns): Dataset {
    const ui = columns.user_interests;
    const ua = columns.user_assessment_scores;
    const uv = columns.user_course_views;
    const ct = columns.course_tags;
    return Dataset.fromEncoded({
      user_interests: { user_handle: encode(ui.user_handle), interest_tag: encode(ui.interest_tag) },
      user_assessment_scores: { user_handle: encode(ua.user_handle), assessment_tag: encode(ua.assessment_tag), user_assessment_score: ua.user_assessment_score },
      user_course_views: { user_handle: encode(uv.user_handle), course_id: encode(uv.course_id), level: encode(uv.level), view_time_seconds: uv.view_time_seconds },
      course_tags: { course_id: encode(ct.course_id), course_tags: encode(ct.course_tags) },
    });
  }

  /**
   * Ids from dictionary-encoded columns (the reader's own form): only the dictionaries are sorted
   * and looked up; the rows are remapped code by code, without touching a string.
   */
  static fromEncoded(columns: EncodedColumns): Dataset {
    const ui = columns.user_interests;
    const ua = columns.user_assessment_scores;
    const uv = columns.user_course_views;
    const ct = columns.course_tags;
    // Rows with an empty tag or course id carry nothing (the reader never keeps them).
    const keepInterest = nonEmptyRows(ui.interest_tag);
    const keepAssessment = nonEmptyRows(ua.assessment_tag);
    const keepView = nonEmptyRows(uv.course_id);
    const keepCourseTag = nonEmptyRows(ct.course_id, ct.course_tags);

    const userVocab = vocabulary([ui.user_handle, ua.user_handle, uv.user_handle], [keepInterest, keepAssessment, keepView], compareHandles);
    const interestVocab = vocabulary([ui.interest_tag], [keepInterest]);
    const assessmentVocab = vocabulary([ua.assessment_tag], [keepAssessment]);
    const courseVocab = vocabulary([uv.course_id, ct.course_id], [keepView, keepCourseTag]);
    const tagVocab = vocabulary([ct.course_tags], [keepCourseTag]);
    const levelVocab = vocabulary([uv.level], [keepView]);

    return new Dataset(
      { users: userVocab.keys, interests: interestVocab.keys, courses: courseVocab.keys, assessments: assessmentVocab.keys, tags: tagVocab.keys, levels: levelVocab.keys },
      {
        interestRows: { user: userVocab.map(0, keepInterest), interest: interestVocab.map(0, keepInterest) },
        assessmentRows: {
          user: userVocab.map(1, keepAssessment),
          assessment: assessmentVocab.map(0, keepAssessment),
          score: pickNumbers(ua.user_assessment_score, keepAssessment),
        },
        viewRows: {
          user: userVocab.map(2, keepView),
          course: courseVocab.map(0, keepView),
          level: levelVocab.map(0, keepView),
          seconds: pickNumbers(uv.view_time_seconds, keepView),
        },
        courseTagRows: { course: courseVocab.map(1, keepCourseTag), tag: tagVocab.map(0, keepCourseTag) },
      },
    );
  }

  /** The id of a user handle, or undefined. */
  userId(handle: string): number | undefined {
    this.userIds ??= new Map(this.users.map((h, i) => [h, i] as const));
    return this.userIds.get(handle);
  }

  /** The same vocabulary with other rows (e.g. an evaluation's training part). */
  withRows(rows: { interestRows?: InterestRows; assessmentRows?: AssessmentRows; viewRows?: ViewRows; courseTagRows?: CourseTagRows }): Dataset {
    return new Dataset(this, {
      interestRows: rows.interestRows ?? this.interestRows,
      assessmentRows: rows.assessmentRows ?? this.assessmentRows,
      viewRows: rows.viewRows ?? this.viewRows,
      courseTagRows: rows.courseTagRows ?? this.courseTagRows,
    });
  }

  /** The string columns again, rows in order (a round trip of {@link Dataset.fromColumns}). */
  columns(): InputColumns {
    const ir = this.interestRows;
    const ar = this.assessmentRows;
    const vr = this.viewRows;
    const cr = this.courseTagRows;
    return {
      user_interests: { user_handle: decode(ir.user, this.users), interest_tag: decode(ir.interest, this.interests) },
      user_assessment_scores: { user_handle: decode(ar.user, this.users), assessment_tag: decode(ar.assessment, this.assessments), user_assessment_score: ar.score },
      user_course_views: { user_handle: decode(vr.user, this.users), course_id: decode(vr.course, this.courses), level: decode(vr.level, this.levels), view_time_seconds: vr.seconds },
      course_tags: { course_id: decode(cr.course, this.courses), course_tags: decode(cr.tag, this.tags) },
    };
  }
}

/** A {@link Dataset} as it is, or built from string columns. */
export function toDataset(input: Dataset | InputColumns): Dataset {
  return input instanceof Dataset ? input : Dataset.fromColumns(input);
}

/**
 * Old-id → new-id map that keeps only the ids `used` marks, in their order: a method's own item
 * columns are the dataset's items it actually sees, in the dataset's order.
 */
export function compactIds(used: Uint8Array): { map: Int32Array; count: number } {
  const map = new Int32Array(used.length).fill(-1);
  let count = 0;
  for (let i = 0; i < used.length; i++) if (used[i]) map[i] = count++;
  return { map, count };
}

/** Marks the ids that occur in `ids` (among `size`). */
export function usedIds(ids: Int32Array, size: number): Uint8Array {
  const used = new Uint8Array(size);
  for (let i = 0; i < ids.length; i++) used[ids[i]] = 1;
  return used;
}

function encode(values: readonly string[]): Encoded {
  const index = new Map<string, number>();
  const dict: string[] = [];
  const codes = new Int32Array(values.length);
  let last: string | undefined;
  let lastCode = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // Tables list a user's rows together: a repeat skips the hash lookup.
    if (v !== last) {
      let c = index.get(v);
      if (c === undefined) {
        c = dict.length;
        index.set(v, c);
        dict.push(v);
      }
      last = v;
      lastCode = c;
    }
    codes[i] = lastCode;
  }
  return { dict, codes };
}

function decode(ids: Int32Array, vocab: readonly string[]): string[] {
  const out = new Array<string>(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = vocab[ids[i]];
  return out;
}

/** Rows whose value in every given column is not empty; null when all rows are kept. */
function nonEmptyRows(...columns: Encoded[]): Uint8Array | null {
  let keep: Uint8Array | null = null;
  for (const col of columns) {
    const empty = col.dict.indexOf("");
    if (empty < 0) continue;
    keep ??= new Uint8Array(col.codes.length).fill(1);
    for (let i = 0; i < col.codes.length; i++) if (col.codes[i] === empty) keep[i] = 0;
  }
  return keep;
}

function pickNumbers(values: Float64Array, keep: Uint8Array | null): Float64Array {
  if (!keep) return values;
  const out = new Float64Array(countKept(keep, values.length));
  let j = 0;
  for (let i = 0; i < values.length; i++) if (keep[i]) out[j++] = values[i];
  return out;
}

function countKept(keep: Uint8Array | null, n: number): number {
  if (!keep) return n;
  let c = 0;
  for (let i = 0; i < n; i++) c += keep[i];
  return c;
}

/**
 * One vocabulary over several encoded columns: the distinct values used by kept rows, sorted,
 * and for each column its rows' ids.
 */
function vocabulary(columns: Encoded[], keeps: (Uint8Array | null)[], compare?: (a: string, b: string) => number) {
  const used = columns.map((col, j) => {
    const u = new Uint8Array(col.dict.length);
    const keep = keeps[j];
    for (let i = 0; i < col.codes.length; i++) if (!keep || keep[i]) u[col.codes[i]] = 1;
    return u;
  });
  const distinct = new Set<string>();
  columns.forEach((col, j) => col.dict.forEach((v, c) => used[j][c] && distinct.add(v)));
  const keys = [...distinct].sort(compare);
  const id = new Map(keys.map((k, i) => [k, i] as const));
  const codeToId = columns.map((col) => Int32Array.from(col.dict, (v) => id.get(v) ?? -1));
  return {
    keys,
    /** Ids of column j's kept rows. */
    map(j: number, keep: Uint8Array | null): Int32Array {
      const codes = columns[j].codes;
      const table = codeToId[j];
      const out = new Int32Array(countKept(keep, codes.length));
      let r = 0;
      for (let i = 0; i < codes.length; i++) if (!keep || keep[i]) out[r++] = table[codes[i]];
      return out;
    },
  };
}
