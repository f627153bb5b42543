/**
 * Columns built row by row as a store streams a table out: strings dictionary-encoded on arrival
 * (the CSV reader's {@link EncodedStrings}), numbers into a Float64Array. What stays in memory is
 * one Int32Array code per string cell and one copy of each distinct string, never the rows.
 */
import type { InputColumns } from "../dataset.ts";
import type { EncodedStrings } from "../read/csv.ts";
import { SCHEMA, type ColumnSpec, type TableName } from "../read/schema.ts";

/** The columns of each input table the methods read (a subset of the schema's, in schema order). */
const METHOD_COLUMNS: { [N in TableName]: readonly (keyof InputColumns[N] & string)[] } = {
  user_interests: ["user_handle", "interest_tag"],
  user_assessment_scores: ["user_handle", "assessment_tag", "user_assessment_score"],
  user_course_views: ["user_handle", "course_id", "level", "view_time_seconds"],
  course_tags: ["course_id", "course_tags"],
};

/** The schema's specs of the columns of `table` the methods read, in schema order. */
export function methodColumns(table: TableName): ColumnSpec[] {
  return METHOD_COLUMNS[table].map((n) => SCHEMA[table].columns.find((c) => c.name === n)!);
}

/** Whether a column is read as a number (else as a dictionary-encoded string). */
export function isNumberColumn(spec: ColumnSpec): boolean {
  return spec.kind === "nonNegativeNumber";
}

/** A builder for the column `spec` (`capacity`: rows expected, when known). */
export function columnBuilder(spec: ColumnSpec, capacity = 0): StringColumnBuilder | NumberColumnBuilder {
  return isNumberColumn(spec) ? new NumberColumnBuilder(capacity) : new StringColumnBuilder(capacity);
}

/** A string column dictionary-encoded as it grows (codes in first-seen order; fromEncoded sorts). */
export class StringColumnBuilder {
  private readonly index = new Map<string, number>();
  private readonly dict: string[] = [];
  private codes: Int32Array;
  private rows = 0;
  private last: string | undefined;
  private lastCode = -1;

  /** @param capacity rows expected (exact when known: the codes are then allocated once). */
  constructor(capacity = 0) {
    this.codes = new Int32Array(capacity);
  }

  push(v: string): void {
    // Tables list a user's rows together: a repeat skips the hash lookup.
    if (v !== this.last) {
      let c = this.index.get(v);
      if (c === undefined) {
        c = this.dict.length;
        this.index.set(v, c);
        this.dict.push(v);
      }
      this.last = v;
      this.lastCode = c;
    }
    if (this.rows === this.codes.length) this.codes = grow(this.codes);
    this.codes[this.rows++] = this.lastCode;
  }

  done(): EncodedStrings {
    return { dict: this.dict, codes: fit(this.codes, this.rows) };
  }
}

/** A number column as it grows. */
export class NumberColumnBuilder {
  private values: Float64Array;
  private rows = 0;

  /** @param capacity rows expected (exact when known: the values are then allocated once). */
  constructor(capacity = 0) {
    this.values = new Float64Array(capacity);
  }

  push(x: number): void {
    if (this.rows === this.values.length) this.values = grow(this.values);
    this.values[this.rows++] = x;
  }

  done(): Float64Array {
    return fit(this.values, this.rows);
  }
}

function grow<T extends Int32Array | Float64Array>(a: T): T {
  const next = new (a.constructor as new (n: number) => T)(Math.max(a.length * 2, 1024));
  next.set(a);
  return next;
}

/** Exactly `rows` long: a copy only when the capacity was not the row count. */
function fit<T extends Int32Array | Float64Array>(a: T, rows: number): T {
  return a.length === rows ? a : (a.slice(0, rows) as T);
}
