/**
 * The Postgres store against a real server: a throwaway cluster (test/fixtures/postgres.ts) started
 * once for this file and removed at the end. Without Postgres binaries the cluster tests are
 * skipped with the reason in their name and on stderr; the URL tests run everywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "../src/generate/index.ts";
import { ingest } from "../src/ingest.ts";
import { runPipeline } from "../src/pipeline.ts";
import { loadRecommender, StaleRankingsError } from "../src/recommender.ts";
import { openStore, maskLocation, type RunRecord } from "../src/db/store.ts";
import { PostgresStore } from "../src/db/postgres.ts";
import { methodNames } from "../src/methods/registry.ts";
import { inputTablesDDL } from "../src/db/pg-schema.ts";
import { maskUrl, parsePgUrl, PgUrlError, scrub } from "../src/db/pg-url.ts";
import type { Rankings } from "../src/types.ts";
import { root, runCli, spawnCli } from "./fixtures/cli.ts";
import { raw } from "./fixtures/http.ts";
import { cyclicRankings, ERROR_CASES, rankings as apiRankings, TOP, USERS, writeApiTable } from "./fixtures/rankings.ts";
import { serve } from "./fixtures/serve.ts";
import { PG_PASSWORD, pgUnavailable, startCluster, type PgCluster } from "./fixtures/postgres.ts";

const unavailable = pgUnavailable();
if (unavailable) process.stderr.write(`\n[postgres.test.ts] SKIPPING the tests against a real Postgres: ${unavailable}\n\n`);
const skipped = unavailable ? ` [SKIPPED: ${unavailable}]` : "";

const work = mkdtempSync(join(tmpdir(), "recsys-pgtest-"));
let pg: PgCluster;
beforeAll(async () => {
  if (!unavailable) pg = await startCluster();
}, 120_000);
afterAll(() => {
  pg?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("Postgres URLs", () => {
  it("parses libpq's URL form: user, password, host, IPv6, port, database, parameters (percent-decoded)", () => {
    const u = parsePgUrl("postgres://app:p%40ss%2Fw@db.example:6543/shop?sslmode=require&application_name=api");
    expect([u.user, u.password, u.host, u.port, u.database]).toEqual(["app", "p@ss/w", "db.example", 6543, "shop"]);
    expect(u.params.get("sslmode")).toBe("require");
    expect(parsePgUrl("postgresql://[::1]:5432/x").host).toBe("::1");
    const socket = parsePgUrl("postgres://app@/shop?host=/var/run/postgresql");
    expect([socket.host, socket.database, socket.params.get("host")]).toEqual([undefined, "shop", "/var/run/postgresql"]);
    expect(parsePgUrl("postgres://").database).toBeUndefined();
  });

  for (const [what, url, message] of [
    ["a port out of range", "postgres://u:hunter22@h:99999/d", /port must be a number from 1 to 65535, got "99999"/],
    ["a non-numeric port", "postgres://u:hunter22@h:abc/d", /port must be a number/],
    ["bad percent-encoding", "postgres://u:hunter%zz22@h/d", /bad percent-encoding in the password/],
    ["an unencoded @ in the password", "postgres://u:hun@ter22@h/d", /percent-encode "@" and "\/"/],
    ["several hosts", "postgres://u:hunter22@h1,h2/d", /several hosts/],
    ["whitespace", "postgres://u:hunter22@h/d b", /whitespace/],
    ["a parameter without a value", "postgres://u:hunter22@h/d?sslmode", /needs a value/],
  ] as const) {
    it(`refuses ${what}, naming it, with the password masked`, () => {
      let error: unknown;
      try {
        parsePgUrl(url);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PgUrlError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toMatch(/hunter/);
    });
  }

  it("masks the password wherever it is: user info (even with an unencoded @), password= and sslpassword= parameters", () => {
    expect(maskUrl("postgres://app:secret@h:5432/d")).toBe("postgres://app:***@h:5432/d");
    expect(maskUrl("postgres://app:se@cr/et@h/d")).toBe("postgres://app:***@h/d");
    expect(maskUrl("postgres://app@h/d?password=secret&sslpassword=x&sslmode=require")).toBe("postgres://app@h/d?password=***&sslpassword=***&sslmode=require");
    expect(maskUrl("postgres://h/d")).toBe("postgres://h/d");
    expect(maskLocation("data/recsys.db")).toBe("data/recsys.db");
    expect(maskLocation("postgresql://a:b@c/d")).toBe("postgresql://a:***@c/d");
    expect(maskLocation("mysql://a:b@c@d/e")).toBe("mysql://a:***@d/e");
  });

  it("scrubs driver messages of every secret, URLs and PGPASSWORD included", () => {
    const saved = process.env.PGPASSWORD;
    process.env.PGPASSWORD = "from-the-env";
    try {
      const url = parsePgUrl("postgres://app:s3cr3t%21@h/d");
      expect(scrub("failed for s3cr3t! at postgres://app:s3cr3t%21@h/d; env from-the-env", url)).toBe("failed for *** at postgres://app:***@h/d; env ***");
    } finally {
      if (saved === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = saved;
    }
  });

  it("are refused by the CLI before anything runs: a bad one is a usage error naming the flag or variable", () => {
    const bad = runCli(["similar", "110", "--db", "postgres://u:hunter22@127.0.0.1:99999/x"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--db: invalid Postgres URL postgres://u:***@127.0.0.1:99999/x: port must be");
    const env = runCli(["pipeline"], { env: { RECSYS_DB: "postgres://u:hunter22@h:0/x" } });
    expect(env.code).toBe(2);
    expect(env.err).toContain("RECSYS_DB: invalid Postgres URL");
    const other = runCli(["similar", "110", "--db", "mysql://u:hunter22@h/x"]);
    expect(other.code).toBe(2);
    expect(other.err).toContain("unsupported URL mysql://u:***@h/x");
    for (const r of [bad, env, other]) expect(r.out + r.err).not.toContain("hunter22");
  });
});

describe("the README's Postgres section", () => {
  it("shows exactly the CREATE TABLE statements `recsys ingest` runs", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```sql\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    expect(blocks).toContain(inputTablesDDL());
  });
});

/** Rows of a rankings table in key order (byte order of handles, then rank). */
async function pgRows(url: string, table: string): Promise<unknown[][]> {
  const sql = new SQL(url);
  try {
    return Array.from(await sql.unsafe(`SELECT user_handle, rank, "similar", score FROM "${table}" ORDER BY user_handle COLLATE "C", rank`).values());
  } finally {
    await sql.close();
  }
}

