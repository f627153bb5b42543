/**
 * The REST API (issue 5) against real `recsys serve` processes on ephemeral ports: every status
 * code, the seed's `curl -X GET -d` form, injection attempts, protocol edges, prod token rules,
 * a pipeline re-writing the table under a request loop, graceful shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeChunked, findHeadEnd, HttpError, newChunkState, parseHead } from "../src/server/http1.ts";
import { listen } from "../src/server/http.ts";
import { startServer } from "../src/server/serve.ts";
import { tableExists } from "../src/db/open.ts";
import { MissingTableError, RankingsReader } from "../src/server/reader.ts";
import { Database } from "bun:sqlite";
import { connect } from "node:net";

import { serve, type Served } from "./fixtures/serve.ts";
import { openDatabase } from "../src/db/open.ts";
import { writeRankings } from "../src/db/rankings.ts";
import type { Rankings } from "../src/types.ts";

export const root = join(import.meta.dir, "..");
export const cli = join(root, "bin/recsys.ts");

/** Runs the CLI to completion. */
export function run(args: string[], env: Record<string, string | undefined> = {}) {
  const p = Bun.spawnSync(["bun", cli, ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_ENV: undefined, RESULTS_TABLE: undefined, RECSYS_DB: undefined, RECSYS_API_TOKEN: undefined, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses every complete HTTP/1.1 response in `text` (Content-Length framed). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let off = 0;
  while (off < text.length) {
    const he = text.indexOf("\r\n\r\n", off);
    if (he < 0) break;
    const lines = text.slice(off, he).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    if (status === 100) {
      off = he + 4;
      continue;
    }
    const len = Number(headers["content-length"] ?? 0);
    out.push({ status, headers, body: text.slice(he + 4, he + 4 + len) });
    off = he + 4 + len;
  }
  return out;
}

/**
 * Sends raw bytes (in pieces, with pauses, if given an array) and collects what comes back until
 * the server closes or `expect` responses have arrived.
 */
export function raw(port: number, pieces: (string | Uint8Array)[] | string, expect = 1, timeoutMs = 5000): Promise<{ responses: RawResponse[]; text: string; closed: boolean }> {
  const parts = typeof pieces === "string" ? [pieces] : pieces;
  return new Promise((resolve, reject) => {
    let text = "";
    let closed = false;
    const sock = connect(port, "127.0.0.1");
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: parseResponses(text), text, closed });
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on("data", (d) => {
      text += d.toString("utf8");
      if (parseResponses(text).length >= expect) done();
    });
    sock.on("close", () => {
      closed = true;
      done();
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("connect", async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await Bun.sleep(50);
        sock.write(parts[i]);
      }
    });
  });
}

/** A GET (or other method) with a JSON body, exactly as curl -X GET -d sends it. */
export function requestText(method: string, path: string, body = "", headers: Record<string, string> = {}): string {
  const h = { Host: "127.0.0.1", "Content-Type": "application/json", ...headers };
  let s = `${method} ${path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(h)) s += `${k}: ${v}\r\n`;
  if (body) s += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${s}\r\n${body}`;
}

/** Rankings for `users` handles, each ranked against the next `top` handles (cyclically). */
export function cyclicRankings(users: string[], top: number, score = (u: number, k: number) => 0.9 - 0.01 * k - 0.0001 * u): Rankings {
  const n = users.length;
  return {
    users,
    offsets: Int32Array.from({ length: n + 1 }, (_, i) => i * top),
    neighbors: Int32Array.from({ length: n * top }, (_, k) => (Math.floor(k / top) + 1 + (k % top)) % n),
    scores: Float64Array.from({ length: n * top }, (_, k) => score(Math.floor(k / top), k % top)),
  };
}

/** Writes `rankings` into `table` of the database at `path` (created if needed). */
export function writeTable(path: string, table: string, rankings: Rankings, method = "test"): void {
  const db = openDatabase(path);
  writeRankings(db, table, rankings, { method, params: {}, input: {}, startedAt: new Date(), stages: {} });
  db.close();
}

