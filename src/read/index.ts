/**
 * Reading the four input tables: from a directory of CSV files, or from text/streams.
 */
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Dataset, type EncodedColumns } from "../dataset.ts";
import type { ProgressFn } from "../types.ts";
import { defaultThreads, isMissingWorkerEntry, workerEntry } from "../parallel.ts";
import { decodeTable, parseEncodedTable, parseTable, type CsvSource, type EncodedStrings, type EncodedTable } from "./csv.ts";
import type { ReadReply, ReadRequest } from "./worker.ts";
import { InputError } from "./errors.ts";
import { checkedTable, SCHEMA, TABLE_NAMES, type ColumnName, type TableName, type Tables } from "./schema.ts";
import type { IngestSummary, TableSummary } from "./summary.ts";

export { parseTable, type CsvSource, type ParsedTable, type ParseTableOptions } from "./csv.ts";
export { InputError, type InputErrorDetails } from "./errors.ts";
export { SCHEMA, sqlType, TABLE_NAMES, type ColumnKind, type ColumnSpec, type Table, type TableName, type Tables, type TableSpec } from "./schema.ts";
export { formatSummary, type IngestSummary, type TableSummary } from "./summary.ts";

export interface ReadOptions {
  /** Progress as stage `read`, bytes done of all four files' bytes. */
  onProgress?: ProgressFn;
  /**
   * 1 reads on this thread; 2 also parses in a worker, largest files split between them.
   * Default: 2 when the files total 4 MiB or more and two cores are available.
   */
  threads?: number;
}

/** The tables, their dataset (ids) and what reading them did. */
export interface ReadResult {
  tables: Tables;
  /** The methods' input, its ids taken from the reader's dictionary codes. */
  dataset: Dataset;
  summary: IngestSummary;
}

/** The size of the regular file at `path`, or what is there instead ("no such file", "a directory", …). */
function fileSize(path: string): number | string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? "no such file" : `a file that cannot be read (${(e as Error).message})`;
  }
  if (st.isFile()) return st.size;
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  return "a device";
}

/**
 * Reads and validates `user_interests.csv`, `user_assessment_scores.csv`,
 * `user_course_views.csv` and `course_tags.csv` from `dir`, streaming each through csv-parse.
 * All four must be present; every file is checked completely before this returns.
 *
 * @throws {InputError} for a missing file or column, a malformed row or value, naming the file,
 *   line, column and what was expected.
 */
export async function readTables(dir: string, options: ReadOptions = {}): Promise<ReadResult> {
  const root = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) {
    throw new InputError({
      file: dir,
      path: root,
      expected: `a directory holding ${TABLE_NAMES.map((t) => SCHEMA[t].file).join(", ")}`,
      got: "no such directory",
    });
  }
  // Every file is looked up before any is parsed, so a missing one fails at once.
  const sizes = new Map<TableName, number>();
  for (const name of TABLE_NAMES) {
    const path = join(root, SCHEMA[name].file);
    const size = fileSize(path);
    if (typeof size === "string") throw new InputError({ file: SCHEMA[name].file, path, expected: `a file ${path}`, got: size });
    sizes.set(name, size);
  }
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const threads = options.threads ?? (total >= PARALLEL_BYTES ? Math.min(2, defaultThreads()) : 1);

  // Largest file first, each to whichever side has less to do: the worker takes one share of
  // the bytes while this thread parses the other.
  const mine: TableName[] = [];
  const theirs: TableName[] = [];
  if (threads > 1) {
    let a = 0;
    let b = 0;
    for (const name of [...TABLE_NAMES].sort((x, y) => sizes.get(y)! - sizes.get(x)!)) {
      if (a <= b) (mine.push(name), (a += sizes.get(name)!));
      else (theirs.push(name), (b += sizes.get(name)!));
    }
  } else {
    mine.push(...TABLE_NAMES);
  }

  const progressBytes = new Map<TableName, number>();
  const report = (name: TableName, bytes: number) => {
    if (!options.onProgress) return;
    progressBytes.set(name, bytes);
    let done = 0;
    for (const b of progressBytes.values()) done += b;
    options.onProgress("read", done, total);
  };
  const outcomes = new Map<TableName, EncodedTable | Error>();
  const pathOf = (name: TableName) => join(root, SCHEMA[name].file);
  const parseHere = async (name: TableName) => {
    try {
      outcomes.set(name, await parseEncodedTable(name, Bun.file(pathOf(name)).stream(), { path: pathOf(name), onBytes: (b) => report(name, b) }));
    } catch (e) {
      outcomes.set(name, e as Error);
    }
  };

  const elsewhere = theirs.length ? inWorker(theirs, pathOf, report) : Promise.resolve(new Map<TableName, EncodedTable | Error>());
  for (const name of mine) await parseHere(name);
  const fromWorker = await elsewhere;
  for (const name of theirs) {
    const outcome = fromWorker.get(name);
    // No answer means the worker could not run at all (e.g. an executable built without it).
    if (outcome === undefined) await parseHere(name);
    else outcomes.set(name, outcome);
  }

  // Every file was read to its end or its first error; report the first table's error, so the
  // message does not depend on which thread finished first.
  const encoded = new Map<TableName, EncodedTable>();
  for (const name of TABLE_NAMES) {
    const outcome = outcomes.get(name);
    if (outcome instanceof Error) throw outcome;
    if (!outcome) throw new Error(`${name} was not read`);
    encoded.set(name, outcome);
  }
  return fromEncoded(encoded, root);
}

