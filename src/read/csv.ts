/**
 * Streams one CSV file through csv-parse into the columnar shape of {@link Tables}, checking
 * and normalizing every field as it goes.
 *
 * String columns are dictionary-encoded while reading (distinct values + Int32Array codes):
 * a value is checked and normalized the first time it is seen, not on every row (half a
 * million rows hold only tens of thousands of distinct handles, tags and timestamps), the
 * summary's distinct counts come for free, and a table crosses a worker boundary as a few
 * small arrays plus transferable buffers instead of a million strings.
 */
import { CsvError, parse, type InfoRecord, type Options } from "csv-parse";
import { ByteCheck, describeProblem, type ByteProblem } from "./bytes.ts";
import { InputError, quoteValue } from "./errors.ts";
import { checkedTable, describeKind, SCHEMA, type ColumnSpec, type Table, type TableName, type TableSpec } from "./schema.ts";
import type { TableSummary } from "./summary.ts";
import { normalizeTag, parseDate, parseDateTime, parseNonNegative } from "./values.ts";

/** CSV text, bytes, or a stream of chunks (a file's `Bun.file(p).stream()`, a fetch body, …). */
export type CsvSource = string | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

export interface ParseTableOptions {
  /** Name shown in error messages (default: the table's usual file name). */
  file?: string;
  /** Full path, recorded on errors. */
  path?: string;
  /** Called after each chunk with the bytes consumed so far. */
  onBytes?: (bytes: number) => void;
}

/** One parsed table and what happened to its rows. */
export interface ParsedTable<N extends TableName> {
  table: Table<N>;
  summary: TableSummary;
}

/** A string column as distinct values and one code per row: `values[i] = dict[codes[i]]`. */
export interface EncodedStrings {
  dict: string[];
  codes: Int32Array;
}

/** A parsed table before its string columns are expanded; columns in {@link SCHEMA} order. */
export interface EncodedTable {
  name: TableName;
  columns: (EncodedStrings | Float64Array)[];
  summary: TableSummary;
}

const GROW = 4096;

/** Header names shown in a message about the header (a 1 MB header line is not shown whole). */
const HEADER_SHOWN = 10;

function grow<T extends Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  next.set(a);
  return next;
}

/** Code a raw value maps to when its row is to be dropped (an empty tag). */
const DROP = -1;

interface StringBuilder {
  kind: "strings";
  /** Raw field text → code (or DROP); the check and normalization ran once per raw text. */
  seen: Map<string, number>;
  /** Normalized value → code: " C# " and "c#" share one code. */
  index: Map<string, number>;
  dict: string[];
  codes: Int32Array;
  lastRaw: string | undefined;
  lastCode: number;
}

interface NumberBuilder {
  kind: "numbers";
  values: Float64Array;
}

type Builder = StringBuilder | NumberBuilder;

/**
 * How csv-parse is asked to read every table. Records arrive through `on_record`
 * ({@link ColumnarBuilder.take}), which csv-parse calls synchronously at the moment each record
 * is complete, with a context holding its live line counters, so the context's `lines` is the
 * record's own last line. (Reading records from the stream side instead would see the counter
 * of some later chunk.) `take` returns null, so no record is queued on the stream's readable side.
 */
function parserOptions(builder: ColumnarBuilder): Options {
  return {
    bom: true,
    // We check field counts ourselves, to name the file, line and column in the message.
    relax_column_count: true,
    skip_empty_lines: true,
    cast: false,
    relax_quotes: false,
    on_record: (record, context) => builder.take(record, context),
  };
}

/** Builds the columns of one table from the records csv-parse hands to `on_record`. */
class ColumnarBuilder {
  error: Error | undefined;
  /** The file's bytes, checked ahead of csv-parse (which is fed each chunk once it is checked). */
  readonly bytes = new ByteCheck();
  rowsRead = 0;
  rowsKept = 0;
  readonly dropped: Record<string, number> = {};
  readonly builders: Builder[];
  private readonly spec: TableSpec;
  private readonly file: string;
  private readonly path: string | undefined;
  /** Index in the record of each spec column, -1 when an optional column is absent. */
  private positions: number[] = [];
  private header: string[] | undefined;
  private readonly row: Float64Array;
  private lastEnd = 0;
  private lastEmpty = 0;
  /** Lines csv-parse counted that are not lines (see take). */
  private skew = 0;

  constructor(
    private readonly name: TableName,
    file: string,
    path: string | undefined,
  ) {
    const spec = SCHEMA[name];
    this.spec = spec;
    this.file = file;
    this.path = path;
    this.builders = spec.columns.map(
      (c): Builder =>
        c.kind === "nonNegativeNumber"
          ? { kind: "numbers", values: new Float64Array(GROW) }
          : { kind: "strings", seen: new Map(), index: new Map(), dict: [], codes: new Int32Array(GROW), lastRaw: undefined, lastCode: 0 },
    );
    this.row = new Float64Array(spec.columns.length);
  }

