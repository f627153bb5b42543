/**
 * Canonical order of user handles, used for tie-breaking and for user indices.
 *
 * Integers compare numerically and come before any other handle; other handles compare by
 * UTF-8 bytes. ("Numeric when both are integers, else bytes" alone is not a total order:
 * 2 < 10 numerically, "10" < "1a" and "1a" < "2" by bytes. Putting integers first makes it one.)
 * Equal integers with different spellings ("7", "007") fall back to bytes.
 */
const INTEGER = /^-?\d+$/;
const encoder = new TextEncoder();

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Byte-order comparison of the UTF-8 encodings of `a` and `b`. */
export function compareBytes(a: string, b: string): number {
  if (isAscii(a) && isAscii(b)) return a < b ? -1 : a > b ? 1 : 0;
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function compareIntegers(a: string, b: string): number {
  if (a.length < 16 && b.length < 16) return Number(a) - Number(b);
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Total order on handles: integers numerically first, then everything else by bytes. */
export function compareHandles(a: string, b: string): number {
  const ai = INTEGER.test(a);
  const bi = INTEGER.test(b);
  if (ai && bi) return compareIntegers(a, b) || compareBytes(a, b);
  if (ai !== bi) return ai ? -1 : 1;
  return compareBytes(a, b);
}