function sqliteRows(path: string, table: string): unknown[][] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query(`SELECT user_handle, rank, similar, score FROM "${table}" ORDER BY user_handle, rank`).values();
  } finally {
    db.close();
  }
}

/** One SQL statement's single value, as the superuser. */
async function scalar(url: string, query: string): Promise<unknown> {
  const sql = new SQL(url);
  try {
    return (await sql.unsafe(query).values())[0]?.[0];
  } finally {
    await sql.close();
  }
}

/** A digest of everything a database holds that recsys wrote: every user table's rows, in order. */
async function snapshot(url: string): Promise<Record<string, string>> {
  const sql = new SQL(url);
  try {
    const tables = (await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`.values()).map((r: string[]) => r[0]);
    const out: Record<string, string> = {};
    for (const t of tables) {
      const [[digest]] = await sql.unsafe(`SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C"), '')) FROM "${t}" x`).values();
      out[t] = digest;
    }
    return out;
  } finally {
    await sql.close();
  }
}

const runRecord = (method = "test"): RunRecord => ({ method, params: { topN: TOP }, input: { rows: 0 }, startedAt: new Date(), stages: {} });

/** Publishes `rankings` as `table` through an open Postgres store. */
function publish(store: PostgresStore, table: string, rankings: Rankings, method = "test") {
  return store.publish({ table, ranked: Promise.resolve({ rankings, run: runRecord(method) }) });
}

