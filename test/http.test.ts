/**
 * The HTTP/1.1 transport (src/server/http.ts, http1.ts) over real sockets: the seed's
 * GET-with-body form as curl and node:http send it, framing, pipelining, keep-alive, chunked
 * bodies and 100-continue, size limits, protocol violations, bare LF and CR, the connection
 * limit and timeouts, and the parser's units. The app's own answers are test/api.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeChunked, findHeadEnd, HttpError, newChunkState, parseHead } from "../src/server/http1.ts";
import { listen, LOOPBACK_HOSTS } from "../src/server/http.ts";
import { startServer, type RunningServer } from "../src/server/serve.ts";
import { hold, parseResponses, raw, requestText, until } from "./fixtures/http.ts";
import { ERROR_CASES, expected, writeApiTable } from "./fixtures/rankings.ts";
import { serve } from "./fixtures/serve.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-http-test-"));
const db = join(work, "rankings.db");
const haveCurl = Bun.spawnSync(["which", "curl"]).exitCode === 0;
if (!haveCurl) console.warn("SKIPPED: curl not installed, so the literal curl check (the raw GET-with-body checks still run)");

/** The server under test: `recsys serve`'s wiring, in this process, on an ephemeral port. */
let dev: RunningServer & { port: number };

beforeAll(async () => {
  writeApiTable(db);
  // The raw requests below name host x: allowed here besides the loopback names a dev server takes.
  const server = await startServer({ dbPath: db, table: "user_ranking", hostname: "127.0.0.1", port: 0, accessLog: false, allowedHosts: ["x", ...LOOPBACK_HOSTS] });
  dev = Object.assign(server, { port: server.http.port });
});

