/**
 * Field checks and normalizations, one per column kind. Each returns the normalized value or
 * `undefined` when the value is not acceptable; the caller turns that into an InputError with
 * the file, line and column it knows about.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?$/;
// Plain decimal notation only: Number() alone would also take "0x1f", "Infinity" and "".
const NUMBER = /^\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDay(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= (m === 2 && isLeapYear(y) ? 29 : DAYS[m - 1]);
}

/** `YYYY-MM-DD` naming a real calendar day (2017-02-29 is not one), else undefined. */
export function parseDate(value: string): string | undefined {
  const v = value.trim();
  const m = DATE.exec(v);
  if (!m) return undefined;
  return validDay(+m[1], +m[2], +m[3]) ? v : undefined;
}

/**
 * `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS` or a bare `YYYY-MM-DD` (midnight), checked
 * against the calendar and the clock; returned as `YYYY-MM-DD HH:MM:SS`, else undefined.
 */
export function parseDateTime(value: string): string | undefined {
  const v = value.trim();
  const m = DATETIME.exec(v);
  if (!m) return undefined;
  if (!validDay(+m[1], +m[2], +m[3])) return undefined;
  if (m[4] === undefined) return `${v} 00:00:00`;
  if (+m[4] > 23 || +m[5] > 59 || +m[6] > 59) return undefined;
  return v.length === 19 && v.charCodeAt(10) === 32 ? v : `${v.slice(0, 10)} ${v.slice(11)}`;
}

/** A finite decimal number ≥ 0 (`12`, `12.5`, `1e3`), else NaN. */
export function parseNonNegative(value: string): number {
  // Fast path for the common case, plain digits (an exact integer below 2^53).
  const len = value.length;
  if (len > 0 && len < 16) {
    let n = 0;
    let i = 0;
    for (; i < len; i++) {
      const d = value.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    if (i === len) return n;
  }
  const v = value.trim();
  if (!NUMBER.test(v)) return NaN;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

/** Tags compare case- and padding-insensitively: " Cloud-Computing " is "cloud-computing". */
export function normalizeTag(value: string): string {
  return value.trim().toLowerCase();
}
