import { Database } from "bun:sqlite";
import { afterAll, describe, expect, it } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { INGESTS_TABLE, writeTables } from "../src/db/ingest.ts";
import type { Database as Db } from "bun:sqlite";
import type { EncodedColumns, InputColumns } from "../src/dataset.ts";
import { loadInput } from "../src/db/load.ts";
import { decodeStrings } from "../src/read/csv.ts";
import { MissingTablesError } from "../src/db/store.ts";
import { ingest } from "../src/ingest.ts";
import { openDatabase } from "../src/db/open.ts";
import { InputError } from "../src/read/errors.ts";
import { TABLE_NAMES, type Tables } from "../src/types.ts";
import { runCli } from "./fixtures/cli.ts";

/** {@link loadInput}'s columns decoded back to strings, rows in order (what ingest wrote). */
function loadDataset(db: Db): InputColumns {
  const c: EncodedColumns = loadInput(db).columns;
  const ui = c.user_interests;
  const ua = c.user_assessment_scores;
  const uv = c.user_course_views;
  const ct = c.course_tags;
  return {
    user_interests: { user_handle: decodeStrings(ui.user_handle), interest_tag: decodeStrings(ui.interest_tag) },
    user_assessment_scores: { user_handle: decodeStrings(ua.user_handle), assessment_tag: decodeStrings(ua.assessment_tag), user_assessment_score: ua.user_assessment_score },
    user_course_views: { user_handle: decodeStrings(uv.user_handle), course_id: decodeStrings(uv.course_id), level: decodeStrings(uv.level), view_time_seconds: uv.view_time_seconds },
    course_tags: { course_id: decodeStrings(ct.course_id), course_tags: decodeStrings(ct.course_tags) },
  };
}

const REAL = join(import.meta.dir, "../../shared/data/pluralsight");
const haveReal = existsSync(join(REAL, "course_tags.csv")) && existsSync(join(REAL, "user_assessment_scores.csv"));
if (!haveReal) console.warn(`SKIPPED: ingest of the real shared files (no ${REAL})`);

const scratch = mkdtempSync(join(tmpdir(), "recsys-ingest-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
const fresh = (what: string) => join(scratch, `${what}-${++counter}`);

const GOOD = {
  user_interests: `"user_handle","interest_tag","date_followed"\n1,"python","2017-06-27 16:26:52"\n1,"Cloud-Computing","2017-06-27 16:26:52"\n2,"","2017-07-03 04:37:31"\n10,"c#","2017-07-03 04:37:31"\n`,
  user_assessment_scores: `"user_handle","assessment_tag","user_assessment_date","user_assessment_score"\n1,"python","2017-08-11 19:03:38",134\n2,"css","2017-08-11 20:09:56",38\n`,
  user_course_views: `"user_handle","view_date","course_id","author_handle","level","view_time_seconds"\n1,"2017-06-27","python-getting-started",104,"Beginner",2449\n10,"2017-06-28","aws-intro",229,"Advanced",12.5\n`,
  course_tags: `"course_id","course_tags"\n"python-getting-started","python"\n"aws-intro","cloud-computing"\n`,
};
type Files = Record<keyof typeof GOOD, string | null>;

function writeDir(files: Partial<Files> = {}): string {
  const dir = fresh("data");
  require("node:fs").mkdirSync(dir);
  for (const [name, text] of Object.entries({ ...GOOD, ...files })) if (text !== null) writeFileSync(join(dir, `${name}.csv`), text);
  return dir;
}

/** sha256 of the database file and of any WAL/SHM beside it. */
function checksum(db: string): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const suffix of ["", "-wal", "-shm"]) {
    h.update(suffix);
    if (existsSync(db + suffix)) h.update(readFileSync(db + suffix));
  }
  return h.digest("hex");
}

