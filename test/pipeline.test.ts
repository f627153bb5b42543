/**
 * `recsys pipeline` as a user runs it: flags, summary, runs table, input fingerprint, and the
 * promise that bad input or a bad flag leaves the database as it was.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InputColumns as Dataset } from "../src/dataset.ts";
import { fingerprintDataset } from "../src/fingerprint.ts";
import { runCli } from "./fixtures/cli.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-pipeline-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const recsys = (args: string[]) => runCli(args, { cwd: work });

/** Four learners: 1 and 2 share python, 3 and 4 share design; 3 also watched a python course. */
function writeData(dir: string, extraInterest = "") {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "user_interests.csv"),
    `user_handle,interest_tag,date_followed\n1,python,2017-06-01 10:00:00\n2,Python,2017-06-01 10:00:00\n2,sql,2017-06-02 10:00:00\n3,design,2017-06-01 10:00:00\n4,design,2017-06-01 10:00:00\n${extraInterest}`,
  );
  writeFileSync(
    join(dir, "user_course_views.csv"),
    "user_handle,view_date,course_id,author_handle,level,view_time_seconds\n1,2017-06-03,py-101,7,Beginner,600\n3,2017-06-03,py-101,7,Beginner,60\n4,2017-06-04,ux-1,8,Advanced,1200\n",
  );
  writeFileSync(join(dir, "user_assessment_scores.csv"), "user_handle,assessment_tag,user_assessment_date,user_assessment_score\n1,python,2017-07-01 09:00:00,150\n2,python,2017-07-02 09:00:00,90\n");
  writeFileSync(join(dir, "course_tags.csv"), "course_id,course_tags\npy-101,python\nux-1,ux-design\n");
}