  /**
   * The `on_record` callback: takes one record, with csv-parse's counters as they stand when
   * the record is complete. Always returns null (nothing to pass down the stream). A field
   * error is kept, not thrown, and later records are ignored until the caller stops writing.
   */
  take(record: string[], context: InfoRecord): null {
    if (this.error) return null;
    const line = this.recordLine(context.empty_lines);
    let end = context.lines - this.skew;
    // csv-parse counts the CR and the LF of a CRLF inside a quoted field as two lines.
    if (end > line) {
      const extra = countCRLF(record);
      this.skew += extra;
      end -= extra;
    }
    this.lastEnd = end;
    this.lastEmpty = context.empty_lines;
    try {
      const bad = this.bytes.problem;
      // The record holding the first bad byte: named with its column (where the byte became U+FFFD or NUL).
      if (bad?.line !== undefined && bad.line <= end) this.failBytes(bad, record);
      this.accept(record, line, end);
    } catch (e) {
      this.error = e as Error;
    }
    return null;
  }

  /**
   * Line where the record being read starts: one past the previous record's last line, plus
   * any blank lines csv-parse skipped in between (`emptyLines` is its running count of them).
   */
  private recordLine(emptyLines: number): number {
    return this.lastEnd + 1 + (emptyLines - this.lastEmpty);
  }

  fail(line: number | undefined, column: string | undefined, expected: string, got?: string): never {
    throw new InputError({ file: this.file, path: this.path, line, column, expected, got });
  }

  /** Fails for a byte problem, in the column of `record` where it shows when the record is known. */
  failBytes(p: ByteProblem, record?: string[]): never {
    const at = p.marker === undefined || record === undefined ? -1 : record.findIndex((f) => f.includes(p.marker!));
    const column = at < 0 ? undefined : this.header ? (this.header[at]?.trim() ?? `#${at + 1} (beyond the header)`) : `#${at + 1} of the header`;
    this.fail(p.line, column, p.expected, describeProblem(p));
  }

  /**
   * Fails if the line ends changed kind within lines `from`..`to`, the record csv-parse choked on
   * (its error is then a symptom). Only there: a CRLF file may hold bare LFs inside quoted fields
   * (spreadsheets write multi-line cells so), which must not take the blame for a later error.
   */
  private failLineEnds(from: number | undefined, to: number | undefined): void {
    const change = this.bytes.lineEnds;
    if (!change || from === undefined || to === undefined || change.line < from || change.line > to) return;
    this.fail(
      change.line,
      undefined,
      `every line to end the same way (lines before ${change.line} end in ${change.from})`,
      `a line ending in ${change.to}: the line ends change here; convert the file to one kind (e.g. with dos2unix)`,
    );
  }

  private accept(record: string[], line: number, end: number): void {
    // A line holding only spaces is as blank as an empty one.
    if (record.length === 1 && record[0].trim() === "") return;
    if (this.header === undefined) return this.readHeader(record, line);
    this.rowsRead++;
    const header = this.header;
    if (record.length !== header.length) {
      // Line ends that change kind mid-file make csv-parse join or split lines: say that instead.
      this.failLineEnds(line, end);
      const column = record.length < header.length ? header[record.length].trim() : `#${header.length + 1} (beyond the header)`;
      this.fail(line, column, `${header.length} fields as in the header`, `${record.length}`);
    }
    const builders = this.builders;
    const positions = this.positions;
    const row = this.row;
    let drop = -1;
    for (let j = 0; j < builders.length; j++) {
      const b = builders[j];
      const at = positions[j];
      const raw = at < 0 ? "" : record[at];
      if (b.kind === "strings") {
        // Rows come in runs (one user's rows, one follow event's timestamp): comparing with the
        // previous row's text is cheaper than hashing a fresh string.
        let code: number | undefined;
        if (raw === b.lastRaw) code = b.lastCode;
        else {
          code = b.seen.get(raw);
          if (code === undefined) code = this.learn(j, b, raw, line);
          b.lastRaw = raw;
          b.lastCode = code;
        }
        if (code === DROP && drop < 0) drop = j;
        row[j] = code;
      } else {
        const n = parseNonNegative(raw);
        if (!(n >= 0)) this.fail(line, this.spec.columns[j].name, describeKind(this.spec.columns[j]), quoteValue(raw));
        row[j] = n;
      }
    }
    if (drop >= 0) {
      const reason = `empty ${this.spec.columns[drop].name}`;
      this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
      return;
    }
    const at = this.rowsKept++;
    for (let j = 0; j < builders.length; j++) {
      const b = builders[j];
      if (b.kind === "strings") {
        if (at === b.codes.length) b.codes = grow(b.codes, at + 1);
        b.codes[at] = row[j];
      } else {
        if (at === b.values.length) b.values = grow(b.values, at + 1);
        b.values[at] = row[j];
      }
    }
  }