function count(dbPath: string, table: string): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.query(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("ingest", () => {
  it("stores the four tables with typed columns, no secondary indexes and an ingest record", async () => {
    const dbPath = fresh("db") + ".db";
    const result = await ingest(writeDir(), dbPath);
    expect(result.summary.tables.map((t) => [t.table, t.rowsKept])).toEqual([
      ["user_interests", 3],
      ["user_assessment_scores", 2],
      ["user_course_views", 2],
      ["course_tags", 2],
    ]);
    expect(result.summary.tables[0].dropped).toEqual({ "empty interest_tag": 1 });
    const db = new Database(dbPath, { readonly: true });
    try {
      const types = db.query("SELECT name, type FROM pragma_table_info('user_course_views')").all();
      expect(types).toEqual([
        { name: "user_handle", type: "TEXT" },
        { name: "view_date", type: "TEXT" },
        { name: "course_id", type: "TEXT" },
        { name: "author_handle", type: "TEXT" },
        { name: "level", type: "TEXT" },
        { name: "view_time_seconds", type: "REAL" },
      ]);
      const indexed = db.query("SELECT tbl_name AS t FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY t").values().flat();
      // The methods read whole tables in one scan; an index nobody queries is only write time.
      expect(indexed).toEqual([]);
      expect(db.query("SELECT interest_tag FROM user_interests ORDER BY rowid").values().flat()).toEqual(["python", "cloud-computing", "c#"]);
      const meta = db.query(`SELECT source_dir, rows FROM ${INGESTS_TABLE}`).all() as { source_dir: string; rows: string }[];
      expect(meta).toHaveLength(1);
      expect(JSON.parse(meta[0].rows)).toEqual({ user_interests: 3, user_assessment_scores: 2, user_course_views: 2, course_tags: 2 });
    } finally {
      db.close();
    }
  });

  it("returns the parsed tables, equal to what loadDataset reads back", async () => {
    const dbPath = fresh("db") + ".db";
    const { tables } = await ingest(writeDir(), dbPath);
    const db = openDatabase(dbPath, { readonly: true });
    try {
      const loaded = loadDataset(db);
      expect(loaded).toEqual({
        user_interests: { user_handle: tables.user_interests.user_handle, interest_tag: tables.user_interests.interest_tag },
        user_assessment_scores: {
          user_handle: tables.user_assessment_scores.user_handle,
          assessment_tag: tables.user_assessment_scores.assessment_tag,
          user_assessment_score: tables.user_assessment_scores.user_assessment_score,
        },
        user_course_views: {
          user_handle: tables.user_course_views.user_handle,
          course_id: tables.user_course_views.course_id,
          level: tables.user_course_views.level,
          view_time_seconds: tables.user_course_views.view_time_seconds,
        },
        course_tags: tables.course_tags,
      });
      expect(loaded.user_course_views.view_time_seconds).toBeInstanceOf(Float64Array);
      expect([...loaded.user_course_views.view_time_seconds]).toEqual([2449, 12.5]);
    } finally {
      db.close();
    }
  });

  it("replaces the previous data on re-ingest", async () => {
    const dbPath = fresh("db") + ".db";
    await ingest(writeDir(), dbPath);
    const smaller = writeDir({ user_interests: `user_handle,interest_tag,date_followed\n7,rust,2017-09-01 10:00:00\n` });
    await ingest(smaller, dbPath);
    const db = openDatabase(dbPath, { readonly: true });
    try {
      expect(loadDataset(db).user_interests).toEqual({ user_handle: ["7"], interest_tag: ["rust"] });
      expect((db.query(`SELECT COUNT(*) AS n FROM ${INGESTS_TABLE}`).get() as { n: number }).n).toBe(2);
    } finally {
      db.close();
    }
  });

  it("keeps other tables of the database (rankings) untouched", async () => {
    const dbPath = fresh("db") + ".db";
    const db = openDatabase(dbPath);
    db.exec("CREATE TABLE user_ranking (user_handle TEXT, rank INTEGER, similar TEXT, score REAL); INSERT INTO user_ranking VALUES ('1', 1, '2', 0.5)");
    db.close();
    await ingest(writeDir(), dbPath);
    expect(count(dbPath, "user_ranking")).toBe(1);
  });

  it("writeTables rolls back completely when a write fails midway", async () => {
    const dbPath = fresh("db") + ".db";
    const { tables } = await ingest(writeDir(), dbPath);
    const broken = structuredClone(tables) as Tables;
    // A NULL in a NOT NULL column fails on the last table, after three were replaced.
    (broken.course_tags.course_tags as unknown as (string | null)[])[1] = null;
    broken.user_interests = { user_handle: ["99"], interest_tag: ["x"], date_followed: [""] };
    const db = openDatabase(dbPath);
    try {
      expect(() => writeTables(db, broken)).toThrow();
      expect(loadDataset(db).user_interests.user_handle).toEqual(tables.user_interests.user_handle);
    } finally {
      db.close();
    }
  });
});

describe("a failed ingest leaves the database byte-for-byte as it was", () => {
  const cases: [string, Partial<Files>, RegExp][] = [
    ["a missing file", { user_course_views: null }, /^user_course_views\.csv: expected a file .*user_course_views\.csv, got no such file$/],
    ["a missing column", { course_tags: `course_id,tags\na,b\n` }, /^course_tags\.csv line 1, column course_tags: expected a column named "course_tags", got columns "course_id", "tags"$/],
    ["a wrong field count", { course_tags: `course_id,course_tags\na,b\nc\n` }, /^course_tags\.csv line 3, column course_tags: expected 2 fields as in the header, got 1$/],
    [
      "a negative score",
      { user_assessment_scores: GOOD.user_assessment_scores + `3,"java","2017-08-11 19:03:38",-3\n` },
      /^user_assessment_scores\.csv line 4, column user_assessment_score: expected a non-negative number, got "-3"$/,
    ],
    [
      "a non-numeric view time",
      { user_course_views: GOOD.user_course_views + `2,2017-06-29,aws-intro,229,Advanced,lots\n` },
      /^user_course_views\.csv line 4, column view_time_seconds: expected a non-negative number, got "lots"$/,
    ],
    [
      "an unparseable date",
      { user_interests: GOOD.user_interests.replace("2017-07-03 04:37:31", "2017-02-30 04:37:31") },
      /^user_interests\.csv line 4, column date_followed: expected a date and time YYYY-MM-DD HH:MM:SS, got "2017-02-30 04:37:31"$/,
    ],
  ];

  for (const [what, files, message] of cases) {
    it(`on ${what} (the last file read is the bad one, too)`, async () => {
      const dbPath = fresh("db") + ".db";
      await ingest(writeDir(), dbPath);
      const before = checksum(dbPath);
      const error = await ingest(writeDir(files), dbPath).catch((e) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toMatch(message);
      expect(checksum(dbPath)).toBe(before);
    });
  }

  it("including a database still in rollback-journal mode (no WAL switch)", async () => {
    const dbPath = fresh("db") + ".db";
    const db = new Database(dbPath, { create: true });
    db.exec("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me')");
    db.close();
    const before = checksum(dbPath);
    await expect(ingest(writeDir({ course_tags: `course_id,course_tags\n,a\n` }), dbPath)).rejects.toThrow(
      "course_tags.csv line 2, column course_id: expected a non-empty course id",
    );
    expect(checksum(dbPath)).toBe(before);
  });

  it("and creates no database file where there was none", async () => {
    const dbPath = fresh("db") + ".db";
    await expect(ingest(writeDir({ user_interests: null }), dbPath)).rejects.toBeInstanceOf(InputError);
    expect(existsSync(dbPath)).toBe(false);
  });
});

describe("loadDataset", () => {
  it("names the missing tables and the command that creates them", () => {
    const db = new Database(":memory:");
    db.exec("CREATE TABLE course_tags (course_id TEXT, course_tags TEXT)");
    let error: unknown;
    try {
      loadDataset(db);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MissingTablesError);
    expect((error as MissingTablesError).tables).toEqual(["user_interests", "user_assessment_scores", "user_course_views"]);
    expect((error as Error).message).toContain("user_interests, user_assessment_scores, user_course_views");
    expect((error as Error).message).toContain("run `recsys ingest --data-dir DIR` first");
  });
});

describe("the real shared files", () => {
  it.skipIf(!haveReal)("ingest with small stand-ins for the two missing tables", async () => {
    const dir = writeDir({ course_tags: null, user_assessment_scores: null });
    copyFileSync(join(REAL, "course_tags.csv"), join(dir, "course_tags.csv"));
    copyFileSync(join(REAL, "user_assessment_scores.csv"), join(dir, "user_assessment_scores.csv"));
    const dbPath = fresh("db") + ".db";
    const { summary } = await ingest(dir, dbPath);
    const byTable = Object.fromEntries(summary.tables.map((t) => [t.table, t]));
    // DATA_CARD.md: 11,337 course_tags rows of which 112 (untagged courses) have an empty tag;
    // 6,571 assessment rows over 3,114 users and 54 tags.
    expect(byTable.course_tags).toMatchObject({ rowsRead: 11337, rowsKept: 11225, dropped: { "empty course_tags": 112 } });
    expect(byTable.user_assessment_scores).toMatchObject({ rowsRead: 6571, rowsKept: 6571, distinct: { users: 3114, tags: 54 } });
    expect(count(dbPath, "course_tags")).toBe(11225);
    expect(count(dbPath, "user_assessment_scores")).toBe(6571);
  });
});

describe("recsys ingest", () => {
  const cli = (...args: string[]) => runCli(["ingest", ...args], { cwd: scratch });

  it("prints the summary as JSON with --json, accepting --data_path", () => {
    const dbPath = fresh("db") + ".db";
    const r = cli("--data_path", writeDir(), "--db", dbPath, "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.db).toBe(dbPath);
    expect(out.tables.map((t: { table: string; rowsKept: number }) => [t.table, t.rowsKept])).toEqual(TABLE_NAMES.map((t) => [t, t === "user_interests" ? 3 : 2]));
    expect(out.tables[0].dropped).toEqual({ "empty interest_tag": 1 });
  });

  it("prints a table per input file", () => {
    const r = cli("--data-dir", writeDir(), "--db", fresh("db") + ".db");
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(/^table\s+rows read\s+kept\s+dropped\s+distinct$/);
    expect(lines[1]).toMatch(/^user_interests\s+4\s+3\s+1 \(empty interest_tag\)\s+users 2, tags 3$/);
    expect(lines).toHaveLength(5);
  });

  it("fails with one line naming file, line and column, exit code 2", () => {
    const dbPath = fresh("db") + ".db";
    const r = cli("--data-dir", writeDir({ user_assessment_scores: GOOD.user_assessment_scores + `3,java,2017-08-11 19:03:38,-3\n` }), "--db", dbPath);
    expect(r.code).toBe(2);
    const err = r.err.trim();
    expect(err.split("\n")).toHaveLength(1);
    expect(err).toContain(`user_assessment_scores.csv line 4, column user_assessment_score: expected a non-negative number, got "-3"`);
    expect(existsSync(dbPath)).toBe(false);
  });

  it("refuses --env prod without a database", () => {
    const r = runCli(["ingest", "--data-dir", writeDir(), "--env", "prod"], { cwd: scratch, env: { RECSYS_DB: "" } });
    expect(r.code).toBe(2);
    expect(r.err).toContain("--env prod needs an explicit database");
  });
});
