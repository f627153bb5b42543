/**
 * What reading the input did, per table, and its plain-text rendering for the CLI.
 */
import { TABLE_NAMES, type TableName } from "../types.ts";

/** Counts for one input file. */
export interface TableSummary {
  table: TableName;
  file: string;
  /** Data rows in the file (header and blank lines not counted). */
  rowsRead: number;
  /** Rows stored. */
  rowsKept: number;
  /** Rows not stored, by reason (e.g. `"empty interest_tag": 3`); `rowsRead = rowsKept + Σ dropped`. */
  dropped: Record<string, number>;
  /** Distinct values among kept rows: `users`, `tags`, `courses` as the table has them. */
  distinct: Record<string, number>;
}

/** Counts for all four files of one read. */
export interface IngestSummary {
  /** The data directory, when read from disk. */
  dir?: string;
  /** In {@link TABLE_NAMES} order. */
  tables: TableSummary[];
  /** The fingerprint of the dataset read (recorded with the ingest; see `fingerprintDataset`). */
  input?: { rows: Record<string, number>; sha256: string };
}

/** Number of distinct strings in `values`. */
export function countDistinct(values: readonly string[]): number {
  return new Set(values).size;
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A fixed-width table, one line per input table:
 * ```
 * table                   rows read     kept  dropped                 distinct
 * user_interests            297,526  297,520  6 (empty interest_tag)  users 10,000, tags 748
 * ```
 */
export function formatSummary(summary: IngestSummary): string {
  const header = ["table", "rows read", "kept", "dropped", "distinct"];
  const rows = TABLE_NAMES.map((name) => summary.tables.find((t) => t.table === name))
    .filter((t): t is TableSummary => t !== undefined)
    .map((t) => {
      const reasons = Object.entries(t.dropped).filter(([, n]) => n > 0);
      const dropped = t.rowsRead - t.rowsKept;
      return [
        t.table,
        fmt(t.rowsRead),
        fmt(t.rowsKept),
        reasons.length ? `${fmt(dropped)} (${reasons.map(([r, n]) => (reasons.length > 1 ? `${r}: ${fmt(n)}` : r)).join(", ")})` : "0",
        Object.entries(t.distinct)
          .map(([k, n]) => `${k} ${fmt(n)}`)
          .join(", "),
      ];
    });
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  // Numbers right-aligned, words left-aligned.
  const right = [false, true, true, false, false];
  const line = (cells: string[]) =>
    cells
      .map((c, j) => (j === cells.length - 1 ? c : right[j] ? c.padStart(widths[j]) : c.padEnd(widths[j])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
