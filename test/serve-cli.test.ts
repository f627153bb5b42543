/**
 * `recsys serve` as a command: flags and environment, start-up refusals, prod mode, the access
 * log, a table created after start-up, signals and graceful shutdown, all against real
 * processes on ephemeral ports. The API itself is test/api.test.ts; the transport test/http.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { runCli, type CliEnv } from "./fixtures/cli.ts";
import { parseResponses, type RawResponse } from "./fixtures/http.ts";
import { cyclicRankings, expected, rankings, writeApiTable, writeTable } from "./fixtures/rankings.ts";
import { serve, type Served } from "./fixtures/serve.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-serve-cli-test-"));
const db = join(work, "rankings.db");

const run = (args: string[], env: CliEnv = {}) => runCli(args, { env });

beforeAll(() => writeApiTable(db));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the access log", () => {
  let dev: Served;
  beforeAll(async () => {
    dev = await serve(["--db", db]);
  });
  afterAll(async () => {
    await dev?.stop();
  });

  async function get(path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(dev.url + path, init);
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  it("writes one access-log line per request on stderr", async () => {
    await get("/api/similarity/118?n=1");
    await Bun.sleep(150); // the log is flushed every 50 ms
    expect(dev.stderr()).toMatch(/GET \/api\/similarity\/118 200 \d+\.\d\dms/);
  });
});

describe("recsys serve --quiet before the rankings table exists", () => {
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

  it("takes prod mode, database and token from the environment: the bearer token is required on /api routes, not on /healthz, and it binds 127.0.0.1 whatever HOST says", async () => {
    // The token rules in full are test/api.test.ts's; here, that `recsys serve` turns them on.
    const token = "s3cret-token-0123456789";
    const s = await serve(["--quiet"], { DATABASE_ENV: "prod", RECSYS_DB: db, RECSYS_API_TOKEN: token, HOST: "0.0.0.0" });
    try {
      expect(s.url).toStartWith("http://127.0.0.1:");
      const none = await fetch(`${s.url}/api/similarity/110`);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      expect(((await none.json()) as any).error).toContain("bearer token");
      const ok = await fetch(`${s.url}/api/similarity/110`, { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual(expected(10));
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
          sock.write(`GET /api/similarity/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
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

describe("--max-connections", () => {
  it("refuses a --max-connections that is not a positive integer", () => {
    for (const bad of ["0", "-1", "2.5", "many"]) {
      const r = run(["serve", "--db", db, "--port", "0", "--max-connections", bad]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("--max-connections must be an integer");
    }
  });
});

describe("--first-byte-timeout", () => {
  it("refuses a --first-byte-timeout that is not a positive number", () => {
    for (const bad of ["0", "-1", "soon"]) {
      const r = run(["serve", "--db", db, "--port", "0", "--first-byte-timeout", bad]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("--first-byte-timeout must be a positive number");
    }
  });
});

describe("SIGTERM under load (issue 14)", () => {
  it("answers every request already sent on busy keep-alive connections, and exits 0", async () => {
    const s = await serve(["--db", db, "--quiet"]);
    const request = "GET /api/similarity/110 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    // 20 clients, each sending its next request the moment it has an answer.
    const clients = Array.from({ length: 20 }, async () => {
      let sent = 0;
      let answered = 0;
      let closes = 0;
      let text = "";
      await new Promise<void>((resolve) => {
        Bun.connect({
          hostname: "127.0.0.1",
          port: s.port,
          socket: {
            open(sock) {
              sock.write(request);
              sent++;
            },
            data(sock, chunk) {
              text += chunk.toString("latin1");
              for (;;) {
                const he = text.indexOf("\r\n\r\n");
                if (he < 0) break;
                const head = text.slice(0, he);
                const end = he + 4 + Number(/content-length: (\d+)/i.exec(head)![1]);
                if (text.length < end) break;
                text = text.slice(end);
                answered++;
                if (/\r\nconnection: close/i.test(head)) closes++;
                else {
                  sock.write(request);
                  sent++;
                }
              }
            },
            close: () => resolve(),
            error: () => resolve(),
          },
        }).catch(() => resolve());
      });
      return { sent, answered, closes };
    });
    await Bun.sleep(500);
    s.proc.kill("SIGTERM");
    const results = await Promise.all(clients);
    expect(await s.proc.exited).toBe(0);
    expect(results.every((r) => r.answered > 10)).toBe(true);
    // Not one request sent and left unanswered.
    expect(results.map((r) => r.sent - r.answered)).toEqual(Array(20).fill(0));
    expect(results.reduce((n, r) => n + r.closes, 0)).toBeGreaterThan(0);
  });
});