  /** First sight of a raw value in column `j`: check it, normalize it, give it a code. */
  private learn(j: number, b: StringBuilder, raw: string, line: number): number {
    const value = this.positions[j] < 0 ? "" : this.normalize(this.spec.columns[j], raw, line);
    let code = DROP;
    if (value !== undefined) {
      code = b.index.get(value) ?? -2;
      if (code === -2) {
        code = b.dict.length;
        b.dict.push(value);
        b.index.set(value, code);
      }
    }
    b.seen.set(raw, code);
    return code;
  }

  /** The stored form of `raw`, undefined for an empty tag (drop the row); throws if invalid. */
  private normalize(column: ColumnSpec, raw: string, line: number): string | undefined {
    switch (column.kind) {
      case "handle": {
        const v = raw.trim();
        if (v === "") this.fail(line, column.name, describeKind(column), quoteValue(raw));
        return v;
      }
      case "tag": {
        const v = normalizeTag(raw);
        return v === "" ? undefined : v;
      }
      case "text":
        return raw.trim();
      case "date":
      case "datetime": {
        const v = column.kind === "date" ? parseDate(raw) : parseDateTime(raw);
        if (v === undefined) this.fail(line, column.name, describeKind(column), quoteValue(raw));
        return v;
      }
      case "nonNegativeNumber":
        throw new Error("unreachable: numbers are not dictionary-encoded");
    }
  }

  private readHeader(record: string[], line: number): void {
    const names = record.map((h) => h.trim().toLowerCase());
    // Shortened: a header can be a megabyte of one line (a file that is not what it says).
    const shown = record.slice(0, HEADER_SHOWN).map((h) => quoteValue(h));
    const more = record.length > HEADER_SHOWN ? `, … (${record.length} columns)` : "";
    const found = `columns ${shown.join(", ")}${more}`;
    this.positions = this.spec.columns.map((c) => {
      const at = names.indexOf(c.name);
      if (at >= 0 && names.indexOf(c.name, at + 1) >= 0) {
        this.fail(line, c.name, `one column named ${JSON.stringify(c.name)}`, `two in ${found}`);
      }
      if (at < 0 && c.required) this.fail(line, c.name, `a column named ${JSON.stringify(c.name)}`, found);
      return at;
    });
    this.header = record;
  }

  /** True once the header line has been read. */
  get sawHeader(): boolean {
    return this.header !== undefined;
  }

  /**
   * Turns csv-parse's own complaints (quotes, mostly) into an InputError worded as ours, located
   * where the problem starts, not where csv-parse gave up.
   */
  translate(e: unknown): Error {
    if (!(e instanceof CsvError)) return e as Error;
    // The error carries csv-parse's counters as they stood when it gave up.
    const at = typeof e.lines === "number" ? e.lines - this.skew : undefined;
    // Where the record csv-parse was reading starts: a quote opened there may have run on.
    const start = typeof e.empty_lines === "number" ? this.recordLine(e.empty_lines) : at;
    try {
      this.failLineEnds(start, at);
    } catch (lineEnds) {
      return lineEnds as Error;
    }
    const index = typeof e.column === "number" ? e.column : undefined;
    const column = index !== undefined && this.header ? this.header[index]?.trim() : undefined;
    // The one character csv-parse names ("got "x" at line 7"), shown our way.
    const after = /got "([^"]*|")" at line/.exec(e.message)?.[1];
    const error = (line: number | undefined, expected: string, got?: string) =>
      new InputError({ file: this.file, path: this.path, line, column, expected, got });
    switch (e.code) {
      case "CSV_QUOTE_NOT_CLOSED":
        return error(start, "a closing quote for the quoted field that starts on this line", "none before the end of the file");
      case "CSV_INVALID_CLOSING_QUOTE":
      case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE": {
        const got = after === undefined ? undefined : `${quoteValue(after)} after it`;
        if (start !== undefined && at !== undefined && start < at) {
          // The field's quote opened on an earlier line and "closed" at a quote meant to open
          // another field: the quote at the start is the one never closed.
          return error(start, "a closing quote on this line for the quoted field that starts here", `none until line ${at}${got ? `, with ${got}` : ""}`);
        }
        return error(at, "a delimiter or the end of the line after a closing quote", got);
      }
      case "INVALID_OPENING_QUOTE":
        return error(at, 'a quote only at the start of a field (a literal quote inside a quoted field is written "")', "a quote inside an unquoted field");
      default:
        return error(at, "well-formed CSV", e.message.replace(/\s+/g, " "));
    }
  }

  /** The parsed columns, trimmed to the rows kept. */
  finish(): EncodedTable {
    const n = this.rowsKept;
    const columns = this.builders.map((b) =>
      b.kind === "numbers" ? b.values.slice(0, n) : ({ dict: b.dict, codes: b.codes.slice(0, n) } satisfies EncodedStrings),
    );
    const distinct: Record<string, number> = {};
    for (const [label, name] of Object.entries(this.spec.distinct)) {
      const column = columns[this.spec.columns.findIndex((c) => c.name === name)] as EncodedStrings;
      distinct[label] = countUsed(column);
    }
    return {
      name: this.name,
      columns,
      summary: { table: this.name, file: this.file, rowsRead: this.rowsRead, rowsKept: n, dropped: this.dropped, distinct },
    };
  }
}

