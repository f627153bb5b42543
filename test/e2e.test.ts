/**
 * End to end through the compiled single-file binary, run from an empty directory (no
 * node_modules beside it): generate → ingest → pipeline (both methods) → similar → serve →
 * HTTP → shutdown. This is what a user of the released binary does.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "recsys-e2e-"));
const exe = join(work, "recsys");
const db = join(work, "e2e.db");
const data = join(work, "data");

function run(args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([exe, ...args], { cwd: work, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

beforeAll(() => {
  const build = Bun.spawnSync(["bun", "run", "build"], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  copyFileSync(join(root, "recsys"), exe);
  Bun.spawnSync(["chmod", "+x", exe]);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the compiled binary", () => {
  it("runs from a directory without node_modules and prints its version", () => {
    expect(readdirSync(work)).toEqual(["recsys"]);
    const r = run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });

  for (const cmd of ["generate", "ingest", "pipeline", "evaluate", "similar", "serve"]) {
    it(`explains ${cmd} with --help`, () => {
      const r = run([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("USAGE");
      expect(r.out).toContain("--");
    });
  }

  it("fails with a one-line error and a non-zero exit on an unknown command or flag", () => {
    const a = run(["frobnicate"]);
    expect(a.code).not.toBe(0);
    expect(a.err).toContain("unknown command");
    const b = run(["pipeline", "--method", "similarity", "--top_n_typo", "3"]);
    expect(b.code).not.toBe(0);
    expect(b.err).toContain("unknown option");
  });

  it("generates, ingests and ranks with both methods, printing JSON that parses", () => {
    const gen = run(["generate", "--users", "2500", "--out", data, "--seed", "3", "--json"]);
    expect(gen.code).toBe(0);
    expect(JSON.parse(gen.out)).toBeObject();
    const ingest = run(["ingest", "--data-dir", data, "--db", db, "--json"]);
    expect(ingest.code).toBe(0);
    expect(() => JSON.parse(ingest.out)).not.toThrow();
    // --threads 2 forces the worker pool, which must be bundled into the binary.
    const sim = run(["pipeline", "--method", "similarity", "--db", db, "--threads", "2", "--json"]);
    if (sim.code !== 0) console.error(sim.err);
    expect(sim.code).toBe(0);
    expect(JSON.parse(sim.out).users).toBeGreaterThan(2000);
    const fm = run(["pipeline", "--method", "factorization", "--db", db, "--results-table", "fm_ranking", "--epochs", "3", "--threads", "2", "--json"]);
    expect(fm.code).toBe(0);
    expect(JSON.parse(fm.out).users).toBeGreaterThan(2000);
  }, 120_000);

  it("evaluates both methods against the baseline, as JSON", () => {
    const r = run(["evaluate", "--db", db, "--method", "all", "--epochs", "2", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { results: { method: string; recall: number }[] };
    expect(report.results.map((x) => x.method).sort()).toEqual(["factorization", "most-popular", "similarity"]);
    for (const x of report.results) expect(x.recall).toBeGreaterThan(0);
  }, 120_000);

  it("answers `similar` from the database as a table and as the API's JSON", () => {
    const table = run(["similar", "110", "--db", db]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/1\s+\S+\s+0\.\d{4}/);
    const json = run(["similar", "110", "--db", db, "--json", "--n", "3"]);
    const list = JSON.parse(json.out) as { similar: string; score: number }[];
    expect(list).toHaveLength(3);
    expect(typeof list[0].similar).toBe("string");
    const unknown = run(["similar", "no-such-user", "--db", db]);
    expect(unknown.code).not.toBe(0);
  });

  it("serves rankings over HTTP (the seed's GET-with-body form) and shuts down cleanly", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = Bun.spawn([exe, "serve", "--db", db, "--port", String(port), "--results-table", "fm_ranking"], { cwd: work, stdout: "pipe", stderr: "pipe" });
    try {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (!ok) await Bun.sleep(50);
      }
      expect(ok).toBe(true);
      const curl = Bun.spawnSync(["curl", "-s", "-X", "GET", "-H", "Content-type: application/json", "-d", '{"user_handle":"110"}', `http://127.0.0.1:${port}/api/similarity/`]);
      const body = JSON.parse(curl.stdout.toString()) as { similar: string; score: number }[];
      expect(body.length).toBeGreaterThan(0);
      const viaUrl = run(["similar", "110", "--url", `http://127.0.0.1:${port}`, "--json"]);
      expect(JSON.parse(viaUrl.out)).toEqual(body);
    } finally {
      server.kill("SIGTERM");
    }
    expect(await server.exited).toBe(0);
  }, 60_000);
});
