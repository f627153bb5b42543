/**
 * The socket half of the HTTP/1.1 front end (see http1.ts for why it exists): a Bun.listen TCP
 * server that frames requests, calls the handler, writes responses in order, applies limits and
 * timeouts, and shuts down gracefully. A handler may answer at once (SQLite lookups do: the hot
 * path then creates no promise) or with a promise (a networked store); while a connection waits
 * for one, its further pipelined requests stay unparsed in its buffer, so answers keep their
 * order.
 */
import type { Socket, TCPSocketListener } from "bun";
import { decodeChunked, findHeadEnd, HttpError, newChunkState, parseHead, serializeResponse, type ChunkState, type HeaderList, type RequestHead } from "./http1.ts";

export { HeaderList } from "./http1.ts";

/** What the application sees of a request. */
export interface HttpRequest {
  method: string;
  /** Request target as sent: path plus optional `?query`. */
  target: string;
  /** Header fields; look them up by lower-case name. */
  headers: HeaderList;
  /** Raw body bytes; empty when there was none. */
  body: Uint8Array;
}

/** What the application answers: a JSON body and optional extra headers. */
export interface HttpResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export type Handler = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface ListenOptions {
  hostname: string;
  port: number;
  /** Largest accepted request body, bytes (default 16 KiB). */
  maxBody?: number;
  /** Largest accepted request head, bytes (default 16 KiB). */
  maxHead?: number;
  /**
   * Seconds (default 30) a request may take from its first byte to its last, however steadily the
   * bytes trickle in (then 408 and close), and a keep-alive connection may sit idle between
   * requests (then closed quietly).
   */
  idleTimeout?: number;
  /**
   * Most connections open at once (default 1024). One more is answered 503 with `Retry-After: 1`
   * and closed; those already open are unaffected.
   */
  maxConnections?: number;
  /** Called once per response with method, path, status and handler milliseconds. */
  onResponse?: (method: string, path: string, status: number, ms: number) => void;
  /**
   * Called at most once a second while connections are refused at `maxConnections`, with how many
   * were refused since the last call (they do not reach `onResponse`: a flood of them would flood
   * the log).
   */
  onRefused?: (count: number) => void;
  /** Called for unexpected handler failures (the client gets a generic 500). */
  onError?: (error: unknown) => void;
}

export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Open connections, the ones refused at the limit not included (for tests and shutdown). */
  readonly connections: number;
  /**
   * Stops accepting, lets in-flight requests finish (idle keep-alive connections are closed at
   * once), then resolves. After `graceMs` remaining connections are cut.
   */
  stop(graceMs?: number): Promise<void>;
}

interface Conn {
  buf: Uint8Array | null;
  /** Output not yet accepted by the kernel, in order. */
  pending: Uint8Array | null;
  /** Close once pending output is flushed. */
  closeAfterFlush: boolean;
  /** Head of a request whose body is still arriving (parsed once). */
  head: RequestHead | null;
  headEnd: number;
  /** Where to resume looking for the end of a head still arriving (relative to its start). */
  headScan: number;
  /** Progress through a chunked body still arriving. */
  chunks: ChunkState | null;
  /**
   * performance.now() by which the request in progress must be complete, set at its first byte
   * and not moved by later ones; 0 between requests.
   */
  deadline: number;
  continued: boolean;
  dead: boolean;
  /** A handler promise is outstanding: later requests wait in `buf`, unparsed. */
  waiting: boolean;
}

