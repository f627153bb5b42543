/**
 * What the bytes of an input file must be, checked chunk by chunk before csv-parse sees them:
 * UTF-8 (csv-parse would turn invalid bytes into U+FFFD, merging different bad handles into one)
 * or UTF-16LE with a byte-order mark (which csv-parse decodes itself), no NUL bytes, and
 * not a compressed file, a spreadsheet or UTF-16 that csv-parse cannot read. This is not a CSV
 * scanner: it looks only at bytes and line feeds (for line numbers, and to notice line ends that
 * change kind, which csv-parse reports as some unrelated quote or field-count error).
 */
import { isUtf8 } from "node:buffer";

/** The expected encoding, as messages say it. */
export const EXPECTED_ENCODING = "UTF-8 text (or UTF-16LE with a byte-order mark)";

/** A byte problem: where (1-based line; character within it) and what. */
export interface ByteProblem {
  /** Absent when the whole file is of the wrong kind (gzip, zip, UTF-16 without BOM). */
  line?: number;
  /** 1-based character of the line where the bad byte is. */
  char?: number;
  expected: string;
  got: string;
  /** What to do about it, e.g. "this looks like Latin-1 …: save the file as UTF-8". */
  hint?: string;
  /** What the bad bytes become in csv-parse's fields (U+FFFD, NUL), to find their column. */
  marker?: string;
}

/** Where the line ends change kind: `line` is the first line ending unlike line 1. */
export interface LineEndChange {
  line: number;
  from: "CRLF" | "LF";
  to: "CRLF" | "LF";
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Checks an input file's bytes, fed in order through {@link push} and closed with {@link end}.
 * After the first problem it stops looking; the caller decides when to report it.
 */
export class ByteCheck {
  /** The first problem found, if any. */
  problem: ByteProblem | undefined;
  /** The first change of line-end kind, if any (outside and inside quoted fields alike). */
  lineEnds: LineEndChange | undefined;
  private first = true;
  /** UTF-16LE with a BOM: csv-parse decodes it; these checks are about UTF-8. */
  private utf16 = false;
  /** Line feeds seen before the current chunk. */
  private lines = 0;
  /** Characters of the current line seen in earlier chunks. */
  private carry = 0;
  private lastByte = -1;
  private firstEnd: "CRLF" | "LF" | undefined;
  /** An unfinished UTF-8 sequence at the end of the previous chunk. */
  private pending: Uint8Array = new Uint8Array(0);

  /** True when the file cannot be CSV at all: nothing should be parsed. */
  get fatal(): boolean {
    return this.problem !== undefined && this.problem.line === undefined;
  }

  push(chunk: Uint8Array): void {
    if (this.first) {
      this.first = false;
      this.sniff(chunk);
    }
    if (this.problem || this.utf16 || chunk.length === 0) return;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.checkText(buf);
    this.countLines(buf);
  }

  /** The end of the file: an unfinished UTF-8 sequence there is invalid too. */
  end(): void {
    if (this.problem || this.utf16 || this.pending.length === 0) return;
    this.problem = this.invalidUtf8(this.lines + 1, this.carry - countChars(this.pending, 0, this.pending.length) + 1, this.pending);
  }

  /** Whole-file kinds recognizable from the first bytes. */
  private sniff(b: Uint8Array): void {
    const is = (...bytes: number[]) => bytes.every((v, i) => b[i] === v);
    const wrong = (got: string, hint: string) => (this.problem = { expected: `a CSV file of ${EXPECTED_ENCODING}`, got, hint });
    if (is(0xff, 0xfe)) this.utf16 = true;
    else if (is(0x1f, 0x8b)) wrong("gzip-compressed data", "this looks like gzip: decompress it first, e.g. with gunzip");
    else if (is(0x50, 0x4b, 0x03, 0x04)) wrong("a ZIP archive", "this looks like a zip file or an Excel workbook: export the sheet as CSV");
    else if (is(0xfe, 0xff)) wrong("UTF-16BE", "this looks like UTF-16BE: convert it, e.g. with iconv -f UTF-16BE -t UTF-8");
    else if (b.length >= 4 && b[0] !== 0 && b[1] === 0 && b[2] !== 0 && b[3] === 0)
      wrong("UTF-16LE without a byte-order mark", "this looks like UTF-16LE: convert it, e.g. with iconv -f UTF-16LE -t UTF-8");
    else if (b.length >= 4 && b[0] === 0 && b[1] !== 0 && b[2] === 0 && b[3] !== 0)
      wrong("UTF-16BE without a byte-order mark", "this looks like UTF-16BE: convert it, e.g. with iconv -f UTF-16BE -t UTF-8");
  }

