/**
 * The REST API (issue 5) in-process: `createApp(...)` called directly with request objects, no
 * sockets. Routes, every input form, validation and JSON errors, injection attempts, health
 * and OpenAPI, bearer-token auth, a table that appears, disappears and is swapped by another
 * process under a request loop. The transport is test/http.test.ts; the CLI test/serve-cli.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, tableExists } from "../src/db/open.ts";
import { RankingsReader } from "../src/db/reader.ts";
import { MissingTableError } from "../src/db/store.ts";
import { openStore, type RankingsStore } from "../src/db/store.ts";
import { ingest } from "../src/ingest.ts";
import { runPipeline } from "../src/pipeline.ts";
import { loadRecommender, type Recommender } from "../src/recommender.ts";
import { openApp, type AppUnderTest } from "./fixtures/app.ts";
import { grouped, writeCsvDir } from "./fixtures/grouped.ts";
import { cyclicRankings, ERROR_CASES, expected, rankings, TOP, USERS, writeApiTable, writeTable } from "./fixtures/rankings.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-api-test-"));
const db = join(work, "rankings.db");

let app: AppUnderTest;

beforeAll(() => {
  writeApiTable(db);
  app = openApp(db);
});

afterAll(() => {
  expect(app.errors).toEqual([]);
  app.close();
  rmSync(work, { recursive: true, force: true });
});

const get = (path: string, init?: Parameters<AppUnderTest["call"]>[1]) => app.call(path, init);

describe("GET /api/similarity/ — the seed's form", () => {
  it("answers the seed's GET with a JSON body in rank order, scores rounded to 4 decimals, handles as strings", () => {
    const r = get("/api/similarity/", { body: '{"user_handle":"110"}', headers: { "Content-Type": "application/json" } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expected(10));
    expect(r.body[0].score).toBe(0.8957);
    expect(typeof r.body[0].similar).toBe("string");
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
});

describe("errors are JSON with a human message", () => {
  // test/http.test.ts sends the same requests over a socket and checks they go out as JSON.
  for (const [what, path, init, status, message] of ERROR_CASES) {
    it(`answers ${status} to ${what}`, async () => {
      const r = await get(path, init as Parameters<AppUnderTest["call"]>[1]);
      expect(r.status).toBe(status);
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
    expect(Object.keys(r.body.paths).sort()).toEqual([
      "/",
      "/api/items",
      "/api/openapi.json",
      "/api/recommendations/",
      "/api/similarity/",
      "/api/similarity/{user_handle}",
      "/api/tables",
      "/api/tables/{table}/histogram",
      "/api/users",
      "/api/users/{user_handle}",
      "/healthz",
    ]);
    const get_ = r.body.paths["/api/similarity/"].get;
    expect(get_.parameters.map((p: { name: string }) => p.name)).toEqual(["user_handle", "n", "exclude", "within", "min_score", "explain", "method", "table"]);
    expect(Object.keys(get_.responses).sort()).toEqual(["200", "400", "401", "404", "405", "408", "409", "413", "421", "431", "503"]);
    expect(r.body.paths["/api/similarity/"].post).toBeDefined();
  });
});

describe("bearer-token auth (what --env prod turns on)", () => {
  it("requires the token on /api routes (401 with WWW-Authenticate), not on /healthz", () => {
    const token = "s3cret-token-0123456789";
    const prod = openApp(db, { token });
    try {
      const none = prod.call("/api/similarity/110");
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      expect(none.body.error).toContain("bearer token");
      for (const auth of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${btoa(`u:${token}`)}`, token, "Bearer "]) {
        const r = prod.call("/api/similarity/110", { headers: { Authorization: auth } });
        expect(r.status).toBe(401);
      }
      expect(prod.call("/api/openapi.json").status).toBe(401);
      expect(prod.call("/api/nothing-here").status).toBe(401);
      const ok = prod.call("/api/similarity/110", { headers: { Authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual(expected(10));
      // The seed's GET-with-body form, with the scheme in lower case.
      const seed = prod.call("/api/similarity/", { body: '{"user_handle":"110"}', headers: { "Content-Type": "application/json", Authorization: `bearer ${token}` } });
      expect(seed.status).toBe(200);
      expect(prod.call("/healthz").status).toBe(200);
      expect(prod.errors).toEqual([]);
    } finally {
      prod.close();
    }
  });
});

describe("bearer token and /healthz in prod (issue 14)", () => {
  const token = "s3cret-token-0123456789";

  it("takes only spaces and tabs as the separator: a token followed by a no-break space (0xA0) is another token", () => {
    const prod = openApp(db, { token });
    try {
      for (const auth of [`Bearer ${token}\xa0`, `Bearer \xa0${token}`, `Bearer\xa0${token}`, `Bearer ${token} x`]) {
        expect(prod.call("/api/similarity/110", { headers: { Authorization: auth } }).status).toBe(401);
      }
      expect(prod.call("/api/similarity/110", { headers: { Authorization: `Bearer \t ${token}` } }).status).toBe(200);
    } finally {
      prod.close();
    }
  });

  it("compares the bytes sent with the token's UTF-8 bytes (header fields arrive as latin1 text)", () => {
    const accented = "s3crèt-tøken-0123456789";
    const prod = openApp(db, { token: accented });
    try {
      const sent = Buffer.from(accented, "utf8").toString("latin1");
      expect(prod.call("/api/similarity/110", { headers: { Authorization: `Bearer ${sent}` } }).status).toBe(200);
      expect(prod.call("/api/similarity/110", { headers: { Authorization: `Bearer ${accented}` } }).status).toBe(401);
    } finally {
      prod.close();
    }
  });

  it("answers /healthz with its status alone without the token, and the details (table, last run, errors) with it", () => {
    const prod = openApp(db, { token });
    try {
      for (const headers of [{}, { Authorization: `Bearer ${token}x` }, { Authorization: "Basic abc" }] as Record<string, string>[]) {
        const r = prod.call("/healthz", { headers });
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ status: "ok" });
      }
      const full = prod.call("/healthz", { headers: { Authorization: `Bearer ${token}` } });
      expect(full.status).toBe(200);
      expect(full.body.table).toEqual({ name: "user_ranking", present: true, topN: TOP });
      expect(full.body.lastRun.method).toBe("similarity");
    } finally {
      prod.close();
    }
    const missing = openApp(db, { token, table: "no_such_table" });
    try {
      const r = missing.call("/healthz");
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ status: "unavailable" });
      const full = missing.call("/healthz", { headers: { Authorization: `Bearer ${token}` } });
      expect(full.status).toBe(503);
      expect(full.body.error).toContain("no_such_table");
    } finally {
      missing.close();
    }
  });
});

describe("user_handle length", () => {
  it("counts characters, not UTF-16 units: 256 emoji are accepted, 257 are not", () => {
    const ask = (n: number) => get("/api/similarity/", { method: "POST", body: JSON.stringify({ user_handle: "😀".repeat(n) }) });
    expect(ask(256).status).toBe(404); // a valid handle of nobody
    const long = ask(257);
    expect(long.status).toBe(400);
    expect(long.body.error).toContain("at most 256 characters");
  });
});

describe("when the rankings table does not exist yet", () => {
  it("answers 503 naming the command that creates it, then serves the table once the pipeline writes it, without a restart", async () => {
    const path = join(work, "empty.db");
    openDatabase(path).close();
    const s = openApp(path);
    try {
      const r = s.call("/api/similarity/110");
      expect(r.status).toBe(503);
      expect(r.body.error).toContain("recsys pipeline --method similarity");
      const h = s.call("/healthz");
      expect(h.status).toBe(503);
      expect(h.body.table.present).toBe(false);
      writeTable(path, "user_ranking", rankings);
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await Bun.sleep(50);
        status = s.call("/api/similarity/110").status;
      }
      expect(status).toBe(200);
      // Dropped outright (not swapped): back to 503 once noticed, and back again when rewritten.
      const w = openDatabase(path);
      w.exec("DROP TABLE user_ranking");
      w.close();
      for (let i = 0; i < 40 && status !== 503; i++) {
        await Bun.sleep(50);
        status = s.call("/api/similarity/110").status;
      }
      expect(status).toBe(503);
      writeTable(path, "user_ranking", rankings);
      for (let i = 0; i < 40 && status !== 200; i++) {
        await Bun.sleep(50);
        status = s.call("/api/similarity/110").status;
      }
      expect(status).toBe(200);
      expect(s.errors).toEqual([]);
    } finally {
      s.close();
    }
  });
});

describe("a pipeline re-writing the table while clients ask", () => {
  it("loses no request across repeated atomic swaps from another process", async () => {
    const path = join(work, "swap.db");
    const users = 3000;
    const fixture = join(import.meta.dir, "fixtures/write-rankings.ts");
    // The fixture's table: user i ranks i+1..i+10 with scores 1, 0.99, …
    expect(Bun.spawnSync([process.execPath, fixture, path, "user_ranking", String(users)]).exitCode).toBe(0);
    const s = openApp(path);
    let stop = false;
    let swaps = 0;
    const writer = (async () => {
      while (!stop && swaps < 8) {
        const p = Bun.spawn([process.execPath, fixture, path, "user_ranking", String(users)], { stdout: "ignore", stderr: "pipe" });
        expect(await p.exited).toBe(0);
        swaps++;
      }
    })();
    const failures: string[] = [];
    let requests = 0;
    // Four interleaved clients; each yields to the event loop between requests, as a socket would.
    const client = async (id: number) => {
      while (!stop) {
        const u = 1 + ((requests * 7 + id) % (users - 20));
        requests++;
        const r = s.call("/api/similarity/", { method: "POST", body: JSON.stringify({ user_handle: String(u), n: 3 }) });
        if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
        else if (r.text !== `[{"similar":"${u + 1}","score":1},{"similar":"${u + 2}","score":0.99},{"similar":"${u + 3}","score":0.98}]`) failures.push(r.text);
        await Bun.sleep(0);
      }
    };
    const clients = [client(0), client(1), client(2), client(3)];
    await writer;
    stop = true;
    await Promise.all(clients);
    const health = s.call("/healthz").body;
    expect(s.errors).toEqual([]);
    s.close();
    expect(failures).toEqual([]);
    expect(swaps).toBe(8);
    expect(health.lastRun.id).toBe(9);
    expect(requests).toBeGreaterThan(100);
  }, 120_000);
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

describe("the explorer page's routes (profile, suggestions, tables, histograms) and the page itself", () => {
  let store: RankingsStore;
  let explorer: AppUnderTest;
  let sim: Recommender;
  const dir = join(work, "explore");
  const EPOCHS = 3;

  beforeAll(async () => {
    writeCsvDir(join(dir, "data"), grouped(150, 3));
    store = await openStore(join(dir, "recsys.db"));
    await runPipeline({ input: { dataDir: join(dir, "data") }, store, method: "similarity", topN: 10, threads: 1 });
    await runPipeline({ input: "store", store, method: "factorization", table: "fm_ranking", topN: 10, threads: 1, options: { training: "bpr", epochs: EPOCHS } });
    sim = await loadRecommender(store, "user_ranking");
    explorer = openApp(join(dir, "recsys.db"));
  }, 60_000);

  afterAll(() => {
    expect(explorer.errors).toEqual([]);
    explorer.close();
    store.close();
  });

  /** Each user's stored top rows of `table`, from SQLite directly. */
  function storedRows(table: string): Map<string, { similar: string; score: number }[]> {
    const raw = new Database(join(dir, "recsys.db"), { readonly: true });
    try {
      const rows = raw.query(`SELECT user_handle, similar, score FROM ${table} ORDER BY user_handle, rank`).all() as { user_handle: string; similar: string; score: number }[];
      const by = new Map<string, { similar: string; score: number }[]>();
      for (const r of rows) (by.get(r.user_handle) ?? by.set(r.user_handle, []).get(r.user_handle)!).push(r);
      return by;
    } finally {
      raw.close();
    }
  }

  it("GET /api/users/{handle} is the learner's profile, from the chosen table's model", async () => {
    const r = await explorer.ask("/api/users/7");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user_handle: "7", ...sim.profile("7") });
    expect(r.body.interests.length + Object.keys(r.body.courses).length).toBeGreaterThan(0);
    expect((await explorer.ask("/api/users/7?method=factorization")).body).toEqual(r.body);
    const ghost = await explorer.ask("/api/users/ghost");
    expect([ghost.status, ghost.body.error]).toEqual([404, 'unknown user "ghost": not in the data the table\'s run ranked']);
    expect((await explorer.ask("/api/users/7?n=3")).status).toBe(400);
    expect((await explorer.ask("/api/users/7?table=nope")).status).toBe(404);
    expect((await explorer.ask("/api/users/7", { method: "POST" })).status).toBe(405);
  });

  it("GET /api/users?prefix= suggests handles with the prefix, shortest first, at most limit (≤ 50)", async () => {
    const r = await explorer.ask("/api/users?prefix=1&limit=12");
    expect(r.status).toBe(200);
    expect(r.body.users).toEqual(["1", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "100"]);
    expect((await explorer.ask("/api/users?prefix=14")).body.users).toEqual(["14", "140", "141", "142", "143", "144", "145", "146", "147", "148"]);
    expect((await explorer.ask("/api/users?prefix=zz")).body.users).toEqual([]);
    expect((await explorer.ask("/api/users?limit=51")).body.error).toMatch(/limit must be an integer between 1 and 50/);
    expect((await explorer.ask("/api/users?prefix=1&prefix=2")).status).toBe(400);
    const items = await explorer.ask("/api/items?kind=interests&prefix=g1-tag1&limit=50");
    expect(items.body.kind).toBe("interests");
    expect(items.body.items.length).toBeGreaterThan(1);
    for (const i of items.body.items) expect(i.startsWith("g1-tag1")).toBe(true);
    expect((await explorer.ask("/api/items?kind=books")).body.error).toMatch(/kind must be one of/);
  });

  it("GET /api/tables lists every rankings table with its run, stages, input, staleness and FM's epochs", async () => {
    const r = await explorer.ask("/api/tables");
    expect(r.status).toBe(200);
    expect(r.body.served).toBe("user_ranking");
    const byName = Object.fromEntries(r.body.tables.map((t: { table: string }) => [t.table, t]));
    expect(Object.keys(byName).sort()).toEqual(["fm_ranking", "user_ranking"]);
    const fm = byName.fm_ranking;
    expect(fm.run.method).toBe("factorization");
    expect(fm.run.params.epochs).toBe(EPOCHS);
    expect(fm.run.users).toBe(storedRows("fm_ranking").size);
    expect(Object.keys(fm.run.stages)).toContain("train");
    expect(fm.run.input.sha256).toBe(r.body.input);
    expect(fm.stale).toBe(false);
    expect(fm.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2, 3]);
    for (const e of fm.epochs) expect(e.auc).toBeGreaterThan(0.5);
    expect(byName.user_ranking.run.method).toBe("similarity");
    expect(byName.user_ranking.epochs).toBeNull();
    expect((await explorer.ask("/api/tables?x=1")).status).toBe(400);
  });

  it("GET /api/tables/{t}/histogram bins the top-1 and rank-10 scores of every user, and overlap@10 with another table", async () => {
    const r = await explorer.ask("/api/tables/user_ranking/histogram?compare=fm_ranking");
    expect(r.status).toBe(200);
    const rows = storedRows("user_ranking");
    const theirs = storedRows("fm_ranking");
    const top1 = [...rows.values()].map((l) => l[0].score);
    expect(r.body.users).toBe(rows.size);
    expect(r.body.top1.min).toBe(Math.min(...top1));
    expect(r.body.top1.max).toBe(Math.max(...top1));
    expect(r.body.top1.counts.reduce((a: number, b: number) => a + b, 0)).toBe(rows.size);
    expect(r.body.top10.counts.reduce((a: number, b: number) => a + b, 0)).toBe([...rows.values()].filter((l) => l.length >= 10).length);
    const counts = new Array(11).fill(0);
    for (const [user, mine] of rows) {
      const set = new Set(theirs.get(user)?.map((x) => x.similar));
      counts[mine.filter((x) => set.has(x.similar)).length]++;
    }
    expect(r.body.overlap.counts).toEqual(counts);
    expect(r.body.overlap.users).toBe(rows.size);
    expect((await explorer.ask("/api/tables/user_ranking/histogram?compare=user_ranking")).status).toBe(400);
    expect((await explorer.ask("/api/tables/nope/histogram")).status).toBe(404);
    expect((await explorer.ask("/api/tables/user_ranking/other")).status).toBe(404);
  });

  it("keeps what it computed per database: another database's table of the same name and run id has its own histograms and epochs", async () => {
    const other = join(dir, "other.db");
    const otherStore = await openStore(other);
    try {
      // The same sequence of runs (ids 1 and 2, same table names) on other data.
      writeCsvDir(join(dir, "data2"), grouped(60, 9));
      await runPipeline({ input: { dataDir: join(dir, "data2") }, store: otherStore, method: "similarity", topN: 10, threads: 1 });
      await runPipeline({ input: "store", store: otherStore, method: "factorization", table: "fm_ranking", topN: 10, threads: 1, options: { training: "bpr", epochs: 2 } });
    } finally {
      otherStore.close();
    }
    const first = await explorer.ask("/api/tables/user_ranking/histogram");
    await explorer.ask("/api/tables");
    const app2 = openApp(other);
    try {
      const second = await app2.ask("/api/tables/user_ranking/histogram");
      expect(second.body.users).toBeLessThanOrEqual(60);
      expect(second.body.users).not.toBe(first.body.users);
      const fm = (await app2.ask("/api/tables")).body.tables.find((t: { table: string }) => t.table === "fm_ranking");
      expect(fm.epochs).toHaveLength(2);
    } finally {
      app2.close();
    }
  });

  it("GET /api/tables marks a table stale once the input changed since its run, and only then", async () => {
    const db = join(dir, "stale.db");
    const staleStore = await openStore(db);
    try {
      writeCsvDir(join(dir, "stale-a"), grouped(60, 4));
      writeCsvDir(join(dir, "stale-b"), grouped(60, 5));
      await runPipeline({ input: { dataDir: join(dir, "stale-a") }, store: staleStore, method: "similarity", topN: 10, threads: 1 });
      const app = openApp(db);
      try {
        const before = (await app.ask("/api/tables")).body;
        expect(before.tables.map((t: { stale: boolean }) => t.stale)).toEqual([false]);
        expect(before.tables[0].run.input.sha256).toBe(before.input);
        await ingest(join(dir, "stale-b"), staleStore);
        const after = (await app.ask("/api/tables")).body;
        expect(after.input).not.toBe(before.input);
        expect(after.tables.map((t: { stale: boolean }) => t.stale)).toEqual([true]);
        // The same input again: the table is current once more.
        await ingest(join(dir, "stale-a"), staleStore);
        expect((await app.ask("/api/tables")).body.tables.map((t: { stale: boolean }) => t.stale)).toEqual([false]);
      } finally {
        app.close();
      }
    } finally {
      staleStore.close();
    }
  });

  it("serves the page at / with a strict CSP, no inline script, and content-hashed assets cached for a year", async () => {
    const page = await explorer.ask("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    // Every script has a src: nothing inline for the CSP to allow.
    expect([...page.text.matchAll(/<script\b[^>]*>/g)].every((m) => / src="\/assets\/app-[0-9a-f]{12}\.js"/.test(m[0]))).toBe(true);
    for (const [asset, type] of [[/src="(\/assets\/[^"]+\.js)"/, "text/javascript"], [/href="(\/assets\/[^"]+\.css)"/, "text/css"]] as const) {
      const path = asset.exec(page.text)![1];
      const file = await explorer.ask(path);
      expect(file.status).toBe(200);
      expect(file.headers.get("content-type")).toStartWith(type);
      expect(file.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(file.text.length).toBeGreaterThan(1000);
    }
    expect((await explorer.ask("/", { method: "POST" })).status).toBe(405);
    expect((await explorer.ask("/assets/app-0000.js")).status).toBe(404);
  });

  it("in prod serves the page without the token (it holds no data) and every data route only with it", async () => {
    const prod = openApp(join(dir, "recsys.db"), { token: "s3cret" });
    try {
      expect((await prod.ask("/")).status).toBe(200);
      for (const path of ["/api/tables", "/api/users/7", "/api/users?prefix=1", "/api/tables/user_ranking/histogram"]) {
        expect((await prod.ask(path)).status).toBe(401);
        expect((await prod.ask(path, { headers: { Authorization: "Bearer s3cret" } })).status).toBe(200);
      }
    } finally {
      prod.close();
    }
  });
});
