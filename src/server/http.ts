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

/** What the application answers: a JSON body (or, with `type`, another text) and optional extra headers. */
export interface HttpResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** Content-Type when the body is not JSON (the explorer page's HTML, script and style). */
  type?: string;
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
   * Seconds (default 5) a new connection may take to send its first byte; then it is closed
   * quietly. A connection that sends nothing holds a slot for no one's benefit.
   */
  firstByteTimeout?: number;
  /**
   * Most connections open at once (default 1024). At the limit a new connection closes the one
   * idle longest (a keep-alive connection between requests, or one that has sent nothing yet) to
   * take its slot; only when every connection is busy is it answered 503 with `Retry-After: 1`
   * and closed.
   */
  maxConnections?: number;
  /**
   * Host names (lower case, without port) the server answers to; a request naming another host is
   * answered 421. Unset: any host. A server bound to loopback sets the loopback names, so a web
   * page whose name an attacker re-points at 127.0.0.1 (DNS rebinding) cannot read it.
   */
  allowedHosts?: readonly string[];
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
   * Stops accepting, answers every request already received (the last on each connection with
   * `Connection: close`), closes idle keep-alive connections once whatever they had sent has been
   * read, then resolves. After `graceMs` remaining connections are cut.
   */
  stop(graceMs?: number): Promise<void>;
}

interface Conn {
  /** Bytes received and not yet consumed: a complete request waiting its turn, or part of one. */
  buf: Uint8Array | null;
  /** `buf` is our own copy, not the chunk Bun lent to the data callback (valid only during it). */
  owned: boolean;
  /**
   * Output the kernel has not taken yet, in order. A list: queuing an answer never copies what is
   * already queued.
   */
  out: Uint8Array[];
  outBytes: number;
  /**
   * While a batch of pipelined requests is answered: their answers, sent together at its end (one
   * write, not one per answer). Null otherwise.
   */
  cork: string | null;
  corkBytes: number;
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
   * and not moved by later ones (for a new connection: by which its first byte must come); 0
   * between requests.
   */
  deadline: number;
  /** Nothing received yet on this connection. */
  silent: boolean;
  continued: boolean;
  dead: boolean;
  /** A handler promise is outstanding: later requests wait in `buf`, unparsed. */
  waiting: boolean;
  /** Used up its turn with requests left in `buf`: queued to go on after other connections. */
  queued: boolean;
  /** Reading from the socket is paused (see settle). */
  paused: boolean;
  /** In the idle set: nothing received to answer and nothing to send. */
  idle: boolean;
}

const MAX_PENDING = 1 << 20;
/**
 * Requests answered per connection before the others get a turn: a client pipelining thousands
 * of requests in one read (up to 512 KiB arrive at once) must not hold up everyone else meanwhile.
 */
const MAX_PER_TURN = 8;
/** Longest run of further turns before the event loop gets to read new requests, ms. */
const TURN_SLICE_MS = 2;
/** Pipelined input a connection may have waiting beyond its request in progress, bytes. */
const MAX_BACKLOG = 64 * 1024;
/**
 * How long a stopping server keeps reading idle keep-alive connections before closing them: a
 * client that had an answer sends its next request at once, and the kernel may hold it, received
 * but not yet read. Closing without reading would lose it.
 */
const LINGER_MS = 100;
/** Default of {@link ListenOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Default of {@link ListenOptions.firstByteTimeout}, seconds. */
export const DEFAULT_FIRST_BYTE_TIMEOUT = 5;
/** Host names of the loopback interface, as {@link ListenOptions.allowedHosts} takes them. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

function headerLines(headers: Record<string, string> | undefined): string {
  if (!headers) return "";
  let s = "";
  for (const k in headers) s += `${k}: ${headers[k]}\r\n`;
  return s;
}

/** The host name of a Host value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower-cased; null if malformed. */
function hostName(value: string): string | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*)(?::\d*)?$/.exec(value);
  return m && m[1] ? m[1].toLowerCase() : null;
}