  /** Valid UTF-8 without NUL bytes, across chunk boundaries; records the first problem. */
  private checkText(buf: Buffer): void {
    const nul = buf.indexOf(0);
    // The native check first (one pass, no allocation); a chunk may end inside a character.
    const joined = this.pending.length ? Buffer.concat([this.pending, buf]) : buf;
    const cut = completeLength(joined);
    const whole = joined.subarray(0, cut);
    if (isUtf8(whole)) {
      this.pending = joined.slice(cut);
      if (nul >= 0) this.problem = this.at(buf, nul, { expected: EXPECTED_ENCODING, got: "a NUL byte (0x00)", marker: "\0" });
      return;
    }
    // Rare: find the first invalid sequence. Offsets below are into `buf` (the pending bytes
    // of the previous chunk start a sequence that ends in this one).
    const offset = firstInvalid(whole) - this.pending.length;
    if (nul >= 0 && nul < offset) {
      this.problem = this.at(buf, nul, { expected: EXPECTED_ENCODING, got: "a NUL byte (0x00)", marker: "\0" });
      return;
    }
    const from = offset + this.pending.length;
    const bad = joined.subarray(from, from + sequenceLength(joined, from));
    // A sequence begun at the end of the previous chunk starts on the line being counted.
    this.problem =
      offset < 0
        ? this.invalidUtf8(this.lines + 1, this.carry - countChars(this.pending, 0, this.pending.length) + 1, bad)
        : this.at(buf, offset, this.invalidUtf8(0, 0, bad));
  }

  /** The problem `p`, located at byte `i` of `buf` (the chunk after those already counted). */
  private at(buf: Buffer, i: number, p: ByteProblem): ByteProblem {
    let line = this.lines + 1;
    let from = 0;
    for (let j = buf.indexOf(LF); j >= 0 && j < i; j = buf.indexOf(LF, j + 1)) {
      line++;
      from = j + 1;
    }
    const char = (from === 0 ? this.carry : 0) + countChars(buf, from, i) + 1;
    return { ...p, line, char };
  }

  private invalidUtf8(line: number, char: number, bad: Uint8Array): ByteProblem {
    const hex = [...bad].map((v) => `0x${v.toString(16).toUpperCase().padStart(2, "0")}`).join(" ");
    // One byte 0x80–0xFF standing alone is how Latin-1 and Windows-1252 spell é, ü, ñ…
    const hint = bad.length === 1 && bad[0] >= 0x80 ? "this looks like Latin-1 or Windows-1252: save the file as UTF-8" : undefined;
    const got = bad.length === 1 ? `the byte ${hex}, which is not UTF-8` : `the bytes ${hex}, which are not UTF-8`;
    return { line, char, expected: EXPECTED_ENCODING, got, hint, marker: "\uFFFD" };
  }

  /** Counts line feeds (for line numbers) and notices the first line ending unlike line 1. */
  private countLines(buf: Buffer): void {
    let last = -1;
    for (let j = buf.indexOf(LF); j >= 0; j = buf.indexOf(LF, j + 1)) {
      this.lines++;
      last = j;
      if (this.lineEnds) continue;
      const before = j > 0 ? buf[j - 1] : this.lastByte;
      const kind = before === CR ? "CRLF" : "LF";
      if (this.firstEnd === undefined) this.firstEnd = kind;
      else if (kind !== this.firstEnd) this.lineEnds = { line: this.lines, from: this.firstEnd, to: kind };
    }
    this.carry = last < 0 ? this.carry + countChars(buf, 0, buf.length) : countChars(buf, last + 1, buf.length);
    this.lastByte = buf[buf.length - 1];
  }
}

/** `got` of an InputError for `p`: what, where in the line, and the hint. */
export function describeProblem(p: ByteProblem): string {
  const notes = [p.char !== undefined ? `character ${p.char} of the line` : undefined, p.hint].filter(Boolean);
  return notes.length ? `${p.got} (${notes.join("; ")})` : p.got;
}

/** Characters (UTF-8 sequence starts) in `buf[from, to)`. */
function countChars(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if ((buf[i] & 0xc0) !== 0x80) n++;
  return n;
}

/** Bytes a sequence starting with lead byte `b[i]` should have (1 for an invalid lead). */
function sequenceLength(b: Uint8Array, i: number): number {
  const v = b[i];
  if (v < 0xc2 || v > 0xf4) return 1;
  const want = v < 0xe0 ? 2 : v < 0xf0 ? 3 : 4;
  let n = 1;
  while (n < want && i + n < b.length && (b[i + n] & 0xc0) === 0x80) n++;
  return n;
}

/** Length of `b` without an unfinished (so far valid-looking) sequence at its very end. */
function completeLength(b: Uint8Array): number {
  const n = b.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const v = b[n - back];
    if ((v & 0xc0) === 0x80) continue;
    if (v < 0xc2 || v > 0xf4) return n;
    const want = v < 0xe0 ? 2 : v < 0xf0 ? 3 : 4;
    return back < want ? n - back : n;
  }
  return n;
}

/** Offset of the first byte that starts an invalid UTF-8 sequence in `b` (which is not valid). */
function firstInvalid(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const v = b[i];
    if (v < 0x80) {
      i++;
      continue;
    }
    const len = v >= 0xc2 && v <= 0xdf ? 2 : v >= 0xe0 && v <= 0xef ? 3 : v >= 0xf0 && v <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > b.length) return i;
    // Second byte ranges exclude overlong forms, surrogates and code points past U+10FFFF.
    const lo = v === 0xe0 ? 0xa0 : v === 0xf0 ? 0x90 : 0x80;
    const hi = v === 0xed ? 0x9f : v === 0xf4 ? 0x8f : 0xbf;
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k < len; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += len;
  }
  return b.length;
}