afterAll(async () => {
  await dev?.close();
  rmSync(work, { recursive: true, force: true });
});

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(dev.url + path, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe("GET /api/similarity/ — the seed's form", () => {
  it.skipIf(!haveCurl)("answers the exact curl command of the original tool (GET with a JSON body)", async () => {
    // Asynchronously: the server runs in this process.
    const p = Bun.spawn(["curl", "-s", "-X", "GET", "-H", "Content-type: application/json", "-d", '{"user_handle":"110"}', `${dev.url}/api/similarity/`], { stdout: "pipe" });
    expect(JSON.parse(await new Response(p.stdout).text())).toEqual(expected(10));
  });

  it("reads a GET body sent by node:http's client with a Content-Length, and names the mistake without one", async () => {
    const ask = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${dev.url}/api/similarity/`, { method: "GET", headers: { "Content-Type": "application/json", ...headers } }, (res) => {
          let s = "";
          res.on("data", (c) => (s += c));
          res.on("end", () => resolve({ status: res.statusCode!, body: s }));
        });
        req.on("error", reject);
        req.end('{"user_handle":"111"}');
      });
    const framed = await ask({ "Content-Length": "21" });
    expect(framed.status).toBe(200);
    expect(JSON.parse(framed.body)).toEqual(expected(11));
    // node:http sends a GET body with no framing unless told its length: by the protocol those
    // bytes are the next request, so the server cannot use them, but it says what went wrong.
    const unframed = await ask({});
    expect(unframed.status).toBe(400);
    expect(JSON.parse(unframed.body).error).toContain("without Content-Length");
  });

  it("reads a GET body on the wire, with and without keep-alive, in rank order with scores rounded to 4 decimals", async () => {
    const r = await raw(dev.port, requestText("GET", "/api/similarity/", '{"user_handle":"110"}'));
    expect(r.responses[0].status).toBe(200);
    expect(r.responses[0].headers["content-type"]).toStartWith("application/json");
    const list = JSON.parse(r.responses[0].body);
    expect(list).toEqual(expected(10));
    expect(list[0].score).toBe(0.8957);
    expect(typeof list[0].similar).toBe("string");
    const close = await raw(dev.port, requestText("GET", "/api/similarity/", '{"user_handle":"110"}', { Connection: "close" }), 2);
    expect(close.closed).toBe(true);
    expect(JSON.parse(close.responses[0].body)).toEqual(expected(10));
  });

  it("answers HEAD like GET without a body", async () => {
    const r = await raw(dev.port, requestText("HEAD", "/api/similarity/113"));
    expect(r.responses[0].status).toBe(200);
    expect(Number(r.responses[0].headers["content-length"])).toBeGreaterThan(0);
    expect(r.text.endsWith("\r\n\r\n")).toBe(true);
  });

  it("answers pipelined requests in order on one connection", async () => {
    const two = requestText("GET", "/api/similarity/", '{"user_handle":"114"}') + requestText("POST", "/api/similarity/", '{"user_handle":"115","n":2}');
    const r = await raw(dev.port, two, 2);
    expect(r.responses.map((x) => JSON.parse(x.body))).toEqual([expected(14), expected(15, 2)]);
  });

  it("answers pipelined requests in order when the handler answers with promises that settle out of order", async () => {
    // A networked store answers later; later requests must neither overtake earlier ones nor be
    // parsed before their turn. Delays fall as the request number rises, so without the queue the
    // answers would come back reversed.
    let inFlight = 0;
    let maxInFlight = 0;
    const server = listen(
      (req) => {
        const i = Number(req.target.slice(1));
        if (i % 4 === 3) return { status: 200, body: JSON.stringify({ i, sync: true }) };
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise((resolve, reject) =>
          setTimeout(() => {
            inFlight--;
            if (i === 5) reject(new Error("store failed"));
            else resolve({ status: 200, body: JSON.stringify({ i }) });
          }, 2 * (12 - i)),
        );
      },
      { hostname: "127.0.0.1", port: 0, onError: () => {} },
    );
    try {
      const text = Array.from({ length: 12 }, (_, i) => requestText("GET", `/${i}`)).join("");
      const r = await raw(server.port, text, 12);
      expect(r.responses.map((x) => x.status)).toEqual(Array.from({ length: 12 }, (_, i) => (i === 5 ? 500 : 200)));
      expect(r.responses.filter((x) => x.status === 200).map((x) => JSON.parse(x.body).i)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]);
      // One request of the connection at a time reaches the handler.
      expect(maxInFlight).toBe(1);
    } finally {
      await server.stop(1000);
    }
  });

  it("reads a head that arrives in pieces", async () => {
    const text = requestText("GET", "/api/similarity/", '{"user_handle":"119"}');
    const he = text.indexOf("\r\n\r\n");
    // Cuts inside the blank line too: the resumed search must still find it.
    const pieces = [text.slice(0, 3), text.slice(3, 20), text.slice(20, he + 1), text.slice(he + 1, he + 3), text.slice(he + 3)];
    const r = await raw(dev.port, pieces);
    expect(JSON.parse(r.responses[0].body)).toEqual(expected(19));
  });

  it("reads a chunked body and a body that arrives in pieces after Expect: 100-continue", async () => {
    const head = `POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunked = await raw(dev.port, [head + "5\r\n{\"use\r\n", "10;ext=1\r\nr_handle\":\"116\"}\r\n0\r\n\r\n"]);
    expect(JSON.parse(chunked.responses[0].body)).toEqual(expected(16));
    const body = '{"user_handle":"117"}';
    const slow = await raw(dev.port, [`GET /api/similarity/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`, body.slice(0, 7), body.slice(7)]);
    expect(slow.text).toStartWith("HTTP/1.1 100 Continue\r\n\r\n");
    expect(JSON.parse(slow.responses[0].body)).toEqual(expected(17));
  });
});

describe("errors on the wire: limits and protocol violations", () => {
  it("sends every refusal of the app as JSON over the wire (the cases of test/api.test.ts)", async () => {
    for (const [, path, init, status] of ERROR_CASES) {
      const r = await get(path, init);
      expect(r.status).toBe(status);
      expect(r.headers.get("content-type")).toStartWith("application/json");
      expect(Object.keys(r.body)).toEqual(["error"]);
    }
  });

  it("answers 413 to a declared body over 16 KiB, without waiting for it", async () => {
    const r = await raw(dev.port, `POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${16 * 1024 + 1}\r\n\r\n`);
    expect(r.responses[0].status).toBe(413);
    expect(JSON.parse(r.responses[0].body).error).toMatch(/larger than 16384/);
  });

  it("answers 413 to a streamed (chunked) body that grows past 16 KiB", async () => {
    const chunk = "x".repeat(4096);
    const pieces = [`POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`];
    for (let i = 0; i < 5; i++) pieces.push(`1000\r\n${chunk}\r\n`);
    const r = await raw(dev.port, pieces);
    expect(r.responses[0].status).toBe(413);
  });

  it("accepts a body of exactly 16 KiB (and judges its content)", async () => {
    const body = JSON.stringify({ user_handle: "110" }).padEnd(16 * 1024, " ");
    const r = await get("/api/similarity/", { method: "POST", body });
    expect(r.status).toBe(200);
  });

  it("answers 400 to protocol violations and never a 5xx", async () => {
    const bad = [
      "GARBAGE\r\n\r\n",
      "GET /api/similarity/110 HTTP/2.0\r\nHost: x\r\n\r\n",
      "GET /api/similarity/110 HTTP/1.1\r\n\r\n", // no Host
      "POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "GET /api/similarity/110 HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n",
      "GET /api/similarity/110 HTTP/1.1\r\nHost : x\r\n\r\n",
      "POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ];
    for (const text of bad) {
      const r = await raw(dev.port, text);
      expect(r.responses[0]?.status).toBe(400);
      expect(JSON.parse(r.responses[0].body).error).toBeString();
    }
    const huge = await raw(dev.port, `GET /api/similarity/110 HTTP/1.1\r\nHost: x\r\nX-Pad: ${"p".repeat(20_000)}\r\n\r\n`);
    expect(huge.responses[0].status).toBe(431);
  });

  it("answers 400 to a Content-Length or Transfer-Encoding ending in a no-break space (0xA0), which other servers read differently", async () => {
    const body = '5\r\n{"use\r\n10\r\nr_handle":"110"}\r\n0\r\n\r\n';
    for (const [field, sent] of [
      ["Transfer-Encoding: chunked\xa0", body],
      ["Content-Length: 21\xa0", '{"user_handle":"110"}'],
    ]) {
      const bytes = Buffer.from(`POST /api/similarity/ HTTP/1.1\r\nHost: x\r\n${field}\r\n\r\n${sent}`, "latin1");
      const r = await raw(dev.port, [bytes], 2, 1500);
      expect(r.closed).toBe(true);
      expect(r.responses.map((x) => x.status)).toEqual([400]);
      expect(JSON.parse(r.responses[0].body).error).toMatch(/Transfer-Encoding|Content-Length/);
    }
  });
});

describe("the HTTP/1.1 parser", () => {
  it("parses a request head, lower-casing names and joining repeats", () => {
    const h = parseHead("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\nContent-Length: 3");
    expect(h).toMatchObject({ method: "GET", target: "/a?b=1", minor: 1, contentLength: 3, keepAlive: true, expectContinue: false });
    expect(h.headers.get("accept")).toBe("a, b");
    expect(parseHead("GET / HTTP/1.0").keepAlive).toBe(false);
    expect(parseHead("GET / HTTP/1.0\r\nConnection: keep-alive").keepAlive).toBe(true);
    expect(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: close").keepAlive).toBe(false);
  });

  it("rejects smuggling-prone heads with 400", () => {
    for (const head of [
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2",
      "GET / HTTP/1.1\r\nHost: x\r\nHost: y",
      "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked",
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b",
      "GET  / HTTP/1.1\r\nHost: x",
      "GET /\x7f HTTP/1.1\r\nHost: x",
    ]) {
      expect(() => parseHead(head)).toThrow(HttpError);
    }
  });

  it("strips only spaces and tabs around a field value, so a no-break space (0xA0) spoils Content-Length and Transfer-Encoding instead of vanishing", () => {
    expect(parseHead("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \t5 \t").contentLength).toBe(5);
    expect(parseHead("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  chunked\t").contentLength).toBe(-1);
    expect(parseHead("GET / HTTP/1.1\r\nHost: x\r\nX-A: \xa0a b\xa0").headers.get("x-a")).toBe("\xa0a b\xa0");
    for (const field of ["Content-Length: 5\xa0", "Content-Length: \xa05", "Transfer-Encoding: chunked\xa0", "Transfer-Encoding: \xa0chunked"]) {
      expect(() => parseHead(`POST / HTTP/1.1\r\nHost: x\r\n${field}`)).toThrow(HttpError);
    }
    expect(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\xa0").keepAlive).toBe(true);
  });

  it("decodes chunked bodies incrementally and enforces the size limit", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(decodeChunked(enc("3\r\nabc\r\n"), 0, 100)).toEqual({ done: false });
    const r = decodeChunked(enc("3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\nNEXT"), 0, 100);
    expect(r.done).toBe(true);
    if (r.done) {
      expect(new TextDecoder().decode(r.body)).toBe("abcde");
      expect(r.end).toBe(36);
    }
    // Resuming from saved state over a buffer that grew gives the same body.
    const whole = "4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n";
    const state = newChunkState();
    for (let cut = 1; cut < whole.length; cut++) expect(decodeChunked(enc(whole.slice(0, cut)), 0, 100, state).done).toBe(false);
    const resumed = decodeChunked(enc(whole), 0, 100, state);
    expect(resumed.done && new TextDecoder().decode(resumed.body)).toBe("wikipedia");
    expect(() => decodeChunked(enc("65\r\n"), 0, 100)).toThrow("larger than 100");
    expect(() => decodeChunked(enc("zz\r\n"), 0, 100)).toThrow("malformed chunk size");
    expect(() => decodeChunked(enc("2\r\nabc\r\n"), 0, 100)).toThrow("malformed chunk");
  });
});

describe("line endings (RFC 9112 §2.2: a bare LF ends a line of the head, chunked framing needs CRLF, a bare CR is refused)", () => {
  it("answers a request whose lines all end in a bare LF, like printf … | nc sends, with the usual body and CRLF in the response", async () => {
    const health = await raw(dev.port, "GET /healthz HTTP/1.1\nHost: x\n\n");
    expect(health.responses[0].status).toBe(200);
    expect(JSON.parse(health.responses[0].body)).toEqual((await get("/healthz")).body);
    expect(health.text.slice(0, health.text.indexOf("\r\n\r\n"))).not.toMatch(/[^\r]\n/);
    const seed = await raw(dev.port, 'GET /api/similarity/ HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 21\n\n{"user_handle":"110"}');
    expect(seed.responses[0].status).toBe(200);
    expect(JSON.parse(seed.responses[0].body)).toEqual(expected(10));
  });

  it("answers a head mixing CRLF and LF, also when it arrives cut between the two kinds", async () => {
    const text = 'POST /api/similarity/ HTTP/1.1\r\nHost: x\nContent-Length: 21\r\n\n{"user_handle":"111"}';
    const whole = await raw(dev.port, text);
    expect(JSON.parse(whole.responses[0].body)).toEqual(expected(11));
    const he = text.indexOf("\r\n\n");
    const pieces = await raw(dev.port, [text.slice(0, he + 1), text.slice(he + 1, he + 2), text.slice(he + 2)]);
    expect(JSON.parse(pieces.responses[0].body)).toEqual(expected(11));
    // The empty line may be CRLF after an LF-terminated line too.
    const crlfEnd = await raw(dev.port, "GET /api/similarity/112 HTTP/1.1\nHost: x\n\r\n");
    expect(JSON.parse(crlfEnd.responses[0].body)).toEqual(expected(12));
  });

  it("ends a head at its first empty line, so an LF request pipelined before a CRLF one is answered first", async () => {
    const two = "GET /api/similarity/113 HTTP/1.1\nHost: x\n\n\n" + requestText("GET", "/api/similarity/114");
    const r = await raw(dev.port, two, 2);
    expect(r.responses.map((x) => JSON.parse(x.body))).toEqual([expected(13), expected(14)]);
  });

  it("refuses a bare CR in the request line, a header field or the empty line with 400 and closes, without waiting for the rest of the head", async () => {
    for (const text of [
      "GET /api/similarity/110 HTTP/1.1\rHost: x\r\n\r\n",
      "GET /api/similarity/110 HTTP/1.1\r\nHost: x\rX-Smuggled: 1\r\n\r\n",
      "GET /api/similarity/110 HTTP/1.1\nHost: x\r\r\n\r\n",
      "GET /api/similarity/110 HTTP/1.1\r\nHost: x\r\n\r\rGET /api/similarity/111 HTTP/1.1\r\n",
      "GET /api/similarity/110 HTTP/1.1\r\nHost: x\rn", // incomplete head: refused at once, not after the idle timeout
    ]) {
      const t0 = performance.now();
      const r = await raw(dev.port, text, 2);
      expect(r.closed).toBe(true);
      expect(r.responses).toHaveLength(1);
      expect(r.responses[0].status).toBe(400);
      expect(JSON.parse(r.responses[0].body).error).toContain("bare CR");
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });

  it("reads a chunked body after an LF-terminated head, but refuses with 400 and closes one whose chunk lines, data or trailers end in a bare LF", async () => {
    // A proxy that requires CRLF in chunked framing and this server would otherwise disagree on
    // where the chunks end, and a second request could be smuggled inside the first one's body.
    const head = "POST /api/similarity/ HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n";
    const crlf = await raw(dev.port, [head + '5\r\n{"use\r\n', '10;ext=1\r\nr_handle":"115"}\r\n0\r\nTrailer: t\r\n\r\n']);
    expect(JSON.parse(crlf.responses[0].body)).toEqual(expected(15));
    for (const body of [
      '5\n{"use\r\n10\r\nr_handle":"116"}\r\n0\r\n\r\n',
      '5\r\n{"use\n10\r\nr_handle":"116"}\r\n0\r\n\r\n',
      '15;ext=1\nr_handle":"116"}\r\n0\r\n\r\n',
      '15\r\n{"user_handle":"116"}\r\n0\nGET /api/similarity/117 HTTP/1.1\r\nHost: x\r\n\r\n',
      '15\r\n{"user_handle":"116"}\r\n0\r\nTrailer: t\n\r\n',
      '15\r\n{"user_handle":"116"}\r\n0\r\n\n',
      '5\r{"use\r\n0\r\n\r\n',
    ]) {
      const r = await raw(dev.port, head + body, 2, 1500);
      expect(r.closed).toBe(true);
      expect(r.responses.map((x) => x.status)).toEqual([400]);
      expect(JSON.parse(r.responses[0].body).error).toMatch(/bare (LF|CR)/);
    }
  });

  it("refuses a chunk extension outside RFC 9112's grammar with 400 and closes", async () => {
    const head = "POST /api/similarity/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const ok = await raw(dev.port, head + '15 ; a = "b\\"; c" ;d\r\n{"user_handle":"117"}\r\n0;e=f\r\n\r\n');
    expect(JSON.parse(ok.responses[0].body)).toEqual(expected(17));
    for (const line of ["15;\r\n", "15;a=\r\n", '15;a="b\r\n', "15;a b\r\n", "15;a=b\nX\r\n"]) {
      const r = await raw(dev.port, head + line + '{"user_handle":"117"}\r\n0\r\n\r\n', 2, 1500);
      expect(r.closed).toBe(true);
      expect(r.responses.map((x) => x.status)).toEqual([400]);
    }
  });
});

describe("the HTTP/1.1 parser, line endings", () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it("finds the end of a head after a CRLF or LF empty line, the same when resumed two bytes before the last end", () => {
    for (const [text, end] of [
      ["GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 24],
      ["GET / HTTP/1.1\nHost: x\n\nBODY", 22],
      ["GET / HTTP/1.1\r\nHost: x\n\r\nBODY", 23],
      ["GET / HTTP/1.0\n\n", 14],
    ] as const) {
      expect(findHeadEnd(enc(text), 0)).toBe(end);
      for (let cut = 1; cut < end + 2; cut++) {
        expect(findHeadEnd(enc(text.slice(0, cut)), 0)).toBe(-1);
        expect(findHeadEnd(enc(text), Math.max(0, cut - 2))).toBe(end);
      }
    }
  });

  it("parses a head with LF or mixed line ends like its CRLF form", () => {
    const crlf = parseHead("POST /a HTTP/1.1\r\nHost: x\r\nAccept: a\r\nAccept: b\r\nContent-Length: 3");
    for (const head of ["POST /a HTTP/1.1\nHost: x\nAccept: a\nAccept: b\nContent-Length: 3", "POST /a HTTP/1.1\nHost: x\r\nAccept: a\nAccept: b\r\nContent-Length: 3"]) {
      const h = parseHead(head);
      expect(h).toEqual(crlf);
      expect(h.headers.get("accept")).toBe("a, b");
      expect(h.headers.get("host")).toBe("x");
    }
  });

  it("rejects a bare CR in a head with 400 naming it, and keeps the field syntax strict with LF line ends", () => {
    for (const text of ["GET / HTTP/1.1\rHost: x\n\n", "GET / HTTP/1.1\nHost: x\rY: 1\n\n", "GET / HTTP/1.1\nHost: x\n\r\r\n"]) {
      expect(() => findHeadEnd(enc(text), 0)).toThrow("bare CR");
    }
    for (const head of ["GET / HTTP/1.1\r", "GET / HTTP/1.1\nHost: x\rY: 1", "GET / HTTP/1.1\nHost: x\nX: a\r\r"]) {
      const e = (() => {
        try {
          parseHead(head);
        } catch (e) {
          return e;
        }
      })();
      expect(e).toBeInstanceOf(HttpError);
      expect((e as HttpError).status).toBe(400);
      expect((e as HttpError).message).toContain("bare CR");
    }
    for (const head of ["GET / HTTP/1.1\nHost: x\n folded: header", "GET / HTTP/1.1\nHost : x", "GET / HTTP/1.1\nHost: x\nHost: y", "GET / HTTP/1.1\nHost: x\n\nX: y"]) {
      expect(() => parseHead(head)).toThrow(HttpError);
    }
  });

  /** The HttpError `f` throws, or undefined. */
  const thrown = (f: () => unknown): HttpError | undefined => {
    try {
      f();
    } catch (e) {
      if (e instanceof HttpError) return e;
      throw e;
    }
    return undefined;
  };

  it("refuses a bare LF in chunked framing with 400 wherever it replaces a CRLF, also when the body arrives byte by byte", () => {
    const whole = "4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nTrailer: t\r\n\r\n";
    const good = decodeChunked(enc(whole), 0, 100);
    expect(good.done && new TextDecoder().decode(good.body)).toBe("wikipedia");
    let cases = 0;
    for (let at = whole.indexOf("\r\n"); at >= 0; at = whole.indexOf("\r\n", at + 1), cases++) {
      const bad = whole.slice(0, at) + whole.slice(at + 1);
      const e = thrown(() => decodeChunked(enc(bad), 0, 100));
      expect(e?.status).toBe(400);
      expect(e?.message).toContain("bare LF");
      // Piecemeal: never a body, and the same refusal once the LF has arrived.
      const state = newChunkState();
      let refused: HttpError | undefined;
      for (let cut = 1; cut <= bad.length && !refused; cut++) {
        refused = thrown(() => expect(decodeChunked(enc(bad.slice(0, cut)), 0, 100, state).done).toBe(false));
      }
      expect(refused?.message).toContain("bare LF");
    }
    expect(cases).toBe(7);
  });

  it("refuses a bare CR in chunked framing with 400", () => {
    for (const text of ["4\rwiki\r\n", "4\r\nwiki\rX", "0\r\nX: a\rb\r\n\r\n"]) {
      const e = thrown(() => decodeChunked(enc(text), 0, 100));
      expect(e?.status).toBe(400);
      expect(e?.message).toContain("bare CR");
    }
  });

  it("accepts chunk extensions of RFC 9112's grammar (token names, token or quoted-string values, whitespace around ; and =) and refuses anything else with 400", () => {
    for (const ext of [";a", ";a=b", " ;a", "\t; a = b", ";a;b=c ;d", ';a="quoted; string"', ';a="esc\\"aped"', ";a=\"\"", ";x-y.z=1~2"]) {
      const r = decodeChunked(enc(`3${ext}\r\nabc\r\n0${ext}\r\n\r\n`), 0, 100);
      expect(r.done && new TextDecoder().decode(r.body)).toBe("abc");
    }
    for (const ext of [";", " ", "; ", ";=b", ";a=", ";a b", ";a=b c", ';a="unterminated', ';a="x"y', ";a=\"\x01\"", ";a=\x80", ";a\x00", ";a,b", "x", ";a=(b)"]) {
      for (const text of [`3${ext}\r\nabc\r\n0\r\n\r\n`, `0${ext}\r\n\r\n`]) {
        const e = thrown(() => decodeChunked(enc(text), 0, 100));
        expect(e?.status).toBe(400);
        expect(e?.message).toMatch(/malformed chunk (extension|size)/);
      }
    }
  });

  it("refuses a trailer line that is not a header field with 400", () => {
    expect(decodeChunked(enc("0\r\nX-T: a b\r\n\r\n"), 0, 100).done).toBe(true);
    for (const line of ["GET /admin HTTP/1.1", "X-T a", ": a", " X-T: a"]) {
      expect(thrown(() => decodeChunked(enc(`0\r\n${line}\r\n\r\n`), 0, 100))?.status).toBe(400);
    }
  });
});

describe("the connection limit", () => {
  const GET = (u: number) => requestText("GET", `/api/similarity/${u}`);

  /** Half a request head: a connection in the middle of a request, which is never evicted. */
  const HALF = "GET /api/similarity/110 HTTP/1.1\r\nHost: 127.0.0.1\r\n";

  it("holds --max-connections busy connections, answers one more with 503, Retry-After and a JSON error and closes it, and serves a newcomer once one leaves", async () => {
    const s = await serve(["--db", db, "--quiet", "--max-connections", "3"]);
    try {
      const held = await Promise.all([0, 1, 2].map(() => hold(s.port)));
      for (const [i, c] of held.entries()) expect(JSON.parse((await c.ask(GET(110 + i)))[0].body)).toEqual(expected(10 + i));
      // Each in the middle of its next request: none idle, so none can make room.
      const answers = held.map((c, i) => c.ask(HALF.replace("110", String(113 + i))));
      await Bun.sleep(100);
      const extra = await raw(s.port, [], 2);
      expect(extra.closed).toBe(true);
      expect(extra.responses).toHaveLength(1);
      const busy = extra.responses[0];
      expect(busy.status).toBe(503);
      expect(busy.headers["retry-after"]).toBe("1");
      expect(busy.headers.connection).toBe("close");
      expect(busy.headers["content-type"]).toStartWith("application/json");
      expect(Object.keys(JSON.parse(busy.body))).toEqual(["error"]);
      expect(JSON.parse(busy.body).error).toContain("too many connections");
      // Those already open are unaffected.
      for (const c of held) c.send("\r\n");
      for (const [i, a] of answers.entries()) expect(JSON.parse((await a)[0].body)).toEqual(expected(13 + i));
      held[1].end();
      await held[1].closed;
      const newcomer = await hold(s.port);
      expect(JSON.parse((await newcomer.ask(GET(116)))[0].body)).toEqual(expected(16));
      for (const c of [held[0], held[2], newcomer]) c.end();
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("counts exactly: after 50 connections closed every way (FIN, RST, Connection: close, 400, refused at the limit) it still holds the limit", async () => {
    const server = await startServer({ dbPath: db, table: "user_ranking", hostname: "127.0.0.1", port: 0, accessLog: false, maxConnections: 3 });
    const port = server.http.port;
    try {
      for (let i = 0; i < 50; i++) {
        const c = await hold(port);
        switch (i % 5) {
          case 0:
            expect((await c.ask(GET(110)))[0].status).toBe(200);
            c.end();
            break;
          case 1:
            expect((await c.ask(GET(110)))[0].status).toBe(200);
            c.reset();
            break;
          case 2:
            expect((await c.ask(requestText("GET", "/api/similarity/110", "", { Connection: "close" })))[0].status).toBe(200);
            break;
          case 3:
            expect((await c.ask("GET / HTTP/1.1\rHost: x\r\n\r\n"))[0].status).toBe(400);
            break;
          case 4: {
            // At the limit with every connection mid-request: two more held, a fourth refused,
            // then all leave.
            const more = [await hold(port), await hold(port)];
            for (const m of [c, ...more]) m.send(HALF);
            await Bun.sleep(100);
            expect((await raw(port, [], 2)).responses[0].status).toBe(503);
            for (const m of more) m.end();
            c.end();
            await Promise.all(more.map((m) => m.closed));
          }
        }
        await c.closed;
      }
      expect(await until(() => server.http.connections === 0)).toBe(true);
      const held = await Promise.all([0, 1, 2].map(() => hold(port)));
      for (const c of held) expect((await c.ask(GET(111)))[0].status).toBe(200);
      expect(server.http.connections).toBe(3);
      // At the limit a newcomer takes the slot of the connection idle longest.
      expect((await raw(port, GET(111))).responses[0].status).toBe(200);
      await held[0].closed;
      expect(await until(() => server.http.connections === 2)).toBe(true);
      for (const c of held) c.end();
    } finally {
      await server.close();
    }
  });

  it("closes an idle keep-alive connection quietly and a half-sent request with 408 after the idle timeout, freeing their slots", async () => {
    // Bun checks socket timeouts every few seconds: a 1 s timeout fires within about 4 s.
    const server = listen(() => ({ status: 200, body: "[]" }), { hostname: "127.0.0.1", port: 0, idleTimeout: 1, maxConnections: 2 });
    try {
      const idle = await hold(server.port);
      expect((await idle.ask(GET(110)))[0].status).toBe(200);
      const slow = await hold(server.port);
      const late = slow.ask("GET /api/similarity/110 HTTP/1.1\r\nHo");
      await Promise.all([idle.closed, slow.closed]);
      expect(parseResponses(idle.text())).toHaveLength(1);
      expect((await late).map((r) => r.status)).toEqual([408]);
      expect(server.connections).toBe(0);
      expect((await raw(server.port, GET(110))).responses[0].status).toBe(200);
    } finally {
      await server.stop(0);
    }
  }, 15_000);

  /** A raw connection: what came back so far, and when it closed. */
  async function dial(port: number) {
    const sock = connect(port, "127.0.0.1");
    let text = "";
    sock.on("data", (d) => (text += d.toString("latin1")));
    sock.on("error", () => {});
    const closedAt = new Promise<number>((r) => sock.on("close", () => r(performance.now())));
    await new Promise((r) => sock.on("connect", r));
    return { sock, text: () => text, closedAt };
  }

  it("answers 408 and closes a request still incomplete a timeout after its first byte, however steadily it trickles in, closes quietly a connection trickling only empty lines, and serves on a keep-alive client sending whole requests", async () => {
    const server = listen(() => ({ status: 200, body: "[]" }), { hostname: "127.0.0.1", port: 0, idleTimeout: 1, maxConnections: 3 });
    try {
      const slow = await dial(server.port);
      const blank = await dial(server.port);
      const t0 = performance.now();
      slow.sock.write("GET /api/similarity/110 HTTP/1.1\r\nHost: x\r\nX-Pad: ");
      // A byte every 100 ms: never idle, never done. And a client sending only the empty lines
      // allowed between requests.
      const drip = setInterval(() => {
        if (slow.sock.writable) slow.sock.write("p");
        if (blank.sock.writable) blank.sock.write("\r\n");
      }, 100);
      // Meanwhile a client on one connection sends each request in three pieces, for longer than
      // the timeout in all: the deadline is per request, not per connection.
      const steady = await dial(server.port);
      let sent = 0;
      while (performance.now() - t0 < 2000) {
        const text = GET(110);
        for (const piece of [text.slice(0, 10), text.slice(10, 30), text.slice(30)]) {
          steady.sock.write(piece);
          await Bun.sleep(60);
        }
        sent++;
        expect(await until(() => parseResponses(steady.text()).length === sent)).toBe(true);
      }
      const closed = await Promise.race([slow.closedAt, Bun.sleep(2000).then(() => -1)]);
      const blankClosed = await Promise.race([blank.closedAt, Bun.sleep(500).then(() => -1)]);
      clearInterval(drip);
      expect(parseResponses(slow.text()).map((r) => r.status)).toEqual([408]);
      expect(closed - t0).toBeGreaterThan(900);
      expect(closed - t0).toBeLessThan(2500);
      expect(blank.text()).toBe("");
      expect(blankClosed - t0).toBeGreaterThan(900);
      expect(blankClosed - t0).toBeLessThan(2500);
      expect(sent).toBeGreaterThan(3);
      expect(parseResponses(steady.text()).map((r) => r.status)).toEqual(Array(sent).fill(200));
      expect(steady.sock.destroyed).toBe(false);
      // The slow client's slot is free again.
      expect(await until(() => server.connections === 1)).toBe(true);
      expect((await raw(server.port, GET(111))).responses[0].status).toBe(200);
      steady.sock.end();
    } finally {
      await server.stop(0);
    }
  }, 10_000);

  it("logs connections refused at the limit as at most one line a second counting them, not a line each", async () => {
    const lines: string[] = [];
    const server = await startServer({
      dbPath: db,
      table: "user_ranking",
      hostname: "127.0.0.1",
      port: 0,
      maxConnections: 1,
      logSink: (text) => lines.push(...text.split("\n").filter(Boolean)),
    });
    const port = server.http.port;
    try {
      const held = await hold(port);
      held.send(HALF); // busy, so a newcomer cannot take its slot
      await Bun.sleep(100);
      const refused = await Promise.all(Array.from({ length: 50 }, () => raw(port, [], 2)));
      expect(refused.map((r) => r.responses[0]?.status)).toEqual(Array(50).fill(503));
      // Reported while refusing, not only at shutdown.
      expect(await until(() => lines.length > 0, 2500)).toBe(true);
      held.end();
      await held.closed;
    } finally {
      await server.close();
    }
    expect(lines.length).toBeLessThanOrEqual(2);
    let total = 0;
    for (const line of lines) {
      const m = /^\S+Z refused (\d+) connections? in the last second: --max-connections 1 reached$/.exec(line);
      expect(m).not.toBeNull();
      total += Number(m![1]);
    }
    expect(total).toBe(50);
  });
});

describe("slow and hostile clients (issue 14)", () => {
  const GET = (u: number) => requestText("GET", `/api/similarity/${u}`);

  it("closes a connection that sends nothing within --first-byte-timeout, while one that has started a request gets the whole request timeout", async () => {
    const server = listen(() => ({ status: 200, body: "[]" }), { hostname: "127.0.0.1", port: 0, firstByteTimeout: 1, idleTimeout: 30 });
    try {
      const t0 = performance.now();
      const silent = await hold(server.port);
      const started = await hold(server.port);
      const answer = started.ask("GET /api/similarity/110 HTTP/1.1\r\n");
      await silent.closed;
      const closedAfter = performance.now() - t0;
      expect(closedAfter).toBeGreaterThan(900);
      expect(closedAfter).toBeLessThan(2500);
      expect(silent.text()).toBe("");
      // Past the first-byte timeout, the connection that started a request is still open.
      await Bun.sleep(500);
      started.send("Host: 127.0.0.1\r\n\r\n");
      expect((await answer).map((r) => r.status)).toEqual([200]);
      started.end();
    } finally {
      await server.stop(0);
    }
  }, 10_000);

  it("at the connection limit closes the connection idle longest (keep-alive or silent) to admit a newcomer, not one that has just been active", async () => {
    const server = listen(() => ({ status: 200, body: "[]" }), { hostname: "127.0.0.1", port: 0, maxConnections: 3 });
    try {
      const a = await hold(server.port);
      expect((await a.ask(GET(110)))[0].status).toBe(200);
      const b = await hold(server.port);
      expect((await b.ask(GET(110)))[0].status).toBe(200);
      const c = await hold(server.port); // sends nothing
      await Bun.sleep(20);
      // a is active again: b is now the one idle longest, then the silent c, then a.
      expect((await a.ask(GET(110)))[0].status).toBe(200);
      const newcomers = [];
      for (const [i, out] of [b, c, a].entries()) {
        const n = await hold(server.port);
        expect((await n.ask(GET(111 + i)))[0].status).toBe(200);
        await out.closed;
        newcomers.push(n);
      }
      expect(parseResponses(b.text())).toHaveLength(1);
      expect(c.text()).toBe("");
      expect(server.connections).toBe(3);
      for (const n of newcomers) n.end();
    } finally {
      await server.stop(0);
    }
  });

  it("stops answering a client that does not read its answers (TCP backpressure instead of buffering), then answers everything in order once it reads", async () => {
    // 64 KiB answers: the kernel's buffers (a few MiB on loopback) fill after some tens of them.
    const big = JSON.stringify("x".repeat(64 * 1024));
    let handled = 0;
    const server = listen(
      (req) => {
        handled++;
        return { status: 200, body: `[${Number(req.target.slice(1))},${big}]` };
      },
      { hostname: "127.0.0.1", port: 0 },
    );
    const N = 400; // 26 MiB of answers
    try {
      let text = "";
      let closed = false;
      const sock = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        socket: {
          data(_s, d) {
            text += d.toString("latin1");
          },
          close() {
            closed = true;
          },
        },
      });
      sock.pause(); // read nothing for now
      sock.write(Array.from({ length: N }, (_, i) => requestText("GET", `/${i}`)).join(""));
      await Bun.sleep(1000);
      const whilePaused = handled;
      expect(whilePaused).toBeLessThan(N / 2);
      expect(closed).toBe(false);
      sock.resume();
      expect(await until(() => closed || parseResponses(text).length === N, 20_000)).toBe(true);
      const answers = parseResponses(text);
      expect(answers.map((r) => JSON.parse(r.body)[0])).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(closed).toBe(false);
      sock.end();
    } finally {
      await server.stop(0);
    }
  }, 30_000);

  it("does not read from a client owed answers it is not taking: what it goes on sending stays in the kernel (it meets backpressure), never in the server's memory, so it is not cut for it", async () => {
    // 64 KiB answers fill the kernel's buffers; then 1 MiB more of requests, more than the server
    // may hold unparsed for a connection (about 208 KiB): read, they would get the client cut.
    const big = JSON.stringify("x".repeat(64 * 1024));
    let handled = 0;
    const server = listen(() => {
      handled++;
      return { status: 200, body: big };
    }, { hostname: "127.0.0.1", port: 0 });
    try {
      let closed = false;
      const sock = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        socket: { data() {}, close: () => void (closed = true), error: () => void (closed = true) },
      });
      sock.pause();
      sock.write(Array.from({ length: 200 }, (_, i) => requestText("GET", `/${i}`)).join(""));
      expect(await until(() => handled > 0 && !closed, 5000)).toBe(true);
      await Bun.sleep(300); // the answers stop: the kernel's buffers are full
      const piece = requestText("GET", "/more").repeat(200); // about 8 KiB
      let sent = 0;
      for (let i = 0; i < 128 && !closed; i++) {
        const n = sock.write(piece);
        if (n < piece.length) break; // the client's own buffers are full: backpressure reached it
        sent += n;
        await Bun.sleep(5);
      }
      await Bun.sleep(500);
      expect(sent).toBeGreaterThan(0);
      expect(closed).toBe(false);
      expect(handled).toBeLessThan(200);
      sock.end();
    } finally {
      await server.stop(0);
    }
  }, 20_000);

  it("cuts a client with more than 64 KiB of pipelined requests waiting (it is not waiting for answers), so its input costs bounded memory", async () => {
    let handled = 0;
    const server = listen(
      () => {
        handled++;
        return { status: 200, body: "[]" };
      },
      { hostname: "127.0.0.1", port: 0 },
    );
    try {
      const one = requestText("GET", "/api/similarity/110");
      let text = "";
      const closed = new Promise<void>((resolve) =>
        Bun.connect({
          hostname: "127.0.0.1",
          port: server.port,
          socket: {
            open: (sock) => void sock.write(one.repeat(Math.ceil((200 * 1024) / one.length))),
            data: (_sock, d) => void (text += d.toString("latin1")),
            close: () => resolve(),
            error: () => resolve(),
          },
        }),
      );
      expect(await Promise.race([closed.then(() => "closed"), Bun.sleep(3000).then(() => "open")])).toBe("closed");
      expect(handled).toBeLessThan(100);
      expect(parseResponses(text).length).toBeLessThanOrEqual(handled);
      // Under the limit, a batch is answered in full.
      const batch = await raw(server.port, one.repeat(Math.floor((60 * 1024) / one.length)), Math.floor((60 * 1024) / one.length));
      expect(batch.responses).toHaveLength(Math.floor((60 * 1024) / one.length));
    } finally {
      await server.stop(0);
    }
  });

  it("answers a long pipelined batch a few requests at a time, so another connection's request is not held up behind it", async () => {
    const order: string[] = [];
    let single: Awaited<ReturnType<typeof hold>> | null = null;
    const server = listen(
      (req) => {
        order.push(req.target);
        // The other client sends its request as soon as the batch has started.
        if (req.target === "/batch/0") single!.send(requestText("GET", "/single"));
        const t = performance.now();
        if (req.target.startsWith("/batch")) while (performance.now() - t < 0.2); // 0.2 ms each: 40 ms in all
        return { status: 200, body: "[]" };
      },
      { hostname: "127.0.0.1", port: 0 },
    );
    try {
      single = await hold(server.port);
      const answered = single.ask("", 1);
      const batch = await raw(server.port, Array.from({ length: 200 }, (_, i) => requestText("GET", `/batch/${i}`)).join(""), 200);
      expect(batch.responses).toHaveLength(200);
      expect((await answered)[0].status).toBe(200);
      // Answered within a few turns of the batch, not after all 200 of it.
      expect(order.indexOf("/single")).toBeGreaterThan(0);
      expect(order.indexOf("/single")).toBeLessThan(50);
      expect(order.filter((t) => t.startsWith("/batch"))).toEqual(Array.from({ length: 200 }, (_, i) => `/batch/${i}`));
      single.end();
    } finally {
      await server.stop(0);
    }
  });
});

describe("shutdown (issue 14)", () => {
  it("answers the requests already received on a connection when stopped, the last one with Connection: close, and a request received but not yet read", async () => {
    // Answers take 100 ms, so requests pipelined behind the first wait in the server's buffer.
    const server = listen((req) => Bun.sleep(100).then(() => ({ status: 200, body: JSON.stringify(req.target) })), { hostname: "127.0.0.1", port: 0 });
    const busy = await hold(server.port);
    const idle = await hold(server.port);
    expect((await idle.ask(GET_("/warm")))[0].status).toBe(200);
    // Three pipelined requests and half a fourth, all read before the server stops.
    const answers = busy.ask(GET_("/1") + GET_("/2") + GET_("/3") + "GET /4 HTTP/1.1\r\n", 3);
    await Bun.sleep(50);
    // The idle connection's next request is sent as the server stops: received, not yet read.
    idle.send(GET_("/late"));
    const stopped = server.stop(2000);
    const got = await answers;
    expect(got.map((r) => JSON.parse(r.body))).toEqual(["/1", "/2", "/3"]);
    expect(got.map((r) => r.headers.connection ?? "(none)")).toEqual(["(none)", "(none)", "close"]);
    await busy.closed;
    await idle.closed;
    const late = parseResponses(idle.text());
    expect(late.map((r) => JSON.parse(r.body))).toEqual(["/warm", "/late"]);
    expect(late[1].headers.connection).toBe("close");
    await stopped;
  });
});

function GET_(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
}

describe("protocol notes (issue 14)", () => {
  it("takes an absolute-form target (RFC 9112 §3.2.2) as its path, its authority as the host", async () => {
    const h = parseHead("GET http://localhost:5000/api/similarity/110?n=2 HTTP/1.1\r\nHost: other");
    expect(h.target).toBe("/api/similarity/110?n=2");
    expect(h.headers.get("host")).toBe("localhost:5000");
    expect(parseHead("GET HTTPS://x HTTP/1.1\r\nHost: x").target).toBe("/");
    expect(parseHead("GET http://x?n=1 HTTP/1.1\r\nHost: x").target).toBe("/?n=1");
    for (const bad of ["GET http:///a HTTP/1.1\r\nHost: x", "GET http://u@x/a HTTP/1.1\r\nHost: x"]) expect(() => parseHead(bad)).toThrow(HttpError);
    const r = await raw(dev.port, "GET http://127.0.0.1/api/similarity/110?n=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(r.responses[0].status).toBe(200);
    expect(JSON.parse(r.responses[0].body)).toEqual(expected(10, 2));
  });

  it("answers a later HTTP/1.x as HTTP/1.1, and refuses HTTP/2.0 naming the version", async () => {
    expect(parseHead("GET / HTTP/1.2\r\nHost: x")).toMatchObject({ minor: 1, keepAlive: true });
    expect(() => parseHead("GET / HTTP/1.2")).toThrow("missing Host header");
    const r = await raw(dev.port, "GET /api/similarity/110 HTTP/1.2\r\nHost: x\r\n\r\n");
    expect(r.responses[0].status).toBe(200);
    expect(r.text).toStartWith("HTTP/1.1 200");
    expect(() => parseHead("GET / HTTP/2.0\r\nHost: x")).toThrow("only HTTP/1.x");
  });

  it("names a control character or a non-ASCII byte in the target as such, not as a version problem", () => {
    for (const [target, code] of [
      ["/a\x01b", "0x01"],
      ["/a\x7f", "0x7f"],
      ["/a\tb", "0x09"],
      ["/zo\xeb", "0xeb"],
    ]) {
      let message = "";
      try {
        parseHead(`GET ${target} HTTP/1.1\r\nHost: x`);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toContain(code);
      expect(message).toContain("request target");
      expect(message).not.toContain("HTTP/1");
    }
  });

  it("reads chunk sizes with leading zeros however many, and still refuses a size past 8 significant hex digits", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const r = decodeChunked(enc("0000000000000003\r\nabc\r\n00000000000\r\n\r\n"), 0, 100);
    expect(r.done && new TextDecoder().decode(r.body)).toBe("abc");
    expect(() => decodeChunked(enc("100000000\r\n"), 0, 100)).toThrow("larger than 100");
    expect(() => decodeChunked(enc("0100000000\r\n"), 0, 100)).toThrow("larger than 100");
  });

  it("answers an HTTP/1.0 keep-alive request with Connection: keep-alive and keeps the connection", async () => {
    const c = await hold(dev.port);
    const [a] = await c.ask("GET /api/similarity/110 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    expect(a.status).toBe(200);
    expect(a.headers.connection).toBe("keep-alive");
    const [b] = await c.ask("GET /api/similarity/111 HTTP/1.0\r\n\r\n");
    expect(JSON.parse(b.body)).toEqual(expected(11));
    expect(b.headers.connection).toBe("close");
    await c.closed;
  });
});

describe("Host names on a loopback server (DNS rebinding, issue 14)", () => {
  it("answers only localhost, 127.0.0.1 and [::1] (any port, any case) when bound to loopback in dev, 421 to any other name", async () => {
    const s = await serve(["--db", db, "--quiet"]);
    try {
      for (const host of ["localhost", `localhost:${s.port}`, "LocalHost:1", "127.0.0.1", `127.0.0.1:${s.port}`, "[::1]", `[::1]:${s.port}`]) {
        const r = await raw(s.port, `GET /api/similarity/110 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        expect([host, r.responses[0].status]).toEqual([host, 200]);
      }
      for (const host of ["attacker.example", `attacker.example:${s.port}`, "localhost.attacker.example", "127.0.0.1.nip.io", "[::2]"]) {
        const r = await raw(s.port, `GET /api/similarity/110 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        expect([host, r.responses[0].status]).toEqual([host, 421]);
        expect(JSON.parse(r.responses[0].body).error).toContain("localhost");
      }
      // The authority of an absolute-form target is the host that counts.
      const absolute = await raw(s.port, "GET http://attacker.example/api/similarity/110 HTTP/1.1\r\nHost: localhost\r\n\r\n");
      expect(absolute.responses[0].status).toBe(421);
      expect((await fetch(`${s.url}/api/similarity/110`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it("accepts any Host in prod (a proxy in front names the public host), where the token guards the API", async () => {
    const token = "t0ken-for-host-check";
    const s = await serve(["--db", db, "--quiet", "--env", "prod"], { RECSYS_API_TOKEN: token });
    try {
      const r = await raw(s.port, `GET /api/similarity/110 HTTP/1.1\r\nHost: recsys.example.com\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      expect(r.responses[0].status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
