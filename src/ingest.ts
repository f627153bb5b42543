/**
 * `ingest` in the library: read and check the four CSVs, then replace the store's input tables in
 * one transaction. Every file is read and checked before the store is opened, so invalid input
 * leaves it exactly as it was (and creates nothing).
 */
import { openStore, type RankingsStore, type StoreOptions } from "./db/store.ts";
import { fingerprintDataset } from "./fingerprint.ts";
import { readTables } from "./read/index.ts";
import type { IngestSummary } from "./read/summary.ts";
import type { ProgressFn, Tables } from "./types.ts";

export interface IngestOptions {
  /** Progress: stage `read` (bytes of the four files), then `write` (rows). */
  onProgress?: ProgressFn;
  /** How a store given as a path is opened (e.g. how long its write waits for another run's). */
  storeOptions?: StoreOptions;
}

/** What {@link ingest} did. */
export interface IngestResult {
  /** The parsed tables, for callers that go on to rank without reading the store back. */
  tables: Tables;
  summary: IngestSummary;
  /** Where they were stored. */
  location: string;
  /** Seconds spent reading the CSVs and writing the store. */
  seconds: { read: number; write: number };
}

/**
 * Reads the four CSVs in `dir` and stores them in `store` (a store, or a SQLite file path, created
 * if missing).
 *
 * @throws {InputError} for invalid input (file, line, column, expectation).
 * @example
 * const { summary } = await ingest("data/sample", "data/recsys.db");
 */
export async function ingest(dir: string, store: RankingsStore | string, options: IngestOptions = {}): Promise<IngestResult> {
  const t0 = performance.now();
  const read = await readTables(dir, { onProgress: options.onProgress });
  const { tables } = read;
  // The fingerprint is recorded with the ingest: a rankings table ranked from other input is then known to be stale.
  const summary = { ...read.summary, input: fingerprintDataset(read.dataset) };
  const t1 = performance.now();
  const target = typeof store === "string" ? await openStore(store, options.storeOptions) : store;
  try {
    await target.writeInput(tables, summary, options.onProgress);
  } finally {
    if (target !== store) target.close();
  }
  const t2 = performance.now();
  const s = (ms: number) => Math.round(ms) / 1000;
  return { tables, summary, location: target.location, seconds: { read: s(t1 - t0), write: s(t2 - t1) } };
}