const work = mkdtempSync(join(tmpdir(), "recsys-server-test-"));
const db = join(work, "rankings.db");
const TOP = 5;
// Handles include the kinds the store must carry verbatim: integers, a quote, unicode, a space.
const USERS = [...Array.from({ length: 40 }, (_, i) => String(i + 100)), "o'brien", "zoë", "a b", "x/y"];
const rankings = cyclicRankings(USERS, TOP, (u, k) => (k === 0 && u === 10 ? 0.89567 : 0.9 - 0.01 * k - 0.0001 * u));

/** What the API must answer for USERS[u] and n, computed from the rankings we wrote. */
function expected(u: number, n = TOP): { similar: string; score: number }[] {
  return Array.from({ length: n }, (_, k) => ({
    similar: USERS[rankings.neighbors[u * TOP + k]],
    score: Math.round(rankings.scores[u * TOP + k] * 1e4) / 1e4,
  }));
}

let dev: Served;

beforeAll(async () => {
  writeTable(db, "user_ranking", rankings, "similarity");
  dev = await serve(["--db", db]);
});

afterAll(async () => {
  await dev?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(dev.url + path, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

describe("GET /api/similarity/ — the seed's form", () => {
  it("answers the exact curl command of the original tool (GET with a JSON body)", () => {
    if (Bun.spawnSync(["which", "curl"]).exitCode !== 0) {
      console.warn("curl not installed: skipping the literal curl check (the raw GET-with-body checks below still run)");
      return;
    }
    const p = Bun.spawnSync(["curl", "-s", "-X", "GET", "-H", "Content-type: application/json", "-d", '{"user_handle":"110"}', `${dev.url}/api/similarity/`]);
    expect(JSON.parse(p.stdout.toString())).toEqual(expected(10));
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

  it("accepts the same body by POST, an integer handle, and the handle in the path or the query", async () => {
    expect((await get("/api/similarity/", { method: "POST", body: '{"user_handle":"112"}' })).body).toEqual(expected(12));
    expect((await get("/api/similarity", { method: "POST", body: '{"user_handle":112}' })).body).toEqual(expected(12));
    expect((await get("/api/similarity/112")).body).toEqual(expected(12));
    expect((await get("/api/similarity/?user_handle=112")).body).toEqual(expected(12));
    expect((await get("/api/similarity?user_handle=112")).body).toEqual(expected(12));
    expect((await get(`/api/similarity/${encodeURIComponent("o'brien")}`)).body).toEqual(expected(40));
    expect((await get(`/api/similarity/?user_handle=${encodeURIComponent("zoë")}`)).body).toEqual(expected(41));
    expect((await get(`/api/similarity/${encodeURIComponent("x/y")}`)).body).toEqual(expected(43));
    expect((await get("/api/similarity/", { method: "POST", body: JSON.stringify({ user_handle: "a b" }) })).body).toEqual(expected(42));
    // Escapes and whitespace in the JSON mean the same handle as the plain form.
    expect((await get("/api/similarity/", { method: "POST", body: '{"user_handle":"o\\u0027brien"}' })).body).toEqual(expected(40));
    expect((await get("/api/similarity/", { method: "POST", body: '{ "user_handle" : "112" }\n' })).body).toEqual(expected(12));
    expect((await get("/api/similarity/", { method: "POST", body: '{"user_handle":"x\\/y"}' })).body).toEqual(expected(43));
  });

  it("takes n from the body or the query, defaulting to min(10, stored top-n)", async () => {
    expect((await get("/api/similarity/?user_handle=113&n=2")).body).toEqual(expected(13, 2));
    expect((await get("/api/similarity/113?n=1")).body).toEqual(expected(13, 1));
    expect((await get("/api/similarity/", { method: "POST", body: '{"user_handle":"113","n":3}' })).body).toEqual(expected(13, 3));
    expect((await get("/api/similarity/113")).body).toHaveLength(TOP);
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

describe("errors are JSON with a human message", () => {
  const cases: [string, string, RequestInit | undefined, number, RegExp][] = [
    ["malformed JSON", "/api/similarity/", { method: "POST", body: '{"user_handle":' }, 400, /malformed JSON/],
    ["a non-JSON body", "/api/similarity/", { method: "POST", body: "user_handle=110" }, 400, /malformed JSON/],
    ["a JSON array body", "/api/similarity/", { method: "POST", body: '["110"]' }, 400, /JSON object/],
    ["a body without user_handle", "/api/similarity/", { method: "POST", body: '{"n":3}' }, 400, /missing user_handle/],
    ["no handle at all", "/api/similarity/", undefined, 400, /missing user_handle/],
    ["an object handle", "/api/similarity/", { method: "POST", body: '{"user_handle":{"$ne":1}}' }, 400, /string or an integer/],
    ["a fractional handle", "/api/similarity/", { method: "POST", body: '{"user_handle":1.5}' }, 400, /string or an integer/],
    ["an empty handle", "/api/similarity/", { method: "POST", body: '{"user_handle":"  "}' }, 400, /must not be empty/],
    ["an over-long handle", `/api/similarity/${"a".repeat(300)}`, undefined, 400, /at most 256/],
    ["n = 0", "/api/similarity/?user_handle=110&n=0", undefined, 400, /n must be an integer between 1 and 5/],
    ["n past the stored top-n", "/api/similarity/110?n=6", undefined, 400, /between 1 and 5/],
    ["n not a number", "/api/similarity/", { method: "POST", body: '{"user_handle":"110","n":"three"}' }, 400, /n must be/],
    ["n fractional", "/api/similarity/", { method: "POST", body: '{"user_handle":"110","n":2.5}' }, 400, /n must be/],
    ["an unknown body field", "/api/similarity/", { method: "POST", body: '{"user_id":"110"}' }, 400, /unknown field "user_id"/],
    ["an unknown query parameter", "/api/similarity/?user=110", undefined, 400, /unknown query parameter/],
    ["conflicting handles", "/api/similarity/110?user_handle=111", undefined, 400, /given twice/],
    ["bad percent-encoding", "/api/similarity/%E0%A4%A", undefined, 400, /percent-encoding/],
    ["an unknown user", "/api/similarity/999999", undefined, 404, /no rankings for user "999999".*unknown user/],
    ["an unknown route", "/api/similar", undefined, 404, /no route/],
    ["the site root", "/", undefined, 404, /no route/],
    ["a nested path", "/api/similarity/110/extra", undefined, 404, /no route/],
  ];
  for (const [what, path, init, status, message] of cases) {
    it(`answers ${status} to ${what}`, async () => {
      const r = await get(path, init);
      expect(r.status).toBe(status);
      expect(r.headers.get("content-type")).toStartWith("application/json");
      expect(Object.keys(r.body)).toEqual(["error"]);
      expect(r.body.error).toMatch(message);
    });
  }

  it("answers 400 to a body that is not UTF-8", async () => {
    const r = await get("/api/similarity/", { method: "POST", body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) });
    expect(r.status).toBe(400);
  });

  it("answers 405 with an Allow header to a wrong method", async () => {
    for (const [method, path, allow] of [
      ["DELETE", "/api/similarity/110", "GET, HEAD, POST"],
      ["PUT", "/api/similarity/", "GET, HEAD, POST"],
      ["POST", "/healthz", "GET, HEAD"],
      ["POST", "/api/openapi.json", "GET, HEAD"],
    ]) {
      const r = await get(path, { method });
      expect(r.status).toBe(405);
      expect(r.headers.get("allow")).toBe(allow);
      expect(r.body.error).toContain(method);
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

  it("treats SQL in user_handle as an unknown handle and leaves the table intact", async () => {
    for (const attack of ["1 OR 1=1", "110' OR '1'='1", "110\"; DROP TABLE user_ranking; --", "'; DROP TABLE user_ranking; --", "110 UNION SELECT name, 1 FROM sqlite_master"]) {
      const viaBody = await get("/api/similarity/", { method: "POST", body: JSON.stringify({ user_handle: attack }) });
      expect(viaBody.status).toBe(404);
      const viaPath = await get(`/api/similarity/${encodeURIComponent(attack)}`);
      expect(viaPath.status).toBe(404);
      const viaQuery = await get(`/api/similarity/?user_handle=${encodeURIComponent(attack)}`);
      expect(viaQuery.status).toBe(404);
    }
    expect((await get("/api/similarity/110")).body).toEqual(expected(10));
    const check = openDatabase(db, { readonly: true });
    expect(tableExists(check, "user_ranking")).toBe(true);
    check.close();
  });
});

describe("GET /healthz and /api/openapi.json", () => {
  it("reports the database, the table and the last run", async () => {
    const r = await get("/healthz");
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("ok");
    expect(r.body.database).toBe("reachable");
    expect(r.body.table).toEqual({ name: "user_ranking", present: true, topN: TOP });
    expect(r.body.lastRun.method).toBe("similarity");
    expect(r.body.lastRun.users).toBe(USERS.length);
    expect(Date.parse(r.body.lastRun.finishedAt)).toBeGreaterThan(Date.now() - 600_000);
  });

  it("serves an OpenAPI 3.1 document naming every route, parameter and error", async () => {
    const r = await get("/api/openapi.json");
    expect(r.status).toBe(200);
    expect(r.body.openapi).toStartWith("3.1");
    expect(Object.keys(r.body.paths).sort()).toEqual(["/api/openapi.json", "/api/similarity/", "/api/similarity/{user_handle}", "/healthz"]);
    const get_ = r.body.paths["/api/similarity/"].get;
    expect(get_.parameters.map((p: { name: string }) => p.name)).toEqual(["user_handle", "n"]);
    expect(Object.keys(get_.responses).sort()).toEqual(["200", "400", "401", "404", "405", "408", "413", "431", "503"]);
    expect(r.body.paths["/api/similarity/"].post).toBeDefined();
  });

  it("writes one access-log line per request on stderr", async () => {
    await get("/api/similarity/118?n=1");
    await Bun.sleep(150); // the log is flushed every 50 ms
    expect(dev.stderr()).toMatch(/GET \/api\/similarity\/118 200 \d+\.\d\dms/);
  });
});

describe("when the rankings table does not exist yet", () => {
  it("answers 503 naming the command that creates it, then serves the table once the pipeline writes it, without a restart", async () => {
    const path = join(work, "empty.db");
    openDatabase(path).close();
    const s = await serve(["--db", path, "--quiet"]);
    try {
      const r = await fetch(`${s.url}/api/similarity/110`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as any).error).toContain("recsys pipeline --method similarity");
      const h = await fetch(`${s.url}/healthz`);
      expect(h.status).toBe(503);
      expect(((await h.json()) as any).table.present).toBe(false);
      writeTable(path, "user_ranking", rankings);
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await Bun.sleep(50);
        status = (await fetch(`${s.url}/api/similarity/110`)).status;
      }
      expect(status).toBe(200);
      // Dropped outright (not swapped): back to 503 once noticed, and back again when rewritten.
      const w = openDatabase(path);
      w.exec("DROP TABLE user_ranking");
      w.close();
      for (let i = 0; i < 40 && status !== 503; i++) {
        await Bun.sleep(50);
        status = (await fetch(`${s.url}/api/similarity/110`)).status;
      }
      expect(status).toBe(503);
      writeTable(path, "user_ranking", rankings);
      for (let i = 0; i < 40 && status !== 200; i++) {
        await Bun.sleep(50);
        status = (await fetch(`${s.url}/api/similarity/110`)).status;
      }
      expect(status).toBe(200);
      expect(s.stderr()).not.toMatch(/ GET /); // --quiet
      expect(s.stderr()).not.toContain("error");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

describe("start-up", () => {
  it("refuses an injected RESULTS_TABLE before touching the database", () => {
    for (const table of ['user_ranking"; DROP TABLE user_ranking; --', "x y", "sqlite_master"]) {
      const r = run(["serve", "--db", db, "--port", "0"], { RESULTS_TABLE: table });
      expect(r.code).not.toBe(0);
      expect(r.err).toContain("invalid results table name");
    }
    const flag = run(["serve", "--db", db, "--port", "0", "--results-table", "a;b"]);
    expect(flag.code).not.toBe(0);
  });

  it("refuses a missing database file and a bad port", () => {
    const missing = run(["serve", "--db", join(work, "nope.db"), "--port", "0"]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain("does not exist");
    expect(run(["serve", "--db", db, "--port", "70000"]).code).not.toBe(0);
  });

  it("takes the table, database and port from the environment, flags winning", async () => {
    writeTable(db, "other_ranking", cyclicRankings(["7", "8", "9"], 2));
    const s = await serve(["--db", db, "--quiet"], { RESULTS_TABLE: "other_ranking", PORT: "1" });
    try {
      expect(await (await fetch(`${s.url}/api/similarity/7`)).json()).toEqual([{ similar: "8", score: 0.9 }, { similar: "9", score: 0.89 }]);
    } finally {
      await s.stop();
    }
  });
});

describe("--env prod", () => {
  it("refuses to start without RECSYS_API_TOKEN or without an explicit database", () => {
    const noToken = run(["serve", "--env", "prod", "--db", db, "--port", "0"]);
    expect(noToken.code).not.toBe(0);
    expect(noToken.err).toContain("RECSYS_API_TOKEN");
    const noDb = run(["serve", "--env", "prod", "--port", "0"], { RECSYS_API_TOKEN: "s3cret-token" });
    expect(noDb.code).not.toBe(0);
    expect(noDb.err).toMatch(/--db|RECSYS_DB/);
  });

  it("requires the bearer token on /api routes (401 with WWW-Authenticate), not on /healthz, and binds 127.0.0.1", async () => {
    const token = "s3cret-token-0123456789";
    const s = await serve(["--quiet"], { DATABASE_ENV: "prod", RECSYS_DB: db, RECSYS_API_TOKEN: token, HOST: "0.0.0.0" });
    try {
      expect(s.url).toStartWith("http://127.0.0.1:");
      const none = await fetch(`${s.url}/api/similarity/110`);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      expect(((await none.json()) as any).error).toContain("bearer token");
      for (const auth of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${btoa(`u:${token}`)}`, token, "Bearer "]) {
        const r = await fetch(`${s.url}/api/similarity/110`, { headers: { Authorization: auth } });
        expect(r.status).toBe(401);
      }
      expect((await fetch(`${s.url}/api/openapi.json`)).status).toBe(401);
      expect((await fetch(`${s.url}/api/nothing-here`)).status).toBe(401);
      const ok = await fetch(`${s.url}/api/similarity/110`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual(expected(10));
      const seed = await raw(s.port, requestText("GET", "/api/similarity/", '{"user_handle":"110"}', { Authorization: `bearer ${token}` }));
      expect(seed.responses[0].status).toBe(200);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("opens the database read-only", async () => {
    const token = "t0ken-for-readonly-check";
    const s = await serve(["--env", "prod", "--db", db, "--quiet"], { RECSYS_API_TOKEN: token });
    try {
      // The read-only connection must not block a writer (the pipeline) nor be one.
      writeTable(db, "user_ranking", rankings, "similarity");
      const ok = await fetch(`${s.url}/api/similarity/110`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});

describe("a pipeline re-writing the table while clients ask", () => {
  it("loses no request across repeated atomic swaps from another process", async () => {
    const path = join(work, "swap.db");
    const users = 3000;
    const fixture = join(root, "test/fixtures/write-rankings.ts");
    // The fixture's table: user i ranks i+1..i+10 with scores 1, 0.99, …
    expect(Bun.spawnSync(["bun", fixture, path, "user_ranking", String(users)]).exitCode).toBe(0);
    const s = await serve(["--db", path, "--quiet"]);
    let stop = false;
    let swaps = 0;
    const writer = (async () => {
      while (!stop && swaps < 8) {
        const p = Bun.spawn(["bun", fixture, path, "user_ranking", String(users)], { stdout: "ignore", stderr: "pipe" });
        expect(await p.exited).toBe(0);
        swaps++;
      }
    })();
    const failures: string[] = [];
    let requests = 0;
    const client = async (id: number) => {
      while (!stop) {
        const u = 1 + ((requests * 7 + id) % (users - 20));
        requests++;
        const r = await fetch(`${s.url}/api/similarity/`, { method: "POST", body: JSON.stringify({ user_handle: String(u), n: 3 }) });
        const body = await r.text();
        if (r.status !== 200) failures.push(`${r.status} ${body}`);
        else if (body !== `[{"similar":"${u + 1}","score":1},{"similar":"${u + 2}","score":0.99},{"similar":"${u + 3}","score":0.98}]`) failures.push(body);
      }
    };
    const clients = [client(0), client(1), client(2), client(3)];
    await writer;
    stop = true;
    await Promise.all(clients);
    const health = (await (await fetch(`${s.url}/healthz`)).json()) as any;
    expect(await s.stop()).toBe(0);
    expect(failures).toEqual([]);
    expect(swaps).toBe(8);
    expect(health.lastRun.id).toBe(9);
    expect(requests).toBeGreaterThan(100);
  }, 120_000);
});

describe("SIGTERM and SIGINT", () => {
  it("finish the request in flight, refuse new connections, close the database and exit 0", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const s = await serve(["--db", db]);
      const body = '{"user_handle":"110"}';
      // Headers and half the body now; the signal; the rest after it.
      const inflight = new Promise<{ responses: RawResponse[]; closed: boolean }>((resolve, reject) => {
        const sock = connect(s.port, "127.0.0.1");
        let text = "";
        sock.on("data", (d) => (text += d));
        sock.on("close", () => resolve({ responses: parseResponses(text), closed: true }));
        sock.on("error", reject);
        sock.on("connect", async () => {
          sock.write(`GET /api/similarity/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
          await Bun.sleep(100);
          s.proc.kill(signal);
          await Bun.sleep(300);
          sock.write(body.slice(5));
        });
      });
      const idle = connect(s.port, "127.0.0.1"); // an idle keep-alive connection must not hold shutdown up
      const r = await inflight;
      expect(r.responses).toHaveLength(1);
      expect(r.responses[0].status).toBe(200);
      expect(r.responses[0].headers.connection).toBe("close");
      expect(JSON.parse(r.responses[0].body)).toEqual(expected(10));
      expect(await s.proc.exited).toBe(0);
      idle.destroy();
      await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
      expect(s.stderr()).toContain(`${signal}: finishing in-flight requests`);
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

describe("RankingsReader", () => {
  it("reads the new table through a statement prepared before the swap, and reports a dropped table as missing", () => {
    const path = join(work, "reader.db");
    writeTable(path, "user_ranking", cyclicRankings(["1", "2", "3"], 2, () => 0.5));
    const conn = new Database(path, { readonly: true, strict: true });
    // A long interval: only SQLite's own re-preparation and our retry can save these reads.
    const reader = new RankingsReader(conn, "user_ranking", { checkEveryMs: 60_000 });
    expect(reader.neighbors("1", 2)).toEqual([["2", 0.5], ["3", 0.5]]);
    writeTable(path, "user_ranking", cyclicRankings(["1", "2", "3"], 2, () => 0.25));
    expect(reader.neighbors("1", 2)).toEqual([["2", 0.25], ["3", 0.25]]);
    const w = openDatabase(path);
    w.exec("DROP TABLE user_ranking");
    w.close();
    expect(() => reader.neighbors("1", 2)).toThrow(MissingTableError);
    expect(reader.exists).toBe(false);
    reader.close();
    conn.close();
  });
});

/** A connection held open across requests, as a keep-alive client holds it. */
interface HeldConnection {
  /** Sends `text` and resolves with the responses that arrive for it. */
  ask(text: string, expect?: number): Promise<RawResponse[]>;
  /** Everything received so far. */
  text(): string;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
  /** Closes our side politely (FIN). */
  end(): void;
  /** Drops the connection (RST). */
  reset(): void;
}

function hold(port: number): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let text = "";
    let seen = 0;
    let waiter: (() => void) | null = null;
    const closed = new Promise<void>((r) => sock.on("close", () => (r(), waiter?.())));
    sock.on("data", (d) => {
      text += d.toString("latin1");
      waiter?.();
    });
    sock.on("error", () => {});
    sock.on("connect", () =>
      resolve({
        ask(request, expect = 1) {
          sock.write(request);
          return new Promise((res) => {
            waiter = () => {
              const all = parseResponses(text);
              if (all.length >= seen + expect || sock.destroyed) {
                waiter = null;
                res(all.slice(seen));
                seen = all.length;
              }
            };
          });
        },
        text: () => text,
        closed,
        end: () => sock.end(),
        reset: () => sock.resetAndDestroy(),
      }),
    );
    sock.once("error", reject);
  });
}

/** Polls `ok` every 10 ms for up to `ms`. */
async function until(ok: () => boolean, ms = 2000): Promise<boolean> {
  for (const t0 = Date.now(); !ok() && Date.now() - t0 < ms; ) await Bun.sleep(10);
  return ok();
}

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

  it("holds --max-connections keep-alive connections, answers one more with 503, Retry-After and a JSON error and closes it, and serves a newcomer once one leaves", async () => {
    const s = await serve(["--db", db, "--quiet", "--max-connections", "3"]);
    try {
      const held = await Promise.all([0, 1, 2].map(() => hold(s.port)));
      for (const [i, c] of held.entries()) expect(JSON.parse((await c.ask(GET(110 + i)))[0].body)).toEqual(expected(10 + i));
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
      for (const [i, c] of held.entries()) expect(JSON.parse((await c.ask(GET(113 + i)))[0].body)).toEqual(expected(13 + i));
      held[1].end();
      await held[1].closed;
      const newcomer = await hold(s.port);
      expect(JSON.parse((await newcomer.ask(GET(116)))[0].body)).toEqual(expected(16));
      expect((await raw(s.port, GET(117))).responses[0].status).toBe(503);
      for (const c of [held[0], held[2], newcomer]) c.end();
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("refuses a --max-connections that is not a positive integer", () => {
    for (const bad of ["0", "-1", "2.5", "many"]) {
      const r = run(["serve", "--db", db, "--port", "0", "--max-connections", bad]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("--max-connections must be an integer");
    }
  });

  it("counts exactly: after 50 connections closed every way (FIN, RST, Connection: close, 400, refused at the limit) it still holds the limit", async () => {
    const server = startServer({ dbPath: db, table: "user_ranking", hostname: "127.0.0.1", port: 0, accessLog: false, maxConnections: 3 });
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
            // At the limit: two more held, a fourth refused, then all leave.
            const more = [await hold(port), await hold(port)];
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
      expect((await raw(port, GET(111))).responses[0].status).toBe(503);
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
      expect((await raw(server.port, [], 2)).responses[0].status).toBe(503);
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
    const server = startServer({
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
