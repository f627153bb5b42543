/**
 * The pure half of the HTTP/1.1 front end: parsing a request head and a chunked body, and
 * serializing a response. No sockets here, so every edge (smuggling attempts, oversize heads,
 * bad chunk sizes) is unit-testable.
 *
 * Why our own HTTP/1.1: Bun.serve drops the body of GET requests, and the seed's documented call
 * is `curl -X GET -d '{"user_handle":"110"}'`; Bun's node:http reads that body but serves about
 * a third of the requests per second (see bench/server.ts). The subset implemented is what a
 * JSON API on loopback or behind a proxy needs: HTTP/1.0 and 1.1, keep-alive, pipelining,
 * Content-Length and chunked request bodies, `Expect: 100-continue`.
 */

/**
 * Request headers as parsed: lower-cased names, values as sent, repeats joined with ", ". A flat
 * list, not an object: a head has a handful of fields, and linear search over short strings is
 * cheaper than hashing each name into a dictionary on every request.
 */
export class HeaderList {
  /** [name, value, name, value, …] */
  constructor(readonly fields: string[] = []) {}
  /** Value of header `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1];
    return undefined;
  }
}

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x, answered as 1.1). */
  minor: 0 | 1;
  headers: HeaderList;
  /** Declared body length, -1 when the body is chunked, 0 when there is none. */
  contentLength: number;
  /** True when the client sent a Content-Length field (even "0"). */
  hasContentLength: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
}