/** Distinct values among the rows (the dictionary may also hold values of dropped rows). */
function countUsed(column: EncodedStrings): number {
  const used = new Uint8Array(column.dict.length);
  let count = 0;
  for (const c of column.codes) {
    if (used[c] === 0) {
      used[c] = 1;
      count++;
    }
  }
  return count;
}

function countCRLF(record: string[]): number {
  let n = 0;
  for (const field of record) for (let i = field.indexOf("\r\n"); i >= 0; i = field.indexOf("\r\n", i + 2)) n++;
  return n;
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  return typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

async function* chunks(source: CsvSource): AsyncIterable<Uint8Array | string> {
  if (typeof source === "string" || source instanceof Uint8Array) {
    yield source;
    return;
  }
  yield* source as AsyncIterable<Uint8Array>;
}

/**
 * Parses one input table into its dictionary-encoded form (see {@link decodeTable}).
 *
 * @throws {InputError} naming the file, line, column and what was expected.
 */
export async function parseEncodedTable(name: TableName, source: CsvSource, options: ParseTableOptions = {}): Promise<EncodedTable> {
  const spec = SCHEMA[name];
  const file = options.file ?? spec.file;
  const builder = new ColumnarBuilder(name, file, options.path);
  const parser = parse(parserOptions(builder));
  let streamError: unknown;
  const finished = new Promise<void>((resolve) => {
    parser.on("error", (e) => {
      streamError ??= e;
      resolve();
    });
    parser.on("finish", () => resolve());
  });
  const check = builder.bytes;
  const failed = () => builder.error !== undefined || streamError !== undefined || check.fatal;
  let bytes = 0;
  for await (const chunk of chunks(source)) {
    if (failed()) break;
    const buf = toBuffer(chunk);
    // Checked before csv-parse decodes them: it would turn invalid UTF-8 into U+FFFD silently.
    check.push(buf);
    if (check.fatal) break;
    parser.write(buf);
    bytes += buf.length;
    options.onBytes?.(bytes);
  }
  if (failed()) {
    parser.destroy();
  } else {
    check.end();
    parser.end();
    await finished;
  }
  if (builder.error) throw builder.error;
  // A byte problem csv-parse tripped over (or that no record showed) is the root cause.
  if (check.problem) builder.failBytes(check.problem);
  if (streamError !== undefined) throw builder.translate(streamError);
  if (!builder.sawHeader) {
    builder.fail(1, undefined, `a header line with columns ${spec.columns.map((c) => c.name).join(", ")}`, "an empty file");
  }
  return builder.finish();
}

/** Expands a dictionary-encoded string column. */
export function decodeStrings(column: EncodedStrings): string[] {
  const { dict, codes } = column;
  const out = new Array<string>(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = dict[codes[i]];
  return out;
}

/** The columns of an encoded table by name (see `checkedTable` for its typed form). */
export function decodeTable(encoded: EncodedTable): Record<string, string[] | Float64Array> {
  const spec = SCHEMA[encoded.name];
  const table: Record<string, string[] | Float64Array> = {};
  spec.columns.forEach((c, j) => {
    const column = encoded.columns[j];
    table[c.name] = column instanceof Float64Array ? column : decodeStrings(column);
  });
  return table;
}

/**
 * Parses one input table from CSV text, bytes or a stream. Columns are matched by header name
 * (any order, extra columns ignored); fields are checked and normalized per {@link SCHEMA};
 * rows with an empty tag are dropped and counted in the summary.
 *
 * @throws {InputError} naming the file, line, column and what was expected.
 */
export async function parseTable<N extends TableName>(name: N, source: CsvSource, options: ParseTableOptions = {}): Promise<ParsedTable<N>> {
  const encoded = await parseEncodedTable(name, source, options);
  return { table: checkedTable(name, decodeTable(encoded)), summary: encoded.summary };
}
