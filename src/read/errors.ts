/**
 * The one error type of reading: bad input, located precisely enough to fix it in an editor.
 */

/** Where and why an input file was rejected. */
export interface InputErrorDetails {
  /** File name as shown to the user (e.g. `user_interests.csv`). */
  file: string;
  /** 1-based physical line in the file (the header is line 1); absent for a missing file. */
  line?: number;
  /** Column (header name) the problem is in, when there is one. */
  column?: string;
  /** What the reader wanted, as a noun phrase: "a non-negative number". */
  expected: string;
  /** What it found, already formatted (values are JSON-quoted by {@link quoteValue}). */
  got?: string;
  /** Full path of the file, when it came from disk. */
  path?: string;
}

/**
 * Thrown for any input the reader cannot accept. The message is one line:
 * `user_assessment_scores.csv line 17, column user_assessment_score: expected a non-negative number, got "-3"`.
 */
export class InputError extends Error {
  override name = "InputError";
  readonly file: string;
  readonly line: number | undefined;
  readonly column: string | undefined;
  readonly expected: string;
  readonly got: string | undefined;
  readonly path: string | undefined;

  constructor(details: InputErrorDetails) {
    super(formatInputError(details));
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
    this.expected = details.expected;
    this.got = details.got;
    this.path = details.path;
  }
}

function formatInputError(d: InputErrorDetails): string {
  let where = d.file;
  if (d.line !== undefined) where += ` line ${d.line}`;
  // Column names come from the file's header, which may be anything, of any length.
  if (d.column !== undefined) where += `${d.line !== undefined ? "," : ""} column ${shorten(d.column)}`;
  return `${where}: expected ${d.expected}${d.got !== undefined ? `, got ${d.got}` : ""}`;
}

/** `text`, cut to `max` characters (and marked) so one bad field cannot flood a terminal. */
function shorten(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** JSON-quotes a field value for a message, shortened so one bad field cannot flood a terminal. */
export function quoteValue(value: string, max = 60): string {
  return JSON.stringify(shorten(value, max));
}
