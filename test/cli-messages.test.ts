/**
 * The CLI's failures as a careless operator meets them: each names what to fix (the flag or the
 * environment variable it came from), bad input exits 2, and nothing is created on disk before
 * the input has been checked.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./fixtures/cli.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-cli-messages-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Four small, valid CSVs in `dir`; `interests` replaces user_interests.csv's bytes. */
function writeData(dir: string, interests?: Uint8Array | string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "user_interests.csv"), interests ?? "user_handle,interest_tag,date_followed\n1,python,2017-06-01 10:00:00\n2,python,2017-06-01 10:00:00\n3,sql,2017-06-01 10:00:00\n");
  writeFileSync(join(dir, "user_course_views.csv"), "user_handle,view_date,course_id,author_handle,level,view_time_seconds\n1,2017-06-03,py-101,7,Beginner,600\n");
  writeFileSync(join(dir, "user_assessment_scores.csv"), "user_handle,assessment_tag,user_assessment_date,user_assessment_score\n1,python,2017-07-01 09:00:00,150\n");
  writeFileSync(join(dir, "course_tags.csv"), "course_id,course_tags\npy-101,python\n");
  return dir;
}

const db = join(work, "ranked.db");
beforeAll(() => {
  const r = runCli(["pipeline", "--data-dir", writeData(join(work, "good")), "--db", db]);
  expect(r.code).toBe(0);
}, 60_000);

describe("errors from the environment name the variable, not the flag", () => {
  it("DATABASE_ENV", () => {
    const r = runCli(["similar", "1", "--db", db], { env: { DATABASE_ENV: "staging" } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('DATABASE_ENV must be dev or prod, got "staging"');
    expect(runCli(["similar", "1", "--db", db, "--env", "staging"]).err).toContain('--env must be dev or prod, got "staging"');
  });

  it("PORT", () => {
    const r = runCli(["serve", "--db", db], { env: { PORT: "99999" } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('PORT must be an integer 0..65535, got "99999"');
    expect(runCli(["serve", "--db", db, "--port", "x"]).err).toContain('--port must be an integer 0..65535, got "x"');
  });

  it("RESULTS_TABLE", () => {
    const r = runCli(["similar", "1", "--db", db], { env: { RESULTS_TABLE: "a b" } });
    expect(r.code).toBe(2);
    expect(r.err).toContain('RESULTS_TABLE: invalid results table name "a b"');
    expect(runCli(["similar", "1", "--db", db, "--results-table", "a b"]).err).toContain('--results-table: invalid results table name "a b"');
  });
});

describe("bad input exits 2", () => {
  it("an unknown user in `similar`", () => {
    const r = runCli(["similar", "999", "--db", db]);
    expect(r.err).toContain('unknown user "999"');
    expect(r.code).toBe(2);
  });

  it("--weights whose sum overflows: a usage error, not 'all weights are zero'", () => {
    const r = runCli(["pipeline", "--db", db, "--weights", "interests=1e308,courses=1e308"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--weights: their sum overflows");
    expect(r.err).not.toContain("all weights are zero");
  });

  it("a --db that is a CSV file or a directory, not a database", () => {
    const csv = runCli(["pipeline", "--db", join(work, "good", "course_tags.csv")]);
    expect(csv.code).toBe(2);
    expect(csv.err).toContain(`cannot open database ${join(work, "good", "course_tags.csv")}: file is not a database`);
    const dir = runCli(["ingest", "--data-dir", join(work, "good"), "--db", join(work, "good")]);
    expect(dir.code).toBe(2);
    expect(dir.err).toContain(`cannot open database ${join(work, "good")}: it is a directory, not a database file`);
  });

  it("a results table whose name is taken by a view", () => {
    const d = new Database(db);
    d.exec("CREATE VIEW my_view AS SELECT * FROM user_ranking");
    d.close();
    const r = runCli(["pipeline", "--db", db, "--results-table", "my_view"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('cannot replace "my_view" with rankings: it is a view, not a table');
  });

  it("a bad --course-tags file for `generate`, creating nothing", () => {
    const bad = join(work, "bad-tags.csv");
    writeFileSync(bad, "id,tags\na,b\n");
    const out = join(work, "gen-never", "out");
    const r = runCli(["generate", "--users", "5", "--out", out, "--course-tags", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${bad} line 1, column course_id: expected a column named "course_id"`);
    expect(existsSync(join(work, "gen-never"))).toBe(false);
  });
});

describe("unknown options", () => {
  it("name the one flag they start, else only --help", () => {
    const cut = runCli(["pipeline", "--finalize", "--run", "nightly", "--db", "x.db"]);
    expect([cut.code, cut.err.trim()]).toEqual([2, expect.stringMatching(/unknown option --run; did you mean --run-key\? \(see --help\)$/)]);
    // --t starts --top-n, --threads, --then-finalize, …: no guess.
    const vague = runCli(["pipeline", "--t", "3", "--db", "x.db"]);
    expect([vague.code, vague.err.trim()]).toEqual([2, expect.stringMatching(/unknown option --t \(see --help\)$/)]);
  });
});

describe("input is checked before anything is created", () => {
  it("ingest and pipeline with bad bytes create neither the database nor its directory", () => {
    const bad = writeData(join(work, "latin1"), Buffer.concat([Buffer.from("user_handle,interest_tag\n1,caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    for (const command of ["ingest", "pipeline"]) {
      const target = join(work, `never-${command}`, "sub", "x.db");
      const r = runCli([command, "--data-dir", bad, "--db", target]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("user_interests.csv line 2, column interest_tag: expected UTF-8 text");
      expect(existsSync(join(work, `never-${command}`))).toBe(false);
    }
  });
});

describe("serve", () => {
  let taken: Server;
  let port = 0;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => taken.close());

  it("says the address is in use and how to pick another port", () => {
    const r = runCli(["serve", "--db", db, "--port", String(port)], { timeout: 20_000 });
    expect(r.code).toBe(1);
    expect(r.err).toContain(`address 127.0.0.1:${port} is in use (another server listens there); try --port with another port, or --port 0 for a free one`);
  });
});
