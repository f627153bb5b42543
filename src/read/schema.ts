/**
 * What each input file must contain: the one schema of the input. The reader, the validation
 * messages, the table types below, the store's column types, the fingerprint, the summary and the
 * generator's headers all derive from {@link SCHEMA}, so they cannot drift apart.
 */

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
  /** Header name in the CSV and column name in the store and in {@link Tables}. */
  readonly name: string;
  readonly kind: ColumnKind;
  /**
   * Required columns must be in the header. Optional ones (columns no ranking method reads)
   * may be absent; they then hold empty strings.
   */
  readonly required: boolean;
  /** Noun for messages about an empty value of a `handle` column: "user handle". */
  readonly noun?: string;
}

export interface TableSpec {
  readonly table: string;
  /** File name looked up in the data directory. */
  readonly file: string;
  /** In the real files' column order (the order used for the store and for writing CSV). */
  readonly columns: readonly ColumnSpec[];
  /** Columns whose distinct values the summary counts, by label: `{ users: "user_handle" }`. */
  readonly distinct: Readonly<Record<string, string>>;
}

const userHandle = { name: "user_handle", kind: "handle", required: true, noun: "user handle" } as const;
const courseId = { name: "course_id", kind: "handle", required: true, noun: "course id" } as const;

/** The four input tables, in {@link TABLE_NAMES} order. */
export const SCHEMA = {
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
} as const satisfies Record<string, TableSpec>;

/** Names of the input tables. */
export type TableName = keyof typeof SCHEMA;

/** The input tables in their fixed order (reading, storing, summaries). */
export const TABLE_NAMES = ["user_interests", "user_assessment_scores", "user_course_views", "course_tags"] as const satisfies readonly TableName[];

type ColumnOf<N extends TableName> = (typeof SCHEMA)[N]["columns"][number];
/** Numbers are Float64Arrays; everything else is strings. */
type ValueOf<K extends ColumnKind> = K extends "nonNegativeNumber" ? Float64Array : string[];

/** Column names of table `N`, e.g. `"user_handle" | "interest_tag" | "date_followed"`. */
export type ColumnName<N extends TableName> = ColumnOf<N>["name"];

/**
 * One input table in columnar form (one array per column, named as in the CSV header), so half a
 * million rows cost a handful of arrays rather than half a million objects.
 */
export type Table<N extends TableName> = { [C in ColumnOf<N> as C["name"]]: ValueOf<C["kind"]> };

/** Some columns of table `N`. */
export type ColumnsOf<N extends TableName, C extends ColumnName<N>> = Pick<Table<N>, C>;

/** The four input tables, validated and normalized (tags trimmed and lower-cased). */
export type Tables = { [N in TableName]: Table<N> };

/** Any table's columns by name (every {@link Table} is one). */
export type AnyTable = { readonly [column: string]: string[] | Float64Array };

/**
 * True when `value` holds every column of table `name` with the right kind of array, all of one
 * length: the checked way to turn generic columns into a typed {@link Table}.
 */
export function isTable<N extends TableName>(name: N, value: AnyTable): value is AnyTable & Table<N> {
  let rows = -1;
  for (const column of SCHEMA[name].columns) {
    const v = value[column.name];
    if (v === undefined) return false;
    if (column.kind === "nonNegativeNumber" ? !(v instanceof Float64Array) : !Array.isArray(v)) return false;
    if (rows >= 0 && v.length !== rows) return false;
    rows = v.length;
  }
  return true;
}

/** {@link isTable} or an error naming the table (a bug, never bad input: input is checked earlier). */
export function checkedTable<N extends TableName>(name: N, value: AnyTable): Table<N> {
  if (!isTable(name, value)) throw new Error(`${name}: columns do not match the schema`);
  return value;
}

/** Rows in a table (the length of its first column). */
export function rowCount(table: AnyTable, name: TableName): number {
  return table[SCHEMA[name].columns[0].name].length;
}

/** Header names of table `name`, in file order. */
export function columnNames(name: TableName): string[] {
  return SCHEMA[name].columns.map((c) => c.name);
}

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
