/**
 * What each input file must contain. One spec per table drives the reader, the validation
 * messages, the SQLite column types and the summary, so they cannot drift apart.
 */
import type { TableName } from "../types.ts";

/**
 * How a field is checked and normalized:
 * - `handle`: trimmed, case kept, must not be empty (user handles, course ids);
 * - `tag`: trimmed and lower-cased; an empty tag drops the row (counted, not an error);
 * - `text`: trimmed, may be empty;
 * - `date`: `YYYY-MM-DD`, a real calendar date;
 * - `datetime`: `YYYY-MM-DD HH:MM:SS` (also `T` as separator, or a bare date meaning midnight),
 *   stored as `YYYY-MM-DD HH:MM:SS`;
 * - `nonNegativeNumber`: a finite decimal number ≥ 0, stored as a float.
 */
export type ColumnKind = "handle" | "tag" | "text" | "date" | "datetime" | "nonNegativeNumber";

export interface ColumnSpec {
  /** Header name in the CSV and column name in SQLite and in {@link Tables}. */
  name: string;
  kind: ColumnKind;
  /**
   * Required columns must be in the header. Optional ones (columns no ranking method reads)
   * may be absent; they then hold empty strings.
   */
  required: boolean;
  /** Noun for messages about an empty value of a `handle` column: "user handle". */
  noun?: string;
}

export interface TableSpec {
  table: TableName;
  /** File name looked up in the data directory. */
  file: string;
  /** In the real files' column order (the order used for SQLite and for writing CSV). */
  columns: readonly ColumnSpec[];
  /** Columns whose distinct values the summary counts, by label: `{ users: "user_handle" }`. */
  distinct: Readonly<Record<string, string>>;
}

const userHandle: ColumnSpec = { name: "user_handle", kind: "handle", required: true, noun: "user handle" };
const courseId: ColumnSpec = { name: "course_id", kind: "handle", required: true, noun: "course id" };

/** The four input tables, in {@link TABLE_NAMES} order. */
export const SCHEMA: Readonly<Record<TableName, TableSpec>> = {
  user_interests: {
    table: "user_interests",
    file: "user_interests.csv",
    columns: [
      userHandle,
      { name: "interest_tag", kind: "tag", required: true },
      { name: "date_followed", kind: "datetime", required: false },
    ],
    distinct: { users: "user_handle", tags: "interest_tag" },
  },
  user_assessment_scores: {
    table: "user_assessment_scores",
    file: "user_assessment_scores.csv",
    columns: [
      userHandle,
      { name: "assessment_tag", kind: "tag", required: true },
      { name: "user_assessment_date", kind: "datetime", required: false },
      { name: "user_assessment_score", kind: "nonNegativeNumber", required: true },
    ],
    distinct: { users: "user_handle", tags: "assessment_tag" },
  },
  user_course_views: {
    table: "user_course_views",
    file: "user_course_views.csv",
    columns: [
      userHandle,
      { name: "view_date", kind: "date", required: false },
      courseId,
      { name: "author_handle", kind: "text", required: false },
      { name: "level", kind: "text", required: true },
      { name: "view_time_seconds", kind: "nonNegativeNumber", required: true },
    ],
    distinct: { users: "user_handle", courses: "course_id" },
  },
  course_tags: {
    table: "course_tags",
    file: "course_tags.csv",
    columns: [courseId, { name: "course_tags", kind: "tag", required: true }],
    distinct: { courses: "course_id", tags: "course_tags" },
  },
};

/** SQLite type of a column: numbers are REAL (sums of seconds divide as floats), the rest TEXT. */
export function sqlType(kind: ColumnKind): "REAL" | "TEXT" {
  return kind === "nonNegativeNumber" ? "REAL" : "TEXT";
}

/** What a value of this kind looks like, for messages. */
export function describeKind(column: ColumnSpec): string {
  switch (column.kind) {
    case "handle":
      return `a non-empty ${column.noun ?? column.name}`;
    case "tag":
      return "a tag";
    case "text":
      return "text";
    case "date":
      return "a date YYYY-MM-DD";
    case "datetime":
      return "a date and time YYYY-MM-DD HH:MM:SS";
    case "nonNegativeNumber":
      return "a non-negative number";
  }
}