/** A request the server refuses before the application sees it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// Any HTTP/1.x: a higher minor version than ours is answered as 1.1 (RFC 9110 §6.2).
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP\/1\.(\d)$/;
/** An absolute-form target (RFC 9112 §3.2.2): scheme, authority, then the origin-form rest. */
const ABSOLUTE = /^https?:\/\/([^/?#]*)(.*)$/i;
// Every field line at once: a token name, a colon, a value of visible ASCII, obs-text, space or
// tab, then CRLF or a bare LF. Rejects obsolete line folding, whitespace before the colon and
// control characters, a bare CR among them.
const FIELDS = /^(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r?\n)*$/;
/** Headers that must not repeat: a second copy is a smuggling or confusion attempt. */
const SINGLE = new Set(["host", "content-length", "authorization", "content-type", "transfer-encoding"]);
/** More header fields than any real client sends. */
const MAX_FIELDS = 100;

const CR = 13;
const LF = 10;

/** A CR not followed by LF: refused, since recipients that disagree on it can be smuggled past. */
function bareCR(): HttpError {
  return new HttpError(400, "bare CR (a CR not followed by LF) in the request");
}

/**
 * Finds the empty line that ends a request head, scanning `buf` from `from`: returns the offset
 * of the LF that ends the head's last line (the empty line follows it), or -1 while the head is
 * incomplete. Lines end in CRLF or, as RFC 9112 §2.2 allows, a bare LF; a CR anywhere else is
 * refused with 400 as soon as the byte after it has arrived. Resuming a scan at two bytes before
 * the previous end of the buffer finds the same answer as scanning everything again.
 */
export function findHeadEnd(buf: Uint8Array, from: number): number {
  const n = buf.length;
  for (let i = from; i < n; i++) {
    const b = buf[i];
    if (b === LF) {
      if (i + 1 >= n) return -1;
      const next = buf[i + 1];
      if (next === LF) return i;
      if (next === CR) {
        if (i + 2 >= n) return -1;
        if (buf[i + 2] === LF) return i;
        throw bareCR();
      }
    } else if (b === CR) {
      if (i + 1 >= n) return -1;
      if (buf[i + 1] !== LF) throw bareCR();
    }
  }
  return -1;
}

/**
 * The value of the field line `text[from, to)` (after the colon, up to the LF): without the CR of
 * a CRLF and without the optional whitespace around it, which is SP and HTAB only (RFC 9110
 * §5.6.3). Not String.trim(): that also strips NBSP (0xA0, obs-text in latin1) and other Unicode
 * spaces, so `Content-Length: 5\xA0` would read as 5 and `Transfer-Encoding: chunked\xA0` as
 * chunked where a stricter recipient sees an invalid value: a smuggling gap.
 */
function fieldValue(text: string, from: number, to: number): string {
  if (to > from && text.charCodeAt(to - 1) === CR) to--;
  let c: number;
  while (from < to && ((c = text.charCodeAt(from)) === 0x20 || c === 0x09)) from++;
  while (to > from && ((c = text.charCodeAt(to - 1)) === 0x20 || c === 0x09)) to--;
  return text.slice(from, to);
}

/**
 * Parses a request head (the text before the empty line, decoded as latin1; lines end in CRLF or
 * a bare LF, the last one's end excluded). Throws {@link HttpError} (400) for anything malformed,
 * ambiguous or unsupported.
 */
export function parseHead(head: string): RequestHead {
  let eol = head.indexOf("\n");
  if (eol < 0) eol = head.length;
  // A CR is part of a line end only before an LF.
  const line = eol < head.length && head.charCodeAt(eol - 1) === CR ? head.slice(0, eol - 1) : head.slice(0, eol);
  const m = REQUEST_LINE.exec(line);
  if (!m) throw requestLineError(line);
  const fields: string[] = [];
  if (eol < head.length) {
    const block = head.slice(eol + 1) + "\n";
    if (!FIELDS.test(block)) throw /\r(?!\n)/.test(block) ? bareCR() : new HttpError(400, "malformed header field");
    // One lower-casing pass for all names (latin1 keeps its length when lower-cased, so offsets
    // in `lower` are offsets in `block`; values are taken from `block`, case intact).
    const lower = block.toLowerCase();
    for (let start = 0; start < block.length; ) {
      const end = block.indexOf("\n", start);
      const colon = block.indexOf(":", start);
      const name = lower.slice(start, colon);
      const value = fieldValue(block, colon + 1, end);
      start = end + 1;
      let i = 0;
      while (i < fields.length && fields[i] !== name) i += 2;
      if (i === fields.length) {
        if (i >= 2 * MAX_FIELDS) throw new HttpError(431, `more than ${MAX_FIELDS} header fields`);
        fields.push(name, value);
      } else if (SINGLE.has(name)) {
        if (name !== "content-length" || fields[i + 1] !== value) throw new HttpError(400, `repeated header ${JSON.stringify(name)}`);
      } else fields[i + 1] = `${fields[i + 1]}, ${value}`;
    }
  }
  const headers = new HeaderList(fields);
  const minor = m[3] === "0" ? 0 : 1;
  if (minor === 1 && headers.get("host") === undefined) throw new HttpError(400, "missing Host header");
  let target = m[2];
  const absolute = ABSOLUTE.exec(target);
  if (absolute) {
    // The authority in the target is the host, whatever the Host field says (RFC 9112 §3.2.2).
    const authority = absolute[1];
    if (authority === "" || authority.includes("@")) throw new HttpError(400, "invalid authority in an absolute-form request target");
    const rest = absolute[2];
    target = rest === "" ? "/" : rest[0] === "?" ? `/${rest}` : rest;
    let i = 0;
    while (i < fields.length && fields[i] !== "host") i += 2;
    if (i < fields.length) fields[i + 1] = authority;
    else fields.push("host", authority);
  }
  let contentLength = 0;
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te !== undefined) {
    if (cl !== undefined) throw new HttpError(400, "both Transfer-Encoding and Content-Length given");
    if (te.toLowerCase() !== "chunked" || minor === 0) throw new HttpError(400, `unsupported Transfer-Encoding ${JSON.stringify(te)}`);
    contentLength = -1;
  } else if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw new HttpError(400, "invalid Content-Length");
    contentLength = Number(cl);
  }
  const connection = headers.get("connection");
  const keepAlive =
    connection === undefined ? minor === 1 : minor === 1 ? !/(^|,)[ \t]*close[ \t]*(,|$)/i.test(connection) : /(^|,)[ \t]*keep-alive[ \t]*(,|$)/i.test(connection);
  const expect = headers.get("expect");
  return {
    method: m[1],
    target,
    minor,
    headers,
    contentLength,
    hasContentLength: cl !== undefined,
    keepAlive,
    expectContinue: expect !== undefined && expect.toLowerCase() === "100-continue",
  };
}