describe.skipIf(!!unavailable)(`Postgres store against a real server${skipped}`, () => {
  let data: string;
  beforeAll(async () => {
    data = join(work, "data");
    await generate({ users: 1200, seed: 5, outDir: data });
  }, 60_000);

  it("ranks the same rows as SQLite, row for row, with every registered method and similarity's --rank, from CSVs or from its own input tables", async () => {
    const url = await pg.createDatabase("same");
    const sqlite = join(work, "same.db");
    const variants: [string, string, Record<string, unknown>][] = [
      ["similarity", "similarity", {}],
      ["similarity_rank", "similarity", { rank: 8 }],
      ["factorization", "factorization", { epochs: 2 }],
      ["als", "als", { iterations: 2 }],
    ];
    expect([...new Set(variants.map(([, m]) => m))].sort()).toEqual(methodNames().sort());
    const imported = await ingest(data, url);
    expect(imported.location).toBe(maskLocation(url));
    expect(imported.location).not.toContain(PG_PASSWORD);
    for (const [name, method, options] of variants) {
      const table = `${name}_ranking`;
      const lite = await runPipeline({ input: { dataDir: data }, store: sqlite, method, options, table });
      // One Postgres run reads its own tables (ingested above), one is given the CSVs.
      const fromTables = await runPipeline({ input: "store", store: url, method, options, table });
      const fromCsv = await runPipeline({ input: { dataDir: data }, store: url, method, options, table: `${table}_csv` });
      const expected = sqliteRows(sqlite, table);
      expect(expected.length).toBeGreaterThan(10_000);
      expect(await pgRows(url, table)).toEqual(expected);
      expect(await pgRows(url, `${table}_csv`)).toEqual(expected);
      // The same input read back from Postgres: same fingerprint, same recorded counts.
      expect(fromTables.input).toEqual(lite.input);
      expect(fromCsv.input).toEqual(lite.input);
      expect([fromTables.run.users_ranked, fromTables.run.rows_written]).toEqual([lite.run.users_ranked, lite.run.rows_written]);
    }
    const store = await openStore(url);
    try {
      const run = (await store.lastRun("factorization_ranking"))!;
      expect(run.method).toBe("factorization");
      expect(Object.keys(run.stages)).toEqual(["load", "fingerprint", ...Object.keys(run.stages).slice(2)]);
      expect(run.started_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(await store.lastRun("no_such_table")).toBeNull();
    } finally {
      store.close();
    }
    // No password anywhere in what recsys recorded.
    const recorded = String(await scalar(url, "SELECT string_agg(r::text, ' ') FROM recsys_runs r")) + String(await scalar(url, "SELECT string_agg(i::text, ' ') FROM recsys_ingests i"));
    expect(recorded.length).toBeGreaterThan(100);
    expect(recorded).not.toContain(PG_PASSWORD);
  }, 400_000);

  it("keeps each run's model: the recommender answers exactly as the stored table, knows stale input, and export streams the table", async () => {
    const url = await pg.createDatabase("models");
    const data = join(root, "data/sample");
    await runPipeline({ input: { dataDir: data }, store: url, method: "similarity" });
    await runPipeline({ input: "store", store: url, method: "factorization", table: "fm", options: { epochs: 2 } });
    const store = await openStore(url, { readonly: true });
    try {
      for (const table of ["user_ranking", "fm"]) {
        let source = "";
        const rec = await loadRecommender(store, table, (info) => (source = info.source));
        expect(source).toBe("stored");
        const stored = new Map<string, [string, number][]>();
        for await (const [user, , similar, score] of store.scan(table)) stored.set(user, [...(stored.get(user) ?? []), [similar, score]]);
        expect(stored.size).toBeGreaterThan(500);
        for (const [user, rows] of stored) expect(rec.similar(user).neighbors.map((x) => [x.similar, x.score])).toEqual(rows);
      }
      expect((await store.rankingsTables()).map((t) => [t.table, t.run?.method])).toEqual([["fm", "factorization"], ["user_ranking", "similarity"]]);
      expect((await store.runs()).length).toBe(2);
      expect((await store.inputFingerprint())?.sha256).toBe(((await store.lastRun("fm"))!.input as { sha256: string }).sha256);
    } finally {
      store.close();
    }
    // Other input: the tables are stale, and the model's answers say so.
    const other = join(work, "other-input");
    await generate({ users: 300, seed: 5, outDir: other });
    await ingest(other, url);
    const after = await openStore(url, { readonly: true });
    try {
      await expect(loadRecommender(after, "fm")).rejects.toThrow(StaleRankingsError);
    } finally {
      after.close();
    }
  }, 120_000);

  it("carries handles with backslashes, tabs, newlines, quotes and a literal \\N through COPY both ways", async () => {
    const url = await pg.createDatabase("escapes");
    const dir = join(work, "escapes");
    mkdirSync(dir);
    const handles = ["plain", "back\\slash", "tab\there", "new\nline", "\\N", "quo\"te", "zoë"];
    const csv = (s: string) => `"${s.replaceAll('"', '""')}"`;
    writeFileSync(join(dir, "user_interests.csv"), "user_handle,interest_tag\n" + handles.map((h, i) => `${csv(h)},t${i % 2}\n${csv(h)},shared\n`).join(""));
    writeFileSync(join(dir, "user_assessment_scores.csv"), "user_handle,assessment_tag,user_assessment_score\n" + handles.map((h, i) => `${csv(h)},a,${i * 10.25}\n`).join(""));
    writeFileSync(join(dir, "user_course_views.csv"), "user_handle,course_id,level,view_time_seconds\n" + handles.map((h, i) => `${csv(h)},${csv(`c\\${i % 3}\t`)},Beginner,${i * 61.5}\n`).join(""));
    writeFileSync(join(dir, "course_tags.csv"), "course_id,course_tags\n" + [0, 1, 2].map((i) => `${csv(`c\\${i}\t`)},tag${i}\n`).join(""));
    const sqlite = join(work, "escapes.db");
    const lite = await runPipeline({ input: { dataDir: dir }, store: sqlite, method: "similarity" });
    await ingest(dir, url);
    const post = await runPipeline({ input: "store", store: url, method: "similarity" });
    expect(post.input).toEqual(lite.input);
    const rows = await pgRows(url, "user_ranking");
    expect(rows).toEqual(sqliteRows(sqlite, "user_ranking"));
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(handles));
  }, 60_000);

  it("ingests atomically: a value Postgres cannot store in the last file leaves the database exactly as it was", async () => {
    const url = await pg.createDatabase("atomic");
    await ingest(join(root, "data/sample"), url);
    const before = await snapshot(url);
    const bad = join(work, "nul");
    mkdirSync(bad);
    for (const f of ["user_interests", "user_assessment_scores", "user_course_views"]) writeFileSync(join(bad, `${f}.csv`), readFileSync(join(data, `${f}.csv`)));
    writeFileSync(join(bad, "course_tags.csv"), "course_id,course_tags\npy-101,python\npy-102,py\0thon\n");
    const r = runCli(["ingest", "--data-dir", bad, "--db", url]);
    expect(r.code).toBe(2);
    // The reader refuses the NUL byte (file, line, column) before the database is touched.
    expect(r.err).toContain("course_tags.csv line 3, column course_tags");
    expect(r.err).toContain("NUL byte");
    expect(r.err).not.toContain(PG_PASSWORD);
    expect(await snapshot(url)).toEqual(before);
    // The same through a pipeline given the CSVs: nothing written either.
    const p = runCli(["pipeline", "--data-dir", bad, "--db", url]);
    expect(p.code).toBe(2);
    expect(await snapshot(url)).toEqual(before);
  }, 60_000);

  it("refuses bad CSVs with SQLite's exact message and exit code, leaving the database as it was", async () => {
    const url = await pg.createDatabase("validation");
    await ingest(join(root, "data/sample"), url);
    const before = await snapshot(url);
    const read = (f: string) => readFileSync(join(root, "data/sample", `${f}.csv`), "utf8");
    // Each case spoils one file (course_tags is read last); the others are the good sample's.
    const cases: [string, string | null][] = [
      ["course_tags", "course_id,course_tags\na,b\nc\n"],
      ["course_tags", "course_id,tags\na,b\n"],
      ["user_assessment_scores", read("user_assessment_scores") + `3,"java","2017-08-11 19:03:38",-3\n`],
      ["user_interests", read("user_interests").replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, "2017-02-30 04:37:31")],
      ["user_course_views", null],
    ];
    for (const [i, [spoiled, text]] of cases.entries()) {
      const dir = join(work, `invalid-${i}`);
      mkdirSync(dir);
      for (const f of ["user_interests", "user_assessment_scores", "user_course_views", "course_tags"]) {
        const body = f === spoiled ? text : read(f);
        if (body !== null) writeFileSync(join(dir, `${f}.csv`), body);
      }
      const lite = runCli(["ingest", "--data-dir", dir, "--db", join(work, `invalid-${i}.db`)]);
      const pgr = runCli(["ingest", "--data-dir", dir, "--db", url]);
      expect(lite.code).toBe(2);
      expect(lite.err).toContain(`${spoiled}.csv`);
      expect([pgr.code, pgr.err]).toEqual([lite.code, lite.err]);
    }
    expect(await snapshot(url)).toEqual(before);
  }, 180_000);

  it("takes what the URL leaves out from PGUSER, PGPASSWORD, PGHOST, PGPORT, PGDATABASE (the URL's parts win), and shows no password", async () => {
    const url = await pg.createDatabase("pgenv");
    const db = url.slice(url.lastIndexOf("/") + 1);
    const sample = join(root, "data/sample");
    // Only the password from the environment; PGDATABASE names another database, which the URL's overrides.
    const partial = runCli(["ingest", "--data-dir", sample, "--db", `postgres://recsys@127.0.0.1:${pg.port}/${db}`], { env: { PGPASSWORD: PG_PASSWORD, PGDATABASE: "postgres" } });
    expect(partial.code).toBe(0);
    expect(partial.err).toContain(`ingested into postgres://recsys@127.0.0.1:${pg.port}/${db} `);
    // Everything from the environment.
    const env = { PGHOST: "127.0.0.1", PGPORT: String(pg.port), PGUSER: "recsys", PGPASSWORD: PG_PASSWORD, PGDATABASE: db };
    const bare = runCli(["pipeline", "--method", "similarity", "--db", "postgres://"], { env });
    expect(bare.code).toBe(0);
    expect(await scalar(url, "SELECT count(*)::int FROM user_ranking")).toBeGreaterThan(100);
    // No password anywhere: refused in one line naming the cause.
    const none = runCli(["similar", "110", "--db", `postgres://recsys@127.0.0.1:${pg.port}/${db}`], { env: { PGPASSWORD: undefined } });
    expect(none.code).toBe(1);
    expect(none.err.trim().split("\n")).toHaveLength(1);
    expect(none.err).toMatch(/cannot connect to Postgres at 127\.0\.0\.1:\d+ .*password/);
    for (const r of [partial, bare, none]) expect(r.out + r.err).not.toContain(PG_PASSWORD);
  }, 120_000);

  it("swaps tables under concurrent readers: every answer is complete and from one table, and the reader notices within 1 s", async () => {
    const url = await pg.createDatabase("swap");
    const store = await PostgresStore.open(url);
    const users = Array.from({ length: 300 }, (_, i) => `u${i}`);
    // Generation g scores every neighbour g / 10: a mix would show two scores in one answer.
    const generationOf = (g: number) => cyclicRankings(users, 10, () => g / 10);
    await publish(store, "user_ranking", generationOf(1));
    const reader = store.reader("user_ranking", { checkEveryMs: 100 });
    expect(await reader.sync(true)).toBe(true);
    expect([reader.exists, reader.topN()]).toEqual([true, 10]);
    let stop = false;
    const seen = new Set<number>();
    let answers = 0;
    const failures: string[] = [];
    const loops = Array.from({ length: 16 }, async (_, k) => {
      for (let i = k; !stop; i += 16) {
        try {
          const rows = await reader.neighbors(users[i % users.length], 10);
          const scores = new Set(rows.map((r) => r[1]));
          if (rows.length !== 10 || scores.size !== 1) failures.push(`${rows.length} rows, scores ${[...scores]}`);
          for (const s of scores) seen.add(Math.round(s * 10));
          answers++;
        } catch (e) {
          failures.push(String(e));
        }
      }
    });
    const noticed: number[] = [];
    for (let g = 2; g <= 7; g++) {
      const generation = reader.generation;
      await publish(store, "user_ranking", generationOf(g));
      const t0 = performance.now();
      while (reader.generation === generation && performance.now() - t0 < 3000) await Bun.sleep(5);
      noticed.push(performance.now() - t0);
      await Bun.sleep(50);
    }
    stop = true;
    await Promise.all(loops);
    reader.close();
    store.close();
    expect(failures).toEqual([]);
    expect(answers).toBeGreaterThan(500);
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(Math.max(...noticed)).toBeLessThan(1000);
  }, 60_000);

  it("kill -9 of a pipeline inside its write transaction leaves the served table and the input; a re-run completes", async () => {
    const url = await pg.createDatabase("kill");
    const big = join(work, "big");
    await generate({ users: 4000, seed: 9, outDir: big });
    const first = runCli(["pipeline", "--method", "similarity", "--data-dir", data, "--db", url, "--json"]);
    expect(first.code).toBe(0);
    const before = await snapshot(url);
    const proc = spawnCli(["pipeline", "--method", "similarity", "--data-dir", big, "--db", url]);
    // The write transaction holds the store's advisory lock: kill as soon as it is taken.
    const watcher = new SQL(url);
    let held = false;
    const t0 = performance.now();
    while (!held && proc.exitCode === null && performance.now() - t0 < 60_000) {
      const [[n]] = await watcher`SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND granted`.values();
      held = n > 0;
      if (!held) await Bun.sleep(2);
    }
    proc.kill("SIGKILL");
    await proc.exited;
    expect(held).toBe(true);
    expect(proc.signalCode).toBe("SIGKILL");
    // The server rolls the transaction back once it sees the connection gone.
    for (let i = 0; i < 200; i++) {
      const [[n]] = await watcher`SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory'`.values();
      if (n === 0) break;
      await Bun.sleep(10);
    }
    await watcher.close();
    expect(await snapshot(url)).toEqual(before);
    const again = runCli(["pipeline", "--method", "similarity", "--data-dir", big, "--db", url, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out).users).toBe(4000);
    expect(await scalar(url, "SELECT count(DISTINCT user_handle)::int FROM user_ranking")).toBe(4000);
  }, 120_000);

  it("reads a platform's own tables: other column types cast, NULLs refused naming table and column", async () => {
    const url = await pg.createDatabase("platform");
    const db = url.slice(url.lastIndexOf("/") + 1);
    pg.psql(
      db,
      `CREATE TABLE user_interests (user_handle bigint, interest_tag text, extra int);
       CREATE TABLE user_assessment_scores (user_handle bigint, assessment_tag text, user_assessment_score numeric(6,2));
       CREATE TABLE user_course_views (user_handle bigint, course_id text, level text, view_time_seconds integer);
       CREATE TABLE course_tags (course_id text, course_tags text);
       INSERT INTO user_interests VALUES (1, 'python', 0), (2, 'python', 0), (3, 'java', 0);
       INSERT INTO user_assessment_scores VALUES (1, 'python', 150.5), (2, 'python', 120);
       INSERT INTO user_course_views VALUES (1, 'c1', 'Beginner', 600), (2, 'c1', 'Beginner', 300), (3, 'c2', 'Advanced', 60);
       INSERT INTO course_tags VALUES ('c1', 'python'), ('c2', 'java');`,
    );
    const ok = runCli(["pipeline", "--db", url, "--json"]);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    expect(runCli(["similar", "1", "--db", url, "--json"]).out.trim()).toMatch(/^\[\{"similar":"2","score":(1|0\.\d+)\}\]$/);
    pg.psql(db, "INSERT INTO user_course_views VALUES (4, 'c1', 'Beginner', NULL)");
    const bad = runCli(["pipeline", "--db", url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("Postgres table user_course_views column view_time_seconds: expected a value in every row, got NULL (row 4 in scan order)");
    pg.psql(db, "DELETE FROM user_course_views WHERE user_handle = 4; ALTER TABLE course_tags RENAME COLUMN course_tags TO tag");
    const renamed = runCli(["pipeline", "--db", url]);
    expect(renamed.code).toBe(2);
    expect(renamed.err).toContain("Postgres table course_tags: expected columns course_id, course_tags");
  }, 60_000);

  it("says in one line what is wrong: wrong password, refused port, unknown host, missing database, missing tables (password never shown)", async () => {
    const url = await pg.createDatabase("errors");
    const wrong = pg.url(url.slice(url.lastIndexOf("/") + 1), "wrong-password-123");
    const cases: [string[], number, RegExp][] = [
      [["pipeline", "--db", wrong], 1, /cannot connect to Postgres at 127\.0\.0\.1:\d+ \(database "errors_\d+_\d+"\): password authentication failed for user "recsys": check the password in the URL or PGPASSWORD/],
      [["similar", "110", "--db", `postgres://recsys:${PG_PASSWORD}@127.0.0.1:1/x`], 1, /cannot connect to Postgres at 127\.0\.0\.1:1 \(database "x"\): connection refused/],
      [["ingest", "--data-dir", data, "--db", `postgres://recsys:${PG_PASSWORD}@no-such-host.invalid/x`], 1, /cannot resolve host "no-such-host.invalid"/],
      [["similar", "110", "--db", pg.url("no_such_db")], 1, /database "no_such_db" does not exist/],
      [["pipeline", "--db", url], 2, /the database has no user_interests, user_assessment_scores, user_course_views, course_tags tables: run recsys ingest/],
      [["similar", "110", "--db", url], 1, /rankings table "user_ranking" does not exist yet/],
      [["serve", "--port", "0", "--db", wrong], 1, /cannot connect to Postgres .*password authentication failed/],
    ];
    for (const [args, code, message] of cases) {
      const r = runCli(args, { timeout: 30_000 });
      expect(`${args[0]} → ${r.code}`).toBe(`${args[0]} → ${code}`);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n").filter((l) => l.trim())).toHaveLength(1);
      expect(r.out + r.err).not.toContain(PG_PASSWORD);
      expect(r.out + r.err).not.toContain("wrong-password-123");
    }
  }, 60_000);

  it("recsys serve --db postgres://… answers the API exactly as SQLite does (two replicas alike), pipelined requests in order, and serves a new table within 1 s", async () => {
    const url = await pg.createDatabase("serve");
    const sqlite = join(work, "api.db");
    writeApiTable(sqlite);
    const store = await PostgresStore.open(url);
    await publish(store, "user_ranking", apiRankings, "similarity");
    const lite = await serve(["--db", sqlite, "--quiet"]);
    const post = await serve(["--db", url, "--quiet"]);
    // A second replica on the same database, its URL from the environment.
    const replica = await serve(["--quiet"], { RECSYS_DB: url });
    try {
      expect(post.stderr()).toContain(`database ${maskLocation(url)}`);
      expect(post.stderr()).not.toContain(PG_PASSWORD);
      const requests: [string, RequestInit | undefined][] = [
        ...USERS.flatMap((u): [string, RequestInit | undefined][] => [
          [`/api/similarity/${encodeURIComponent(u)}`, undefined],
          [`/api/similarity/?user_handle=${encodeURIComponent(u)}&n=2`, undefined],
          ["/api/similarity/", { method: "POST", body: JSON.stringify({ user_handle: u, n: TOP }) }],
        ]),
        ...ERROR_CASES.map(([, path, init]): [string, RequestInit | undefined] => [path, init]),
        ["/api/openapi.json", undefined],
      ];
      for (const [path, init] of requests) {
        const [a, b, c] = await Promise.all([fetch(lite.url + path, init), fetch(post.url + path, init), fetch(replica.url + path, init)]);
        const expected = `${path} ${a.status} ${await a.text()}`;
        expect(`${path} ${b.status} ${await b.text()}`).toBe(expected);
        expect(`${path} ${c.status} ${await c.text()}`).toBe(expected);
      }
      const health = async (s: { url: string }) => {
        const r = await fetch(s.url + "/healthz");
        const body = (await r.json()) as { lastRun: { finishedAt?: string } };
        delete body.lastRun.finishedAt;
        return [r.status, body];
      };
      expect(await health(post)).toEqual(await health(lite));
      expect(await health(replica)).toEqual(await health(lite));
      // Three requests in one write: three answers, in order (ASCII answers: raw() counts characters).
      const pipelined = ["110", "a b", "999"].map((u) => `GET /api/similarity/${encodeURIComponent(u)} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join("");
      const { responses } = await raw(post.port, pipelined, 3);
      expect(responses.map((r) => r.status)).toEqual([200, 200, 404]);
      expect(JSON.parse(responses[1].body)[0].similar).toBe(USERS[(USERS.indexOf("a b") + 1) % USERS.length]);
      // A new table is served without a restart, within a second of its commit.
      const before = await (await fetch(post.url + "/api/similarity/110")).text();
      await publish(store, "user_ranking", cyclicRankings(USERS, TOP, () => 0.5), "similarity");
      const t0 = performance.now();
      let after = before;
      while (after === before && performance.now() - t0 < 3000) after = await (await fetch(post.url + "/api/similarity/110")).text();
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(JSON.parse(after)[0].score).toBe(0.5);
      await Bun.sleep(250);
      expect(await (await fetch(replica.url + "/api/similarity/110")).text()).toBe(after);
    } finally {
      await lite.stop();
      await post.stop();
      await replica.stop();
      store.close();
    }
  }, 60_000);
});
