/**
 * Every flag that sizes memory or time has an upper bound, and numbers are parsed strictly: a
 * typo like `--top-n 1e9` or `--threads 1000` is a usage error before any work, not 4 GB of
 * rankings or a machine buried in workers.
 */
import { describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";
import { autoThreads, defaultThreads, maxThreads } from "../src/parallel.ts";
import { runPipeline } from "../src/pipeline.ts";
import { MAX_TOP_N } from "../src/rank/driver.ts";
import { fit } from "../src/fit.ts";
import { methodFlags } from "../src/methods/registry.ts";
import { kindIndex, recommendItems } from "../src/recommend.ts";
import { runCli } from "./fixtures/cli.ts";
import { syntheticDataset } from "./fixtures/synthetic-dataset.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-limits-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("resource flags have upper bounds", () => {
  const never = join(work, "never", "x.db");
  const data = join(import.meta.dir, "../data/sample");
  const cases: [string[], string][] = [
    [["pipeline", "--top-n", "1001"], `--top-n must be an integer in 1..${MAX_TOP_N}, got "1001"`],
    [["pipeline", "--top-n", "1000000000"], `--top-n must be an integer in 1..${MAX_TOP_N}, got "1000000000"`],
    [["pipeline", "--top-n", "0x10"], `--top-n must be an integer in 1..${MAX_TOP_N}, got "0x10"`],
    [["pipeline", "--top-n", "1e1"], `--top-n must be an integer in 1..${MAX_TOP_N}, got "1e1"`],
    [["pipeline", "--threads", "1000"], `--threads must be an integer in 1..${maxThreads()}, got "1000"`],
    [["pipeline", "--threads", String(maxThreads() + 1)], `--threads must be an integer in 1..${maxThreads()}`],
    [["pipeline", "--method", "factorization", "--factors", "100000"], '--factors must be an integer in 1..1024, got "100000"'],
    [["pipeline", "--method", "factorization", "--epochs", "1000000"], '--epochs must be an integer in 0..10000, got "1000000"'],
    [["pipeline", "--method", "factorization", "--negatives", "5000"], '--negatives must be an integer in 1..1000, got "5000"'],
    [["pipeline", "--method", "als", "--iterations", "1000000"], '--iterations must be an integer in 1..10000, got "1000000"'],
    [["pipeline", "--method", "als", "--cg-steps", "5000"], '--cg-steps must be an integer in 1..1024, got "5000"'],
    [["pipeline", "--method", "als", "--factors", "100000"], '--factors must be an integer in 1..1024, got "100000"'],
    [["pipeline", "--method", "factorization", "--training", "als", "--als-iterations", "1000000"], '--als-iterations must be an integer in 0..10000, got "1000000"'],
    [["pipeline", "--method", "similarity", "--rank", "5000"], '--rank must be an integer in 0..4096, got "5000"'],
    [["pipeline", "--method", "similarity", "--shrinkage", "1e7"], '--shrinkage must be a number in [0, 1000000], got "1e7"'],
    [["pipeline", "--method", "similarity", "--rank", "0x10"], '--rank must be an integer in 0..4096, got "0x10"'],
    // Seeds are folded to 32 bits by the generators: 2^32 would be seed 0 again.
    [["pipeline", "--method", "als", "--seed", "4294967296"], '--seed must be an integer in 0..4294967295, got "4294967296"'],
    [["evaluate", "--seed", "4294967296"], '--seed must be an integer in 0..4294967295, got "4294967296"'],
    [["evaluate", "--cutoff", "5000"], `--cutoff must be an integer in 1..${MAX_TOP_N}, got "5000"`],
    [["evaluate", "--top-n", "5000"], `--top-n must be an integer in 1..${MAX_TOP_N}, got "5000"`],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(" ")}: usage error before any work`, () => {
      const r = runCli([...args, "--data-dir", data, "--db", never]);
      expect(r.err).toContain(message);
      expect(r.code).toBe(2);
      expect(existsSync(join(work, "never"))).toBe(false);
    });
  }

  for (const [args, message] of [
    [["recommend", "1", "--neighbors", "1000000000"], `--neighbors must be an integer in 1..${MAX_TOP_N}, got "1000000000"`],
    [["recommend", "1", "--n", "1001"], `--n must be an integer in 1..${MAX_TOP_N}, got "1001"`],
    [["similar", "1", "--n", "1000000000"], `--n must be an integer in 1..${MAX_TOP_N}, got "1000000000"`],
  ] as const) {
    it(`${args.join(" ")}: usage error before the database is opened (recommend --neighbors 1e9 ran out of memory)`, () => {
      const r = runCli([...args, "--db", never]);
      expect(r.err).toContain(message);
      expect(r.code).toBe(2);
      expect(existsSync(join(work, "never"))).toBe(false);
    });
  }

  it("every integer flag of every method has an upper bound (a new method's flags too)", () => {
    for (const f of methodFlags()) {
      for (const { method, spec } of f.methods) {
        // Integer options refuse a fraction; those must also refuse a trillion.
        const isInteger = (() => { try { spec.parse("1.5", `--${f.flag}`); return false; } catch (e) { return /must be an integer/.test(String(e)); } })();
        if (!isInteger) continue;
        expect(() => spec.parse("1000000000000", `--${f.flag}`), `${method.name} --${f.flag}`).toThrow(/must be an integer in \d+\.\.\d+/);
      }
    }
  });

  it("generate --seed is bounded like every seed", () => {
    const r = runCli(["generate", "--users", "10", "--seed", "4294967296", "--out", join(work, "never-generated")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--seed must be an integer in 0..4294967295, got "4294967296"');
    expect(existsSync(join(work, "never-generated"))).toBe(false);
  });

  it("generate --users is bounded too", () => {
    const r = runCli(["generate", "--users", "100000000", "--out", join(work, "never-generated")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--users must be an integer in 1..10000000, got "100000000"');
    expect(existsSync(join(work, "never-generated"))).toBe(false);
  });
});

describe("the library checks the same bounds", () => {
  it("threads: at most two per core", () => {
    expect(maxThreads()).toBe(2 * defaultThreads());
    expect(autoThreads(10, maxThreads())).toBe(maxThreads());
    expect(() => autoThreads(10, maxThreads() + 1)).toThrow(`threads must be an integer in 1..${maxThreads()} (2 per core), got ${maxThreads() + 1}`);
    expect(() => autoThreads(10, 1000)).toThrow(RangeError);
  });

  it("top-n: at most MAX_TOP_N, checked before the input is read or the store opened", async () => {
    const db = join(work, "lib-never.db");
    for (const topN of [MAX_TOP_N + 1, 1e9, 0, 2.5]) {
      const error = await runPipeline({ input: { dataDir: join(work, "no-such-dir") }, store: db, method: "similarity", topN }).catch((e) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe(`topN must be an integer in 1..${MAX_TOP_N}, got ${topN}`);
    }
    const error = await runPipeline({ input: { dataDir: join(work, "no-such-dir") }, store: db, method: "similarity", threads: 1000 }).catch((e) => e);
    expect(error).toBeInstanceOf(RangeError);
    expect(existsSync(db)).toBe(false);
  });

  it("recommendItems takes a neighbours count past the users as all of them (1e9 ran out of memory)", async () => {
    const dataset = syntheticDataset({ users: 30, seed: 3 });
    const model = await fit(dataset, "similarity");
    const index = kindIndex(model.dataset, "courses");
    for (let u = 0; u < 5; u++) {
      const all = recommendItems(model, index, u, {}, { n: 5, neighbors: model.dataset.users.length });
      expect(all.length).toBeGreaterThan(0);
      expect(recommendItems(model, index, u, {}, { n: 5, neighbors: 1e9 })).toEqual(all);
    }
  });

  it("rankAll refuses a top-n past the bound, and never gives more than users − 1 neighbours", async () => {
    const dataset = syntheticDataset({ users: 30, seed: 3 });
    const model = await fit(dataset, "similarity");
    await expect(model.rankAll({ topN: MAX_TOP_N + 1, threads: 1 })).rejects.toThrow(`topN must be an integer in 1..${MAX_TOP_N}`);
    const r = await model.rankAll({ topN: MAX_TOP_N, threads: 1 });
    let most = 0;
    for (let u = 0; u < r.users.length; u++) most = Math.max(most, r.offsets[u + 1] - r.offsets[u]);
    expect(most).toBeLessThanOrEqual(r.users.length - 1);
    expect(r.neighbors.length).toBeLessThanOrEqual(r.users.length * (r.users.length - 1));
  });
});
