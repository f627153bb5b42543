/**
 * How writing a store fails, in words a user can act on (every store throws these; the CLI exits
 * 1 for them: none is bad input).
 */

/** Another process holds the store's write lock and kept it longer than we waited. */
export class StoreBusyError extends Error {
  override name = "StoreBusyError";
  constructor(
    readonly location: string,
    readonly waitedMs: number,
  ) {
    super(`another recsys run is writing ${location}; try again when it finishes (waited ${Math.round(waitedMs / 100) / 10} s)`);
  }
}

/** A write failed for a reason outside recsys (disk full, read-only file or directory, I/O error); names where. */
export class StoreWriteError extends Error {
  override name = "StoreWriteError";
  constructor(
    readonly location: string,
    reason: string,
  ) {
    super(`cannot write ${location}: ${reason}`);
  }
}

/**
 * The input tables were replaced (by `ingest`, or a pipeline given CSVs) while a pipeline ranked
 * the previous ones: its rankings would describe input the store no longer holds, so nothing was
 * stored.
 */
export class StaleInputError extends Error {
  override name = "StaleInputError";
  constructor(
    readonly location: string,
    readonly ranked: number | null,
    readonly current: number | null,
  ) {
    const which = (id: number | null) => (id === null ? "an unrecorded ingest" : `ingest ${id}`);
    super(
      `the input tables of ${location} were replaced (now ${which(current)}) while this run ranked ${which(ranked)}; nothing was stored: run the pipeline again to rank the new input`,
    );
  }
}