/** Starts the HTTP/1.1 server. Resolves nothing asynchronously: the port is bound on return. */
export function listen(handler: Handler, options: ListenOptions): HttpServer {
  const maxBody = options.maxBody ?? 16 * 1024;
  const maxHead = options.maxHead ?? 16 * 1024;
  const idle = options.idleTimeout ?? 30;
  const firstByteMs = (options.firstByteTimeout ?? DEFAULT_FIRST_BYTE_TIMEOUT) * 1000;
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  /**
   * Unparsed input a connection may hold: the largest request in progress (a head, then a body
   * in chunked framing) and a backlog of pipelined requests behind it. A client with more waiting
   * is sending without waiting for answers (Bun may read 512 KiB at once, more after a pause):
   * it is cut, or holding its input would cost the server memory for every such client.
   */
  const maxUnparsed = maxHead + 8 * maxBody + MAX_BACKLOG;
  const allowedHosts = options.allowedHosts ? new Set(options.allowedHosts) : null;
  const onResponse = options.onResponse;
  const onRefused = options.onRefused;
  const onError = options.onError ?? ((e) => console.error(e));
  const conns = new Set<Socket<Conn>>();
  /**
   * Connections owing nothing and owed nothing, longest idle first (a Set keeps insertion
   * order): at the limit the first one makes room for a newcomer.
   */
  const idleSet = new Set<Socket<Conn>>();
  let stopping = false;
  /** While stopping: idle connections are still read, not yet closed (see LINGER_MS). */
  let lingering = false;
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

  // Connections that used up their turn, in order: each gets another turn in a later pass, and a
  // pass yields to the event loop after TURN_SLICE_MS, so a connection with one request waits
  // for at most a slice of other connections' batches, not for all of them.
  const turns: Socket<Conn>[] = [];
  let turnHead = 0;
  const nextTurns = () => {
    const stop = performance.now() + TURN_SLICE_MS;
    // Those queued during this pass wait for the next one.
    const end = turns.length;
    while (turnHead < end && performance.now() < stop) {
      const s = turns[turnHead++];
      const c = s.data;
      c.queued = false;
      if (!c.dead && c.buf && !c.waiting && c.outBytes === 0 && !c.closeAfterFlush) {
        requestClock(s, process(s));
        s.timeout(idle); // being answered is not idleness, however long the queue
      }
      settle(s);
    }
    if (turnHead === turns.length) {
      turns.length = 0;
      turnHead = 0;
    } else {
      if (turnHead > 1024 && turnHead * 2 > turns.length) turns.splice(0, turnHead), (turnHead = 0);
      setImmediate(nextTurns);
    }
  };
  /** Gives `s` another turn after the others (see MAX_PER_TURN). */
  const queueTurn = (s: Socket<Conn>) => {
    s.data.queued = true;
    if (turns.push(s) - turnHead === 1) setImmediate(nextTurns);
  };

  /**
   * Brings a connection's reading and idleness up to date after anything happened to it. Reading
   * pauses while it is owed output the kernel has not taken, while an answer is being computed,
   * and while it waits for its next turn: the client then meets TCP backpressure instead of the
   * server buffering (and answering) whatever it sends.
   */
  function settle(s: Socket<Conn>): void {
    const c = s.data;
    if (c.dead) return;
    const busy = c.outBytes > 0 || c.waiting || c.queued || c.closeAfterFlush;
    if (busy !== c.paused) {
      c.paused = busy;
      if (busy) s.pause();
      else s.resume();
    }
    const idleNow = !busy && c.buf === null && c.head === null;
    if (idleNow && stopping && !lingering) return finish(s);
    if (idleNow !== c.idle) {
      c.idle = idleNow;
      if (idleNow) idleSet.add(s);
      else idleSet.delete(s);
    }
  }

  /** Writes `data` (`size` bytes once encoded) in order; what the kernel refuses waits for drain. */
  function send(s: Socket<Conn>, data: string, size: number): void {
    const c = s.data;
    if (c.dead) return;
    if (c.cork !== null) {
      c.cork += data;
      c.corkBytes += size;
      return;
    }
    if (c.outBytes > 0) {
      c.out.push(Buffer.from(data));
      c.outBytes += size;
      if (c.outBytes > MAX_PENDING) kill(s);
      return;
    }
    // Strings go to the socket as they are: no intermediate Buffer on the hot path.
    const n = s.write(data);
    if (n < 0) kill(s);
    else if (n < size) {
      c.out.push(Buffer.from(data).subarray(n));
      c.outBytes = size - n;
    }
  }

  /** Sends the answers of a batch. */
  function uncork(s: Socket<Conn>): void {
    const c = s.data;
    const text = c.cork;
    c.cork = null;
    if (text) send(s, text, c.corkBytes);
  }

  /** Closes once the output is flushed; a closed connection owes nothing and can be dropped. */
  function finish(s: Socket<Conn>): void {
    const c = s.data;
    if (c.dead) return;
    uncork(s);
    if (c.outBytes > 0) c.closeAfterFlush = true;
    else {
      ended(s);
      s.end();
    }
  }

  /**
   * Our side is closed and flushed: what remains is the client's half of the connection. It still
   * counts until the client closes too, so it is idle, the first to go at the limit.
   */
  function ended(s: Socket<Conn>): void {
    const c = s.data;
    c.dead = true;
    if (c.idle) idleSet.delete(s);
    c.idle = true;
    idleSet.add(s);
    s.timeout(Math.max(1, Math.ceil(Math.min(idle, firstByteMs / 1000)))); // a client that never closes its half is cut
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
  function respond(s: Socket<Conn>, head: RequestHead, body: Uint8Array, buf: Uint8Array, end: number): boolean {
    const t0 = performance.now();
    const isHead = head.method === "HEAD";
    let res: HttpResponse | Promise<HttpResponse>;
    const host = allowedHosts && head.headers.get("host");
    if (host && !allowedHosts.has(hostName(host) ?? "")) {
      res = {
        status: 421,
        body: JSON.stringify({ error: `this server answers only to ${[...allowedHosts].join(", ")} (with any port), not to Host ${JSON.stringify(host)}` }),
      };
      return write(s, head, res, t0, buf, end);
    }
    try {
      res = handler({ method: isHead ? "GET" : head.method, target: head.target, headers: head.headers, body });
    } catch (e) {
      onError(e);
      res = { status: 500, body: JSON.stringify({ error: "internal server error" }) };
    }
    if (!(res instanceof Promise)) return write(s, head, res, t0, buf, end);
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
        const open = write(s, head, answer, t0, c.buf, 0);
        // Requests that arrived meanwhile were kept unparsed: answer them now, in order.
        if (open && c.buf && c.outBytes === 0) requestClock(s, process(s));
        settle(s);
      });
    return false;
  }

  /**
   * Serializes and sends one answer; returns whether the connection stays open. A stopping server
   * keeps it open only while another request has arrived behind this one (in `buf` from `next`).
   */
  function write(s: Socket<Conn>, head: RequestHead, res: HttpResponse, t0: number, buf: Uint8Array | null, next: number): boolean {
    const keepAlive = head.keepAlive && (!stopping || requestFollows(buf, next));
    // An HTTP/1.0 client assumes the connection closes unless told otherwise.
    const extra = keepAlive && head.minor === 0 ? `${headerLines(res.headers)}Connection: keep-alive\r\n` : headerLines(res.headers);
    const [text, size] = serializeResponse(res.status, res.body, extra, date, keepAlive, head.method === "HEAD", res.type);
    send(s, text, size);
    if (onResponse) {
      const q = head.target.indexOf("?");
      onResponse(head.method, q < 0 ? head.target : head.target.slice(0, q), res.status, performance.now() - t0);
    }
    if (!keepAlive) finish(s);
    return keepAlive;
  }

  /** After answering: the request clock of what is left in the buffer. */
  function requestClock(s: Socket<Conn>, answered: number, fresh = false): void {
    const c = s.data;
    if (c.waiting) c.deadline = 0;
    else if (c.buf !== null) {
      if (fresh || answered > 0) c.deadline = performance.now() + idleMs;
    } else if (answered > 0) c.deadline = 0;
    else if (c.deadline === 0) c.deadline = performance.now() + idleMs;
  }

  /**
   * Frames and answers the complete requests in the buffer, up to a turn's worth and only while
   * the kernel takes the answers; keeps the rest. Returns how many requests it answered.
   */
  function process(s: Socket<Conn>): number {
    const c = s.data;
    let buf = c.buf!;
    let off = 0;
    let answered = 0;
    let failed: RequestHead | null = null;
    c.cork = "";
    c.corkBytes = 0;
    try {
      while (off < buf.length && !c.dead && !c.closeAfterFlush && !c.waiting && c.outBytes === 0 && answered < MAX_PER_TURN) {
        let head = c.head;
        let bodyStart = c.headEnd;
        failed = head;
        if (!head) {
          // Tolerate stray empty lines (CRLF or LF) between pipelined requests (RFC 9112 §2.2).
          off = skipEmptyLines(buf, off);
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
        // Waiting for an answer (or closing): keep the rest for later, unparsed.
        if (!respond(s, head, body, buf, end)) break;
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
    } finally {
      uncork(s);
    }
    if (c.dead || c.closeAfterFlush) {
      c.buf = null;
      return answered;
    }
    // Keep only the unconsumed tail. A chunk lent by Bun is copied (its memory may be reused after
    // the callback); our own copy is only re-sliced, so answering a large buffer a turn at a time
    // copies it once, not once per turn.
    const left = buf.length - off;
    // More than a backlog of complete requests left after a turn: not a client waiting for answers.
    if (left > maxUnparsed || (left > maxHead + MAX_BACKLOG && answered >= MAX_PER_TURN)) {
      kill(s);
      return answered;
    }
    if (off >= buf.length) c.buf = null;
    else if (c.owned) c.buf = buf.subarray(off);
    else {
      c.buf = Buffer.from(buf.subarray(off));
      c.owned = true;
    }
    if (c.buf && answered >= MAX_PER_TURN && !c.waiting && c.outBytes === 0 && !c.queued) queueTurn(s);
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

  /** Makes room at the limit: the connection idle longest is closed. False if none is idle. */
  function evictIdlest(): boolean {
    for (const s of idleSet) {
      idleSet.delete(s);
      conns.delete(s);
      s.data.dead = true;
      // Nothing is owed either way, so nothing is lost by not waiting for a graceful close.
      s.terminate();
      return true;
    }
    return false;
  }

  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: options.hostname,
    port: options.port,
    socket: {
      open(s) {
        s.data = {
          buf: null,
          owned: false,
          out: [],
          outBytes: 0,
          cork: null,
          corkBytes: 0,
          closeAfterFlush: false,
          head: null,
          headEnd: 0,
          headScan: 0,
          chunks: null,
          deadline: performance.now() + Math.min(firstByteMs, idleMs),
          silent: true,
          continued: false,
          dead: false,
          waiting: false,
          queued: false,
          paused: false,
          idle: false,
        };
        if (conns.size >= maxConnections && !evictIdlest()) {
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
        settle(s);
      },
      data(s, chunk) {
        const c = s.data;
        if (c.dead || c.closeAfterFlush) return;
        s.timeout(idle);
        if (c.idle) {
          // Active again: it goes to the back of the idle order when it next falls idle.
          c.idle = false;
          idleSet.delete(s);
        }
        if (c.silent) {
          c.silent = false;
          c.deadline = 0; // the first-byte deadline is met; the request clock takes over
        }
        // A request's clock starts at its first byte. If this chunk completes requests and
        // starts another, that one started now too (and a connection's first request likewise).
        // Empty lines between requests start it as well, or a client sending nothing else,
        // slowly, would hold its slot for ever.
        const fresh = c.buf === null;
        if (fresh) {
          c.buf = chunk;
          c.owned = false;
        } else {
          c.buf = concat(c.buf!, chunk);
          c.owned = true;
        }
        if (c.paused || c.queued) {
          // Bytes read before reading paused (Bun may read on after a pause): parsed in turn.
          if (c.buf.length > maxUnparsed) return kill(s);
          if (!c.owned) {
            c.buf = Buffer.from(chunk);
            c.owned = true;
          }
          return;
        }
        requestClock(s, process(s), fresh);
        settle(s);
      },
      drain(s) {
        const c = s.data;
        if (c.dead) return;
        while (c.out.length > 0) {
          const chunk = c.out[0];
          const n = s.write(chunk);
          if (n < 0) return kill(s);
          if (n > 0) s.timeout(idle); // a slow reader that is reading is not idle
          c.outBytes -= n;
          if (n < chunk.length) {
            c.out[0] = chunk.subarray(n);
            return;
          }
          c.out.shift();
        }
        if (c.closeAfterFlush) {
          ended(s);
          s.end();
          return;
        }
        // Parsing stopped while the output was pending: go on with what has arrived.
        if (c.buf && !c.waiting && !c.queued) requestClock(s, process(s), true);
        settle(s);
      },
      timeout(s) {
        const c = s.data;
        // Bun calls this once and leaves the socket open: closing is ours to do, or an idle
        // client would hold its slot under maxConnections for ever.
        if (c.dead) s.terminate();
        // An answer is still being computed: not the client's idleness.
        else if (c.waiting) s.timeout(idle);
        // A request half-sent for the whole idle period (the sweep normally answers it first).
        else if (c.buf && c.outBytes === 0) timedOut(s);
        // Nothing read from us for the whole period: a stalled reader.
        else if (c.outBytes > 0) kill(s);
        // An idle keep-alive connection: closed quietly (RFC 9112 §9.5).
        else finish(s);
      },
      close(s) {
        s.data.dead = true;
        conns.delete(s);
        idleSet.delete(s);
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
        if (c.deadline === 0 || now < c.deadline || c.dead || c.closeAfterFlush || c.waiting || c.outBytes > 0 || c.queued) continue;
        if (c.buf) timedOut(s);
        else if (c.silent) {
          // Never sent a byte: nothing to answer and nothing owed, so no need for a graceful close.
          idleSet.delete(s);
          conns.delete(s);
          kill(s);
        } else finish(s); // it only ever sent empty lines: no request to answer
      }
    },
    Math.min(1000, Math.max(50, Math.min(idleMs, firstByteMs) / 10)),
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
      lingering = true;
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
          clearTimeout(linger);
          clearInterval(sweep);
          resolve();
        };
        // Idle connections are read a moment longer (see LINGER_MS), then closed; each busy one
        // closes after answering what it has sent.
        const linger = setTimeout(
          // After one more read of every socket (an immediate runs after the event loop's poll),
          // so a busy or starved loop still reads what arrived during the linger.
          () =>
            setImmediate(() => {
              lingering = false;
              // Those already closed on our side wait for the client's close, as any other.
              for (const s of [...idleSet]) finish(s);
            }),
          Math.min(LINGER_MS, graceMs),
        );
        if (conns.size === 0) onAllClosed();
      });
    },
  };
}

/**
 * Whether `buf` from `next` (what follows an answered request) holds the complete head of another
 * request: a stopping server answers that one too, so this answer keeps the connection.
 */
function requestFollows(buf: Uint8Array | null, next: number): boolean {
  if (!buf) return false;
  const from = skipEmptyLines(buf, next);
  if (from >= buf.length) return false;
  try {
    return findHeadEnd(buf, from) >= 0;
  } catch {
    return true; // malformed: answered (400, and close) in its turn
  }
}

/** Offset of the first byte at or after `off` that does not belong to an empty line. */
function skipEmptyLines(buf: Uint8Array, off: number): number {
  for (;;) {
    if (buf[off] === 10) off++;
    else if (buf[off] === 13 && buf[off + 1] === 10) off += 2;
    else return off;
  }
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