const MAX_PENDING = 1 << 20;
/** Default of {@link ListenOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

function headerLines(headers: Record<string, string> | undefined): string {
  if (!headers) return "";
  let s = "";
  for (const k in headers) s += `${k}: ${headers[k]}\r\n`;
  return s;
}

/** Starts the HTTP/1.1 server. Resolves nothing asynchronously: the port is bound on return. */
export function listen(handler: Handler, options: ListenOptions): HttpServer {
  const maxBody = options.maxBody ?? 16 * 1024;
  const maxHead = options.maxHead ?? 16 * 1024;
  const idle = options.idleTimeout ?? 30;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const onResponse = options.onResponse;
  const onRefused = options.onRefused;
  const onError = options.onError ?? ((e) => console.error(e));
  const conns = new Set<Socket<Conn>>();
  let stopping = false;
  let onAllClosed: (() => void) | null = null;

  // The Date header only changes once a second: format it once a second, not per response.
  let date = new Date().toUTCString();
  const clock = setInterval(() => (date = new Date().toUTCString()), 1000);
  clock.unref();

  const idleMs = idle * 1000;
  // Connections refused at the limit are counted and reported at most once a second.
  let refused = 0;
  let refusedTimer: ReturnType<typeof setTimeout> | null = null;
  const reportRefused = () => {
    if (refusedTimer) clearTimeout(refusedTimer);
    refusedTimer = null;
    if (refused > 0) onRefused?.(refused);
    refused = 0;
  };

  /** Writes `data` (`size` bytes once encoded) in order; what the kernel refuses waits for drain. */
  function send(s: Socket<Conn>, data: string, size: number): void {
    const c = s.data;
    if (c.dead) return;
    if (c.pending) {
      c.pending = concat(c.pending, Buffer.from(data));
      if (c.pending.length > MAX_PENDING) kill(s);
      return;
    }
    // Strings go to the socket as they are: no intermediate Buffer on the hot path.
    const n = s.write(data);
    if (n < 0) kill(s);
    else if (n < size) c.pending = Buffer.from(data).subarray(n);
  }

  function finish(s: Socket<Conn>): void {
    const c = s.data;
    if (c.pending) c.closeAfterFlush = true;
    else {
      c.dead = true;
      s.end();
    }
  }

  function kill(s: Socket<Conn>): void {
    s.data.dead = true;
    s.terminate();
  }

  /** Answers a protocol error and closes: after a framing error the stream cannot be trusted. */
  function refuse(s: Socket<Conn>, status: number, message: string, method = "-", path = "-"): void {
    const [text, size] = serializeResponse(status, JSON.stringify({ error: message }), "", date, false);
    send(s, text, size);
    onResponse?.(method, path, status, 0);
    s.data.buf = null;
    finish(s);
  }

  /** Answers one request; returns whether the connection stays open for the next one now. */
  function respond(s: Socket<Conn>, head: RequestHead, body: Uint8Array): boolean {
    const t0 = performance.now();
    const isHead = head.method === "HEAD";
    let res: HttpResponse | Promise<HttpResponse>;
    try {
      res = handler({ method: isHead ? "GET" : head.method, target: head.target, headers: head.headers, body });
    } catch (e) {
      onError(e);
      res = { status: 500, body: JSON.stringify({ error: "internal server error" }) };
    }
    if (!(res instanceof Promise)) return write(s, head, res, t0);
    const c = s.data;
    c.waiting = true;
    res
      .catch((e: unknown): HttpResponse => {
        onError(e);
        return { status: 500, body: JSON.stringify({ error: "internal server error" }) };
      })
      .then((answer) => {
        c.waiting = false;
        if (c.dead) return;
        const open = write(s, head, answer, t0);
        // Requests that arrived meanwhile were kept unparsed: answer them now, in order.
        if (open && c.buf) resume(s, process(s));
        else if (open && stopping && !c.pending) finish(s);
      });
    return false;
  }

  /** Serializes and sends one answer; returns whether the connection stays open. */
  function write(s: Socket<Conn>, head: RequestHead, res: HttpResponse, t0: number): boolean {
    const keepAlive = head.keepAlive && !stopping;
    const [text, size] = serializeResponse(res.status, res.body, headerLines(res.headers), date, keepAlive, head.method === "HEAD");
    send(s, text, size);
    if (onResponse) {
      const q = head.target.indexOf("?");
      onResponse(head.method, q < 0 ? head.target : head.target.slice(0, q), res.status, performance.now() - t0);
    }
    if (!keepAlive) finish(s);
    return keepAlive;
  }

  /** After answering: the request clock of what is left in the buffer, and shutdown. */
  function resume(s: Socket<Conn>, answered: number, fresh = false): void {
    const c = s.data;
    if (c.waiting) c.deadline = 0;
    else if (c.buf !== null) {
      if (fresh || answered > 0) c.deadline = performance.now() + idleMs;
    } else if (answered > 0) c.deadline = 0;
    else if (c.deadline === 0) c.deadline = performance.now() + idleMs;
    if (stopping && !c.buf && !c.pending && !c.dead && !c.waiting) finish(s);
  }

  /**
   * Frames and answers every complete request in the buffer; keeps the incomplete rest. Returns
   * how many requests it answered.
   */
  function process(s: Socket<Conn>): number {
    const c = s.data;
    let buf = c.buf!;
    let off = 0;
    let answered = 0;
    let failed: RequestHead | null = null;
    try {
      while (off < buf.length && !c.dead && !c.closeAfterFlush && !c.waiting) {
        let head = c.head;
        let bodyStart = c.headEnd;
        failed = head;
        if (!head) {
          // Tolerate stray empty lines (CRLF or LF) between pipelined requests (RFC 9112 §2.2).
          for (;;) {
            if (buf[off] === 10) off++;
            else if (buf[off] === 13 && buf[off + 1] === 10) off += 2;
            else break;
          }
          if (off >= buf.length) break;
          // Resume the search where the last one stopped: a head trickled in byte by byte must
          // not be rescanned from its start on every arrival.
          const he = findHeadEnd(buf, off + c.headScan);
          if (he < 0) {
            if (buf.length - off > maxHead) throw new HttpError(431, `request head larger than ${maxHead} bytes`);
            c.headScan = Math.max(0, buf.length - off - 2);
            break;
          }
          c.headScan = 0;
          if (he - off > maxHead) throw new HttpError(431, `request head larger than ${maxHead} bytes`);
          // The head's text stops before its last line's CRLF (or LF); the body starts after the
          // empty line, itself CRLF or LF.
          const textEnd = buf[he - 1] === 13 ? he - 1 : he;
          head = parseHead(Buffer.from(buf.buffer, buf.byteOffset + off, textEnd - off).toString("latin1"));
          failed = head;
          if (head.contentLength > maxBody) throw new HttpError(413, `request body larger than ${maxBody} bytes`);
          bodyStart = buf[he + 1] === 10 ? he + 2 : he + 3;
          // Some clients (node:http's request() on GET) send a body with no framing at all. By
          // the protocol those bytes are the next request; a JSON-looking "next request" is that
          // mistake, so name it instead of answering "missing user_handle" then "malformed".
          if (head.contentLength === 0 && !head.hasContentLength && (buf[bodyStart] === 0x7b || buf[bodyStart] === 0x5b)) {
            throw new HttpError(400, "request body sent without Content-Length or Transfer-Encoding: chunked");
          }
        }
        let body: Uint8Array;
        let end: number;
        if (head.contentLength >= 0) {
          end = bodyStart + head.contentLength;
          if (buf.length < end) {
            waitForBody(s, head, bodyStart - off);
            break;
          }
          body = buf.subarray(bodyStart, end);
        } else {
          c.chunks ??= newChunkState();
          const r = decodeChunked(buf, bodyStart, maxBody, c.chunks);
          if (!r.done) {
            // Framing overhead is bounded too: many tiny chunks with long extensions are not a body.
            if (buf.length - bodyStart > 8 * maxBody) throw new HttpError(413, `request body larger than ${maxBody} bytes`);
            waitForBody(s, head, bodyStart - off);
            break;
          }
          body = r.body;
          end = r.end;
        }
        c.head = null;
        c.chunks = null;
        c.continued = false;
        off = end;
        answered++;
        if (!respond(s, head, body)) {
          // Waiting for an answer: keep the rest for later, unparsed.
          if (c.waiting) off = end;
          break;
        }
      }
    } catch (e) {
      const q = failed?.target.indexOf("?") ?? -1;
      const path = failed ? (q < 0 ? failed.target : failed.target.slice(0, q)) : undefined;
      if (e instanceof HttpError) refuse(s, e.status, e.message, failed?.method, path);
      else {
        onError(e);
        refuse(s, 500, "internal server error");
      }
      return answered;
    }
    if (c.dead || c.closeAfterFlush) {
      c.buf = null;
      return answered;
    }
    // Keep only the unconsumed tail, copied: the chunk's memory may be reused after the callback.
    c.buf = off >= buf.length ? null : Buffer.from(buf.subarray(off));
    return answered;
  }

  /** A request still incomplete at its deadline: 408, and the connection closes. */
  function timedOut(s: Socket<Conn>): void {
    const head = s.data.head;
    const q = head ? head.target.indexOf("?") : -1;
    refuse(s, 408, "request not completed in time", head?.method, head ? (q < 0 ? head.target : head.target.slice(0, q)) : undefined);
  }

  function waitForBody(s: Socket<Conn>, head: RequestHead, relHeadEnd: number): void {
    const c = s.data;
    c.head = head;
    c.headEnd = relHeadEnd;
    if (head.expectContinue && !c.continued) {
      c.continued = true;
      send(s, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
  }

  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: options.hostname,
    port: options.port,
    socket: {
      open(s) {
        s.data = { buf: null, pending: null, closeAfterFlush: false, head: null, headEnd: 0, headScan: 0, chunks: null, deadline: 0, continued: false, dead: false, waiting: false };
        if (conns.size >= maxConnections) {
          // Answered before its request arrives, and never counted: `conns` holds exactly the
          // sockets opened and not yet closed, so the count cannot drift.
          s.data.dead = true;
          s.timeout(idle); // in case end() leaves it open: the timeout handler terminates it
          s.write(busy(date));
          s.end();
          if (onRefused && refused++ === 0) {
            refusedTimer = setTimeout(reportRefused, 1000);
            refusedTimer.unref();
          }
          return;
        }
        conns.add(s);
        s.timeout(idle);
      },
      data(s, chunk) {
        const c = s.data;
        if (c.dead || c.closeAfterFlush) return;
        s.timeout(idle);
        // A request's clock starts at its first byte. If this chunk completes requests and
        // starts another, that one started now too (and a connection's first request likewise).
        // Empty lines between requests start it as well, or a client sending nothing else,
        // slowly, would hold its slot for ever.
        const fresh = c.buf === null;
        c.buf = fresh ? chunk : concat(c.buf!, chunk);
        if (c.waiting) {
          // Parsed once the outstanding answer is written; a client piling up more than a
          // request's worth meanwhile is not waiting for answers.
          if (c.buf.length > maxHead + maxBody + 64 * 1024) kill(s);
          return;
        }
        resume(s, process(s), fresh);
      },
      drain(s) {
        const c = s.data;
        if (!c.pending || c.dead) return;
        const n = s.write(c.pending);
        if (n < 0) return kill(s);
        if (n > 0) s.timeout(idle); // a slow reader that is reading is not idle
        c.pending = n < c.pending.length ? c.pending.slice(n) : null;
        if (!c.pending && c.closeAfterFlush) {
          c.dead = true;
          s.end();
        }
      },
      timeout(s) {
        const c = s.data;
        // Bun calls this once and leaves the socket open: closing is ours to do, or an idle
        // client would hold its slot under maxConnections for ever.
        if (c.dead) s.terminate();
        // An answer is still being computed: not the client's idleness.
        else if (c.waiting) s.timeout(idle);
        // A request half-sent for the whole idle period (the sweep normally answers it first).
        else if (c.buf && !c.pending) timedOut(s);
        // Nothing read from us for the whole period: a stalled reader.
        else if (c.pending) kill(s);
        // An idle keep-alive connection: closed quietly (RFC 9112 §9.5).
        else finish(s);
      },
      close(s) {
        s.data.dead = true;
        conns.delete(s);
        if (stopping && conns.size === 0) onAllClosed?.();
      },
      error(s, e) {
        s.data.dead = true;
        onError(e);
        s.terminate(); // `close` follows and uncounts it
      },
    },
  });

  // Request deadlines are enforced by a sweep, not by Bun's socket timeout: that one restarts on
  // every arrival, so a client sending a byte a second would hold its slot for ever, and Bun only
  // checks it every few seconds. A sweep costs nothing per request; its period bounds how late
  // the 408 comes.
  const sweep = setInterval(
    () => {
      const now = performance.now();
      for (const s of conns) {
        const c = s.data;
        if (c.deadline === 0 || now < c.deadline || c.dead || c.closeAfterFlush || c.waiting) continue;
        if (c.buf) timedOut(s);
        else finish(s); // it only ever sent empty lines: no request to answer
      }
    },
    Math.min(1000, Math.max(50, idleMs / 10)),
  );
  sweep.unref();

  return {
    hostname: listener.hostname,
    port: listener.port,
    get connections() {
      return conns.size;
    },
    stop(graceMs = 10_000) {
      if (stopping) return Promise.resolve();
      stopping = true;
      listener.stop(false);
      clearInterval(clock);
      reportRefused();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          clearInterval(sweep);
          for (const s of conns) s.terminate();
          resolve();
        }, graceMs);
        onAllClosed = () => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve();
        };
        // Idle keep-alive connections have nothing in flight: close them now.
        for (const s of conns) {
          const c = s.data;
          if (!c.buf && !c.head && !c.pending && !c.dead && !c.waiting) finish(s);
        }
        if (conns.size === 0) onAllClosed();
      });
    },
  };
}

/** The answer to a connection over the limit (one string: one write). */
function busy(date: string): string {
  return serializeResponse(503, JSON.stringify({ error: "too many connections; retry shortly" }), "Retry-After: 1\r\n", date, false)[0];
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return Buffer.from(out.buffer, 0, out.length);
}
