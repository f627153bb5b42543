/**
 * End to end through the compiled single-file binary, run from an empty directory (no
 * node_modules beside it): generate → ingest → pipeline (both methods) → similar → serve →
 * HTTP → shutdown. This is what a user of the released binary does.
 *
 * The binary is built as package.json's build script builds it, but into a temporary folder and
 * without bun test's NODE_ENV=test: the repo's own ./recsys is never touched.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { cliEnv, root, runCli, type CliEnv } from "./fixtures/cli.ts";
import { serve } from "./fixtures/serve.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-e2e-"));
const build = mkdtempSync(join(tmpdir(), "recsys-e2e-build-"));
const exe = join(work, "recsys");
const db = join(work, "e2e.db");
const data = join(work, "data");
/** What `npm run build` writes; this test must leave it as it was. */
const repoBinary = join(root, "recsys");

const run = (args: string[], env: CliEnv = {}) => runCli(args, { exe, cwd: work, env });

/**
 * package.json's build script as an argv with its --outfile replaced: the same entrypoints and
 * flags as the release build, so the two cannot drift.
 */
export function buildCommand(script: string, outfile: string): string[] {
  const words = script.trim().split(/\s+/);
  const out = words.indexOf("--outfile");
  if (words[0] !== "bun" || words[1] !== "build" || !words.includes("--compile") || out < 0 || out + 1 >= words.length) {
    throw new Error(`package.json's build script is not \`bun build --compile … --outfile FILE\`: ${script}`);
  }
  return [process.execPath, ...words.slice(1, out + 1), outfile, ...words.slice(out + 2)];
}

/** sha256 of a file, or null if there is none. */
function hashOf(path: string): string | null {
  return existsSync(path) ? new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex") : null;
}

let repoBinaryBefore: string | null = null;

beforeAll(() => {
  repoBinaryBefore = hashOf(repoBinary);
  const outfile = join(build, "recsys");
  // cliEnv() drops NODE_ENV (bun test sets it to "test") and everything else recsys reads.
  const p = Bun.spawnSync(buildCommand(pkg.scripts.build, outfile), { cwd: root, env: cliEnv(), stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`build failed: ${p.stderr.toString()}`);
  copyFileSync(outfile, exe);
  Bun.spawnSync(["chmod", "+x", exe]);
}, 120_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(build, { recursive: true, force: true });
  expect(hashOf(repoBinary)).toBe(repoBinaryBefore);
});

describe("the build command", () => {
  it("is package.json's build script with only the output moved", () => {
    expect(buildCommand("bun build --compile --minify a.ts b.ts --outfile recsys", "/tmp/x/recsys")).toEqual([process.execPath, "build", "--compile", "--minify", "a.ts", "b.ts", "--outfile", "/tmp/x/recsys"]);
    expect(buildCommand(pkg.scripts.build, "/tmp/x/recsys").slice(1).join(" ")).toBe(pkg.scripts.build.replace(/^bun /, "").replace("--outfile recsys", "--outfile /tmp/x/recsys"));
    expect(() => buildCommand("tsc && bun build --compile x.ts", "y")).toThrow("not `bun build --compile");
  });
});

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

  it("prints its info lines on stderr (it was not built under bun test's NODE_ENV=test, which bakes in silence)", () => {
    const r = run(["generate", "--users", "5", "--out", join(work, "tiny"), "--seed", "1"]);
    expect(r.code).toBe(0);
    expect(r.err).toContain("generated 5 users");
  });

  it("fails with a one-line error and a non-zero exit on an unknown command or flag", () => {
    const a = run(["frobnicate"]);
    expect(a.code).not.toBe(0);
    expect(a.err).toContain("unknown command");
    const b = run(["pipeline", "--method", "similarity", "--top_n_typo", "3"]);
    expect(b.code).not.toBe(0);
    expect(b.err).toContain("unknown option");
  });

  it("generates, ingests and ranks with every method, printing JSON that parses", () => {
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
    const fm = run(["pipeline", "--method", "factorization", "--db", db, "--results-table", "fm_ranking", "--als-iterations", "3", "--threads", "2", "--json"]);
    expect(fm.code).toBe(0);
    expect(JSON.parse(fm.out).users).toBeGreaterThan(2000);
    // The ALS half-steps run on their own worker module: it must be in the binary too.
    const als = run(["pipeline", "--method", "als", "--db", db, "--results-table", "als_ranking", "--iterations", "2", "--threads", "2", "--json"]);
    expect(als.code).toBe(0);
    expect(JSON.parse(als.out).details).toMatchObject({ trainThreads: 2, threads: 2 });
  }, 120_000);

  it("evaluates every method against the baseline, as JSON", () => {
    const r = run(["evaluate", "--db", db, "--method", "all", "--als-iterations", "2", "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { results: { method: string; recall: number }[] };
    expect(report.results.map((x) => x.method).sort()).toEqual(["als", "als (model)", "factorization", "factorization (model)", "most-popular", "similarity"]);
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
    const server = await serve(["--db", db, "--results-table", "fm_ranking"], {}, { exe, cwd: work });
    try {
      expect((await fetch(`${server.url}/healthz`)).ok).toBe(true);
      const curl = Bun.spawnSync(["curl", "-s", "-X", "GET", "-H", "Content-type: application/json", "-d", '{"user_handle":"110"}', `${server.url}/api/similarity/`]);
      const body = JSON.parse(curl.stdout.toString()) as { similar: string; score: number }[];
      expect(body.length).toBeGreaterThan(0);
      const viaUrl = run(["similar", "110", "--url", server.url, "--json"]);
      expect(JSON.parse(viaUrl.out)).toEqual(body);
      // The explorer page is inside the binary (no source beside it): the page and its script.
      const page = await fetch(`${server.url}/`);
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const script = /src="(\/assets\/app-[0-9a-f]+\.js)"/.exec(await page.text())![1];
      const js = await fetch(server.url + script);
      expect([js.status, js.headers.get("cache-control")]).toEqual([200, "public, max-age=31536000, immutable"]);
    } finally {
      server.proc.kill("SIGTERM");
    }
    expect(await server.proc.exited).toBe(0);
  }, 60_000);
});
