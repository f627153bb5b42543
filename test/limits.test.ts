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