/**
 * Why a request line did not parse, in the client's terms: the byte that is not allowed in the
 * target, the version, or the shape of the line.
 */
function requestLineError(line: string): HttpError {
  if (line.includes("\r")) return bareCR();
  const parts = line.split(" ");
  if (parts.length === 3 && /^HTTP\/\d/.test(parts[2])) {
    const bad = /[^\x21-\x7e]/.exec(parts[1]);
    if (bad) {
      const code = bad[0].charCodeAt(0);
      const what = code < 0x20 || code === 0x7f ? "control character" : "non-ASCII byte";
      return new HttpError(400, `${what} 0x${code.toString(16).padStart(2, "0")} in the request target (percent-encode it)`);
    }
    if (!/^HTTP\/1\.\d$/.test(parts[2])) return new HttpError(400, "only HTTP/1.x is supported");
  }
  return new HttpError(400, "malformed request line");
}

/** Result of decoding a chunked body that may not have fully arrived. */
export type ChunkedResult = { done: false } | { done: true; body: Uint8Array; end: number };

/**
 * Progress through a chunked body, so that bytes arriving piecemeal are scanned once (a
 * re-scan per arrival would let a client trickling tiny chunks cost quadratic time). Offsets
 * are relative to the body's start, so the state survives the buffer being re-sliced.
 */
export interface ChunkState {
  /** Offset of the next unparsed chunk-size line (or trailer line). */
  pos: number;
  /** Decoded body bytes so far. */
  total: number;
  /** [offset, length] of each chunk's data. */
  spans: number[];
  /** In the trailer section (after the last chunk). */
  trailers: boolean;
  /** Offset where the trailer section starts. */
  trailerStart: number;
}

/** The state of a chunked body none of which has been read yet. */
export function newChunkState(): ChunkState {
  return { pos: 0, total: 0, spans: [], trailers: false, trailerStart: 0 };
}

/** Longest chunk-size line (with extensions) and trailer section accepted. */
const MAX_CHUNK_LINE = 1024;
const MAX_TRAILERS = 8192;

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
/**
 * What may follow a chunk size (RFC 9112 §7.1.1): `*( BWS ";" BWS chunk-ext-name [ BWS "=" BWS
 * chunk-ext-val ] )`, a name being a token and a value a token or a quoted-string. Nothing else,
 * not even trailing whitespace: a recipient that reads more or less into this line than a proxy
 * in front of it does can be made to disagree on where the chunk ends.
 */
const CHUNK_EXT = new RegExp(`^(?:[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?)*$`);
// Any number of digits (leading zeros are legal); the value is judged after the zeros.
const CHUNK_SIZE = /^[0-9A-Fa-f]+/;
/** A trailer line: the field-line syntax of the head (its content is ignored). */
const TRAILER_FIELD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/;

/** A LF without its CR in chunked framing. */
function bareLF(): HttpError {
  return new HttpError(400, "bare LF in a chunked body (chunk-size lines, chunk data and trailers must end in CRLF)");
}

/**
 * Offset of the LF ending the CRLF-terminated line that starts at `from`, or -1 if it has not all
 * arrived. Unlike a head, chunked framing requires CRLF (RFC 9112 §7.1): throws 400 on a bare LF,
 * a bare CR or a line longer than `max`.
 */
function crlfLineEnd(buf: Uint8Array, from: number, max: number): number {
  const stop = Math.min(buf.length, from + max + 1);
  for (let i = from; i < stop; i++) {
    const b = buf[i];
    if (b === CR) {
      if (i + 1 >= buf.length) return -1;
      if (buf[i + 1] !== LF) throw bareCR();
      return i + 1;
    }
    if (b === LF) throw bareLF();
  }
  if (buf.length - from > max) throw new HttpError(400, "chunk line or trailer section too long");
  return -1;
}

