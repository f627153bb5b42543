/**
 * `recsys serve` as a command: flags and environment, start-up refusals, prod mode, the access
 * log, a table created after start-up, signals and graceful shutdown, all against real
 * processes on ephemeral ports. The API itself is test/api.test.ts; the transport test/http.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { cliPath, runCli, type CliEnv } from "./fixtures/cli.ts";
import { parseResponses, type RawResponse } from "./fixtures/http.ts";
import { cyclicRankings, expected, rankings, writeApiTable, writeTable } from "./fixtures/rankings.ts";
import { serve, type Served } from "./fixtures/serve.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-serve-cli-test-"));
const db = join(work, "rankings.db");

const run = (args: string[], env: CliEnv = {}) => runCli(args, { env });
/** Handles of a second rankings table, none of them in USERS. */
const USERS_B = ["b1", "b2", "b3"];

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
    for (const bad of ["0", "-1", "2.5", "many", "65537", "1000000"]) {
      const r = run(["serve", "--db", db, "--port", "0", "--max-connections", bad]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("--max-connections must be an integer");
    }
  });

  it("refuses a --first-byte-timeout over 300 seconds", () => {
    const r = run(["serve", "--db", db, "--port", "0", "--first-byte-timeout", "301"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--first-byte-timeout must be at most 300 seconds");
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

describe("a database file replaced while served (issue 14)", () => {
  it("notices the file at the path replaced by mv, removes the old file's -wal and -shm, serves the new file, and answers 503 while the path is empty", async () => {
    const dir = join(work, "replace");
    mkdirSync(dir);
    const served = join(dir, "served.db");
    writeTable(served, "user_ranking", rankings, "similarity");
    const s = await serve(["--db", served]);
    try {
      expect(await (await fetch(`${s.url}/api/similarity/110`)).json()).toEqual(expected(10));
      // A pipeline writes while the server reads: the file's log now outlives the writer.
      writeTable(served, "user_ranking", cyclicRankings(USERS_B, 2), "similarity");
      const until = async (ok: () => Promise<boolean>) => {
        for (let i = 0; i < 60; i++) {
          if (await ok()) return true;
          await Bun.sleep(50);
        }
        return false;
      };
      expect(await until(async () => (await fetch(`${s.url}/api/similarity/b1`)).status === 200)).toBe(true);
      expect(existsSync(`${served}-wal`)).toBe(true);
      // A database built elsewhere, moved over the served one.
      const built = join(dir, "built.db");
      writeTable(built, "user_ranking", cyclicRankings(["7", "8", "9"], 2), "similarity");
      renameSync(built, served);
      // Noticed, and the old log removed, without waiting for a request.
      const replaced = /database \S+served\.db was replaced: serving the new file \(removed the replaced file's -wal and -shm\)/;
      expect(await until(async () => replaced.test(s.stderr()))).toBe(true);
      expect(await (await fetch(`${s.url}/api/similarity/7`)).json()).toEqual([{ similar: "8", score: 0.9 }, { similar: "9", score: 0.89 }]);
      // The new file is whole, and the pipeline can write it again.
      const check = openDatabase(served);
      expect(check.query("PRAGMA quick_check").get()).toEqual({ quick_check: "ok" });
      check.close();
      writeTable(served, "user_ranking", rankings, "similarity");
      expect(await until(async () => (await fetch(`${s.url}/api/similarity/110`)).status === 200)).toBe(true);
      // Nothing at the path: 503 until a database is there again.
      rmSync(served);
      expect(await until(async () => (await fetch(`${s.url}/api/similarity/110`)).status === 503)).toBe(true);
      const gone = await fetch(`${s.url}/api/similarity/110`);
      expect(gone.headers.get("retry-after")).toBe("1");
      expect(((await gone.json()) as any).error).toContain("is gone");
      expect((await fetch(`${s.url}/healthz`)).status).toBe(503);
      writeTable(built, "user_ranking", rankings, "similarity");
      renameSync(built, served);
      expect(await until(async () => (await fetch(`${s.url}/api/similarity/110`)).status === 200)).toBe(true);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      expect(s.stderr()).not.toContain(" error ");
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

/** Whether this machine lets us make a read-only bind mount in a private mount namespace. */
const canMountReadOnly = (() => {
  const probe = mkdtempSync(join(tmpdir(), "recsys-ro-probe-"));
  try {
    const script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && ! touch "$0/x" 2>/dev/null';
    return Bun.spawnSync(["unshare", "-rm", "sh", "-c", script, probe], { stderr: "ignore" }).exitCode === 0;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();
if (!canMountReadOnly) console.warn("SKIPPED: the read-only deployment tests (need `unshare -rm` to make a read-only bind mount)");

describe("a database in a read-only directory (issue 14)", () => {
  /** `recsys serve` with `dir` bind-mounted read-only onto itself: an executable for the serve fixture. */
  function readOnlyLauncher(dir: string): string {
    const exe = join(work, `ro-serve-${Math.random().toString(36).slice(2)}.sh`);
    writeFileSync(
      exe,
      `#!/bin/sh\nexec unshare -rm sh -c 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && shift && exec "$@"' ${JSON.stringify(dir)} x ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} "$@"\n`,
    );
    chmodSync(exe, 0o755);
    return exe;
  }

  it.skipIf(!canMountReadOnly)("serves it with serve --env prod, though SQLite cannot create the -shm a WAL database needs there", async () => {
    const dir = join(work, "readonly");
    mkdirSync(dir);
    const path = join(dir, "rankings.db");
    writeApiTable(path); // WAL mode, closed cleanly: no -wal, no -shm
    expect(existsSync(`${path}-shm`)).toBe(false);
    const token = "t0ken-for-readonly-dir";
    const s = await serve(["--env", "prod", "--db", path, "--quiet"], { RECSYS_API_TOKEN: token }, { exe: readOnlyLauncher(dir) });
    try {
      const r = await fetch(`${s.url}/api/similarity/110`, { headers: { Authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual(expected(10));
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(existsSync(`${path}-shm`)).toBe(false);
  });

  it.skipIf(!canMountReadOnly)("refuses one whose -wal still holds transactions, saying to checkpoint it, rather than serve it without them", async () => {
    const dir = join(work, "readonly-wal");
    mkdirSync(dir);
    const path = join(dir, "rankings.db");
    const source = join(work, "with-wal.db");
    writeApiTable(source);
    // Copied while a writer holds it open: the copy's -wal holds the last write.
    const w = openDatabase(source);
    w.exec("PRAGMA wal_autocheckpoint = 0");
    w.exec("DELETE FROM user_ranking WHERE user_handle = '110'");
    copyFileSync(source, path);
    copyFileSync(`${source}-wal`, `${path}-wal`);
    w.close();
    const r = Bun.spawnSync([readOnlyLauncher(dir), "serve", "--env", "prod", "--db", path, "--port", "0"], {
      env: { ...process.env, RECSYS_API_TOKEN: "t0ken", NO_COLOR: "1" },
      stderr: "pipe",
      timeout: 15_000,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("wal_checkpoint");
  });
});
