/**
 * `recsys similar USER`: from the database (a table for people, the API's exact JSON with
 * --json) and from a running server (--url), with clear failures for unknown users.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/db/open.ts";
import { writeRankings } from "../src/db/rankings.ts";
import type { Rankings } from "../src/types.ts";
import { runCli, type CliEnv } from "./fixtures/cli.ts";
import { serve } from "./fixtures/serve.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-similar-test-"));
const db = join(work, "r.db");
const TOP = 4;
const USERS = ["5", "110", "5537", "o'brien", "zoë", "77"];
// Each user ranks the next TOP users (cyclically); scores with more than 4 decimals.
const rankings: Rankings = {
  users: USERS,
  offsets: Int32Array.from({ length: USERS.length + 1 }, (_, i) => i * TOP),
  neighbors: Int32Array.from({ length: USERS.length * TOP }, (_, k) => (Math.floor(k / TOP) + 1 + (k % TOP)) % USERS.length),
  scores: Float64Array.from({ length: USERS.length * TOP }, (_, k) => 0.912345 - 0.1 * (k % TOP) - 0.001 * Math.floor(k / TOP)),
};
const run = (args: string[], env: CliEnv = {}) => runCli(["similar", ...args], { env });

function expected(u: number, n = TOP): { similar: string; score: number }[] {
  return Array.from({ length: n }, (_, k) => ({
    similar: USERS[rankings.neighbors[u * TOP + k]],
    score: Math.round(rankings.scores[u * TOP + k] * 1e4) / 1e4,
  }));
}

beforeAll(() => {
  const d = openDatabase(db);
  writeRankings(d, "user_ranking", rankings, { method: "similarity", params: {}, input: {}, startedAt: new Date(), stages: {} });
  writeRankings(d, "fm_ranking", { ...rankings, scores: rankings.scores.map((s) => -s) }, { method: "factorization", params: {}, input: {}, startedAt: new Date(), stages: {} });
  d.close();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("recsys similar from the database", () => {
  it("prints rank, similar user and score as a table", () => {
    const r = run(["110", "--db", db]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines[0].split(/\s+/).filter(Boolean)).toEqual(["rank", "similar", "score"]);
    const rows = lines.slice(1).map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual(expected(1).map((e, i) => [String(i + 1), e.similar, e.score.toFixed(4)]));
  });

  it("prints exactly the API's JSON with --json, honouring --n", () => {
    const r = run(["110", "--db", db, "--json", "--n", "2"]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(JSON.stringify(expected(1, 2)) + "\n");
  });

  it("finds handles with quotes and non-ASCII characters, and reads another table", () => {
    expect(JSON.parse(run(["o'brien", "--db", db, "--json"]).out)).toEqual(expected(3));
    expect(JSON.parse(run(["zoë", "--db", db, "--json"]).out)).toEqual(expected(4));
    const fm = JSON.parse(run(["110", "--db", db, "--json", "--results_table", "fm_ranking"]).out) as { score: number }[];
    expect(fm.map((x) => x.score)).toEqual(expected(1).map((e) => -e.score));
    expect(JSON.parse(run(["110", "--json"], { RECSYS_DB: db, RESULTS_TABLE: "fm_ranking" }).out)).toEqual(fm);
  });

  it("fails clearly, with a non-zero exit, for an unknown user, a bad --n, a missing table or database", () => {
    const unknown = run(["999", "--db", db]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.err).toContain('unknown user "999"');
    expect(unknown.out).toBe("");
    const injected = run(["110' OR '1'='1", "--db", db]);
    expect(injected.code).not.toBe(0);
    expect(injected.err).toContain("unknown user");
    const tooMany = run(["110", "--db", db, "--n", String(TOP + 1)]);
    expect(tooMany.code).not.toBe(0);
    // Beyond the stored top-n the run's model answers; this table was written without input tables.
    expect(tooMany.err).toContain(`--n ${TOP + 1} is more than the stored top-n`);
    expect(tooMany.err).toContain("recsys ingest");
    expect(run(["110", "--db", db, "--n", "0"]).code).not.toBe(0);
    const table = run(["110", "--db", db, "--results-table", "nothing_here"]);
    expect(table.code).not.toBe(0);
    expect(table.err).toContain("recsys pipeline");
    const bad = run(["110", "--db", db, "--results-table", "x; DROP TABLE user_ranking"]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("invalid results table name");
    const missing = run(["110", "--db", join(work, "none.db")]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain("does not exist");
    expect(run(["110", "--env", "prod"]).err).toMatch(/--db|RECSYS_DB/);
  });
});

describe("recsys similar --url", () => {
  it("asks a live server and prints the same answer as the database gives", async () => {
    const { url, proc } = await serve(["--db", db, "--quiet"]);
    try {
      const viaUrl = run(["110", "--url", url, "--json", "--n", "3"]);
      expect(viaUrl.code).toBe(0);
      expect(viaUrl.out).toBe(run(["110", "--db", db, "--json", "--n", "3"]).out);
      const api = await (await fetch(`${url}/api/similarity/110?n=3`)).text();
      expect(viaUrl.out).toBe(api + "\n");
      const table = run(["5537", "--url", url + "/"]);
      expect(table.code).toBe(0);
      expect(table.out).toBe(run(["5537", "--db", db]).out);
      const unknown = run(["nobody", "--url", url]);
      expect(unknown.code).not.toBe(0);
      expect(unknown.err).toContain("404");
      expect(unknown.err).toContain('no rankings for user "nobody"');
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  });

  it("sends RECSYS_API_TOKEN to a prod server, and reports a refusal without it", async () => {
    const token = "similar-test-token-42";
    const { url, proc } = await serve(["--db", db, "--quiet"], { DATABASE_ENV: "prod", RECSYS_API_TOKEN: token });
    try {
      const ok = run(["110", "--url", url, "--json"], { RECSYS_API_TOKEN: token });
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.out)).toEqual(expected(1));
      const refused = run(["110", "--url", url, "--json"]);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toContain("401");
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  });

  it("says so when no server answers", () => {
    const r = run(["110", "--url", "http://127.0.0.1:1"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("cannot reach the server");
    expect(run(["110", "--url", "localhost:5000"]).err).toContain("--url must look like");
  });
});