/**
 * Decodes a chunked body starting at `start`, resuming from `state`. Returns `{done:false}` if
 * more bytes are needed, else the body and the offset just past the trailer section. Chunk-size
 * lines, chunk data and trailer lines must end in CRLF; chunk extensions must follow RFC 9112's
 * grammar (they are then ignored), trailer lines the field-line syntax. Throws 413 past `limit`
 * body bytes and 400 on anything malformed.
 */
export function decodeChunked(buf: Uint8Array, start: number, limit: number, state: ChunkState = newChunkState()): ChunkedResult {
  for (;;) {
    const p = start + state.pos;
    if (state.trailers) {
      // Trailer fields (ignored) up to the empty line.
      const t = crlfLineEnd(buf, p, MAX_TRAILERS - (p - start - state.trailerStart));
      if (t < 0) return { done: false };
      state.pos = t + 1 - start;
      if (t - 1 > p) {
        if (!TRAILER_FIELD.test(Buffer.from(buf.buffer, buf.byteOffset + p, t - 1 - p).toString("latin1"))) {
          throw new HttpError(400, "malformed trailer field");
        }
        continue;
      }
      const body = new Uint8Array(state.total);
      let o = 0;
      for (let i = 0; i < state.spans.length; i += 2) {
        body.set(buf.subarray(start + state.spans[i], start + state.spans[i] + state.spans[i + 1]), o);
        o += state.spans[i + 1];
      }
      return { done: true, body, end: t + 1 };
    }
    const e = crlfLineEnd(buf, p, MAX_CHUNK_LINE);
    if (e < 0) return { done: false };
    const line = Buffer.from(buf.buffer, buf.byteOffset + p, e - 1 - p).toString("latin1");
    const m = CHUNK_SIZE.exec(line);
    if (!m) throw new HttpError(400, "malformed chunk size");
    if (m[0].length < line.length && !CHUNK_EXT.test(line.slice(m[0].length))) {
      throw new HttpError(400, /^[0-9A-Fa-f]/.test(line.slice(m[0].length)) ? "malformed chunk size" : "malformed chunk extension");
    }
    const digits = m[0].replace(/^0+(?=.)/, "");
    // Over 8 significant hex digits is over 4 GiB: past any limit, and past exact integers.
    if (digits.length > 8) throw new HttpError(413, `request body larger than ${limit} bytes`);
    const size = parseInt(digits, 16);
    const data = e + 1;
    if (size === 0) {
      state.trailers = true;
      state.trailerStart = data - start;
      state.pos = data - start;
      continue;
    }
    if (state.total + size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    // The data's own line end: CRLF, whose LF may not have arrived yet.
    const after = data + size;
    if (buf.length <= after) return { done: false };
    if (buf[after] === LF) throw bareLF();
    if (buf[after] !== CR) throw new HttpError(400, "malformed chunk: data longer than its size");
    if (buf.length <= after + 1) return { done: false };
    if (buf[after + 1] !== LF) throw bareCR();
    state.spans.push(data - start, size);
    state.total += size;
    state.pos = after + 2 - start;
  }
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Status line text for `status`. */
export function reason(status: number): string {
  return REASONS[status] ?? "Unknown";
}

/**
 * A complete response as one string (one socket write) and its size in bytes. `extra` is
 * pre-formatted header lines, each ending in CRLF. `headOnly` omits the body but keeps its
 * Content-Length (HEAD).
 */
export function serializeResponse(
  status: number,
  body: string,
  extra: string,
  date: string,
  keepAlive: boolean,
  headOnly = false,
  contentType = "application/json; charset=utf-8",
): [text: string, bytes: number] {
  const length = Buffer.byteLength(body);
  // Everything but the body is ASCII (header values we emit are), so its length is its size.
  const head =
    `HTTP/1.1 ${status} ${reason(status)}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n` +
    `Date: ${date}\r\nX-Content-Type-Options: nosniff\r\n${extra}${keepAlive ? "" : "Connection: close\r\n"}\r\n`;
  return headOnly ? [head, head.length] : [head + body, head.length + length];
}