/** Tables, dataset and summary from the four encoded tables. */
function fromEncoded(encoded: Map<TableName, EncodedTable>, dir?: string): ReadResult {
  const get = (name: TableName) => {
    const e = encoded.get(name);
    if (!e) throw new Error(`${name} was not read`);
    return e;
  };
  const tables: Tables = {
    user_interests: checkedTable("user_interests", decodeTable(get("user_interests"))),
    user_assessment_scores: checkedTable("user_assessment_scores", decodeTable(get("user_assessment_scores"))),
    user_course_views: checkedTable("user_course_views", decodeTable(get("user_course_views"))),
    course_tags: checkedTable("course_tags", decodeTable(get("course_tags"))),
  };
  const strings = <N extends TableName>(name: N, column: ColumnName<N>): EncodedStrings => {
    const j = SCHEMA[name].columns.findIndex((c) => c.name === column);
    const c = get(name).columns[j];
    if (c === undefined || c instanceof Float64Array) throw new Error(`${name}.${column} is not a string column`);
    return c;
  };
  const numbers = <N extends TableName>(name: N, column: ColumnName<N>): Float64Array => {
    const j = SCHEMA[name].columns.findIndex((c) => c.name === column);
    const c = get(name).columns[j];
    if (!(c instanceof Float64Array)) throw new Error(`${name}.${column} is not a number column`);
    return c;
  };
  const columns: EncodedColumns = {
    user_interests: { user_handle: strings("user_interests", "user_handle"), interest_tag: strings("user_interests", "interest_tag") },
    user_assessment_scores: {
      user_handle: strings("user_assessment_scores", "user_handle"),
      assessment_tag: strings("user_assessment_scores", "assessment_tag"),
      user_assessment_score: numbers("user_assessment_scores", "user_assessment_score"),
    },
    user_course_views: {
      user_handle: strings("user_course_views", "user_handle"),
      course_id: strings("user_course_views", "course_id"),
      level: strings("user_course_views", "level"),
      view_time_seconds: numbers("user_course_views", "view_time_seconds"),
    },
    course_tags: { course_id: strings("course_tags", "course_id"), course_tags: strings("course_tags", "course_tags") },
  };
  const summaries: TableSummary[] = TABLE_NAMES.map((name) => get(name).summary);
  return { tables, dataset: Dataset.fromEncoded(columns), summary: dir === undefined ? { tables: summaries } : { dir, tables: summaries } };
}

/** Inputs smaller than this are read on one thread: a worker's start-up would cost more. */
const PARALLEL_BYTES = 4 << 20;

/**
 * Parses `names` in a worker, one after the other. Resolves with what it got; tables missing
 * from the map were not parsed because the worker could not start or died.
 */
function inWorker(
  names: TableName[],
  pathOf: (name: TableName) => string,
  report: (name: TableName, bytes: number) => void,
): Promise<Map<TableName, EncodedTable | Error>> {
  const results = new Map<TableName, EncodedTable | Error>();
  return new Promise((resolvePromise) => {
    let worker: Worker;
    const finish = () => {
      worker?.terminate();
      resolvePromise(results);
    };
    try {
      worker = new Worker(workerEntry(new URL("./worker.ts", import.meta.url), "src/read/worker.ts"));
    } catch {
      return finish();
    }
    let next = 0;
    const send = () => {
      if (next === names.length) return finish();
      const name = names[next++];
      worker.postMessage({ name, path: pathOf(name) } satisfies ReadRequest);
    };
    worker.onmessage = (event: MessageEvent<ReadReply>) => {
      const reply = event.data;
      if (reply.kind === "bytes") return report(reply.name, reply.bytes);
      results.set(reply.name, reply.kind === "table" ? reply.table : reply.input ? new InputError(reply.input) : new Error(reply.message));
      send();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      // A missing worker entry (an executable built without it) leaves the tables to this
      // thread; a worker that is there but fails is a bug, reported as such.
      if (!isMissingWorkerEntry(event.message)) {
        for (const name of names) if (!results.has(name)) results.set(name, new Error(`read worker failed: ${event.message}`));
      }
      finish();
    };
    worker.addEventListener("close", () => resolvePromise(results));
    send();
  });
}

/**
 * Parses the four tables from in-memory text, bytes or streams (the library form of
 * {@link readTables}). Names in messages are the usual file names.
 */
export async function parseTables(sources: Record<TableName, CsvSource>): Promise<ReadResult> {
  const encoded = new Map<TableName, EncodedTable>();
  for (const name of TABLE_NAMES) encoded.set(name, await parseEncodedTable(name, sources[name]));
  return fromEncoded(encoded);
}