function sha(path: string) {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

describe("recsys pipeline", () => {
  const data = join(work, "data");
  const db = join(work, "p.db");
  writeData(data);

  it("ingests, ranks and prints users, items and nnz per block and seconds per stage", () => {
    const r = recsys(["pipeline", "--method", "similarity", "--data-dir", data, "--db", db]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("similarity: ranked 4 users");
    expect(r.out).toMatch(/interests\s+weight 0\.500\s+3 items\s+5 nnz\s+4 users/);
    expect(r.out).toMatch(/courses\s+weight 0\.300\s+4 items/);
    expect(r.out).toMatch(/assessments\s+weight 0\.200\s+1 items\s+2 nnz\s+2 users/);
    expect(r.out).toMatch(/seconds: read [\d.]+, fingerprint [\d.]+, matrix [\d.]+, topN [\d.]+, ingest [\d.]+, ingestCopy [\d.]+, store [\d.]+; total [\d.]+/);
    // The read summary goes to stderr, with the tag normalization visible ("Python" = "python").
    expect(r.err).toContain("user_interests");
    const d = new Database(db, { readonly: true });
    expect(d.query("SELECT similar FROM user_ranking WHERE user_handle = '1' ORDER BY rank").values().flat()).toEqual(["2", "3"]);
    expect(d.query("SELECT COUNT(*) FROM user_interests").values()).toEqual([[5]]);
    d.close();
  });

  it("records the run: method, effective parameters, input fingerprint and seconds per stage", () => {
    const d = new Database(db, { readonly: true });
    const run = d.query("SELECT * FROM recsys_runs ORDER BY id DESC LIMIT 1").get() as Record<string, string | number>;
    d.close();
    expect(run.method).toBe("similarity");
    expect(run.users_ranked).toBe(4);
    expect(JSON.parse(run.params as string)).toMatchObject({ topN: 10, weights: { interests: 0.5, courses: 0.3, assessments: 0.2 } });
    const input = JSON.parse(run.input as string);
    expect(input.rows).toEqual({ user_interests: 5, user_assessment_scores: 2, user_course_views: 3, course_tags: 2 });
    expect(input.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(JSON.parse(run.stages as string))).toEqual(["read", "fingerprint", "matrix", "topN", "ingest", "ingestCopy", "store"]);
  });

  it("fingerprints the same input identically on every run, and one changed row differently", () => {
    const again = recsys(["pipeline", "--db", db, "--json"]);
    expect(again.code).toBe(0);
    const first = JSON.parse(recsys(["pipeline", "--data-dir", data, "--db", db, "--json"]).out).input;
    expect(JSON.parse(again.out).input).toEqual(first);
    const changed = join(work, "changed");
    writeData(changed, "4,sql,2017-06-05 10:00:00\n");
    const other = JSON.parse(recsys(["pipeline", "--data-dir", changed, "--db", join(work, "other.db"), "--json"]).out).input;
    expect(other.sha256).not.toBe(first.sha256);
    expect(other.rows.user_interests).toBe(6);
  });

  it("accepts the original tool's --results_table and --top_users", () => {
    const r = recsys(["pipeline", "--db", db, "--results_table", "alt_ranking", "--top_users", "1", "--method", "factorization", "--als-iterations", "2"]);
    expect(r.code).toBe(0);
    const d = new Database(db, { readonly: true });
    expect(d.query("SELECT MAX(rank) FROM alt_ranking").values()).toEqual([[1]]);
    expect(d.query("SELECT method FROM recsys_runs WHERE results_table = 'alt_ranking'").values()).toEqual([["factorization"]]);
    d.close();
  });

  it("fails on bad input with file, line and column, exit 2, and leaves the database byte-for-byte as it was", () => {
    const bad = join(work, "bad");
    writeData(bad);
    writeFileSync(join(bad, "user_assessment_scores.csv"), "user_handle,assessment_tag,user_assessment_date,user_assessment_score\n1,python,2017-07-01 09:00:00,-5\n");
    const before = sha(db);
    const r = recsys(["pipeline", "--data-dir", bad, "--db", db]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("user_assessment_scores.csv line 2, column user_assessment_score");
    expect(sha(db)).toBe(before);
  });

  it("refuses a bad table name or bad weights before touching the database", () => {
    const fresh = join(work, "never.db");
    const a = recsys(["pipeline", "--data-dir", data, "--db", fresh, "--results-table", "x; DROP TABLE user_interests"]);
    expect(a.code).toBe(2);
    expect(a.err).toContain("invalid results table name");
    const b = recsys(["pipeline", "--data-dir", data, "--db", fresh, "--weights", "interests=1,bogus=2"]);
    expect(b.code).toBe(2);
    expect(b.err).toContain("--weights: unknown block");
    expect(existsSync(fresh)).toBe(false);
  });

  it("says how to load the tables when the database has none", () => {
    const empty = join(work, "empty.db");
    new Database(empty).close();
    const r = recsys(["pipeline", "--db", empty]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("recsys ingest --data-dir DIR");
  });
});

describe("input fingerprint", () => {
  const base: Dataset = {
    user_interests: { user_handle: ["1"], interest_tag: ["a"] },
    user_assessment_scores: { user_handle: [], assessment_tag: [], user_assessment_score: new Float64Array() },
    user_course_views: { user_handle: ["1"], course_id: ["c"], level: ["Beginner"], view_time_seconds: Float64Array.of(60) },
    course_tags: { course_id: ["c"], course_tags: ["a"] },
  };

  it("depends on every value the methods read, not just the row counts", () => {
    const f = fingerprintDataset(base);
    expect(fingerprintDataset(structuredClone(base))).toEqual(f);
    const longer = structuredClone(base);
    longer.user_course_views.view_time_seconds[0] = 61;
    expect(fingerprintDataset(longer).sha256).not.toBe(f.sha256);
    expect(fingerprintDataset(longer).rows).toEqual(f.rows);
  });

  it("cannot be fooled by moving a value across a field boundary", () => {
    const a = structuredClone(base);
    a.user_interests = { user_handle: ["1", "2"], interest_tag: ["ab", "c"] };
    const b = structuredClone(base);
    b.user_interests = { user_handle: ["1", "2"], interest_tag: ["a", "bc"] };
    expect(fingerprintDataset(a).sha256).not.toBe(fingerprintDataset(b).sha256);
  });
});
