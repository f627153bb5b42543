/**
 * Shapes shared across the library. The input tables' types derive from the one schema
 * (`read/schema.ts`); the methods' input is the id-encoded `Dataset` (`dataset.ts`).
 */

export type { ColumnName, ColumnsOf, Table, TableName, Tables } from "./read/schema.ts";
export { TABLE_NAMES } from "./read/schema.ts";

/**
 * Top-n neighbours of every ranked user, in CSR form: user `i`'s neighbours are
 * `neighbors[offsets[i] .. offsets[i+1])`, best first, with `scores` alongside.
 * Neighbour entries are indices into `users`.
 */
export interface Rankings {
  /** Handles of the ranked users, in canonical handle order (see `compareHandles`). */
  users: string[];
  offsets: Int32Array;
  neighbors: Int32Array;
  scores: Float64Array;
}

/** Reports progress of long work: `done` of `total` units of `stage`. Must be cheap. */
export type ProgressFn = (stage: string, done: number, total: number) => void;
