/**
 * The method interface and registry: every model's on-demand query agrees with its full ranking,
 * filters are masks, unknown methods and options are errors, and a new method is one definition
 * plus one registration (a tiny third method is defined here and runs through the pipeline,
 * evaluation and the CLI's flag list untouched).
 */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dataset } from "../src/dataset.ts";
import { SqliteStore } from "../src/db/sqlite.ts";
import { evaluate } from "../src/evaluate.ts";
import { fit } from "../src/fit.ts";
import { integerOption, resolveOptions, type Method, type Model } from "../src/methods/method.ts";
import { getMethod, methodFlags, methodNames, registerMethod, UnknownMethodError } from "../src/methods/registry.ts";
import { runPipeline } from "../src/pipeline.ts";
import { readTables } from "../src/read/index.ts";
import { queryTopN, rankAllPairs } from "../src/rank/driver.ts";
import { offerRow } from "../src/rank/heap.ts";
import type { Rankings } from "../src/types.ts";
import { methodArgs } from "../bin/method-args.ts";
import { syntheticDataset } from "./fixtures/synthetic-dataset.ts";
import { readRankings } from "./fixtures/rankings.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-methods-"));
const SAMPLE = join(import.meta.dir, "../data/sample");
afterAll(() => rmSync(work, { recursive: true, force: true }));

const data = Dataset.fromColumns(syntheticDataset({ users: 400, seed: 3 }));

function row(r: Rankings, u: number): { ids: number[]; scores: number[] } {
  return { ids: Array.from(r.neighbors.subarray(r.offsets[u], r.offsets[u + 1])), scores: Array.from(r.scores.subarray(r.offsets[u], r.offsets[u + 1])) };
}

describe("Model.similarUsers", () => {
  // Short fits: these tests are about the query, not the model's quality.
  const short: Record<string, Record<string, unknown>> = { similarity: {}, factorization: { epochs: 2 }, als: { iterations: 2 } };
  for (const method of ["similarity", "factorization", "als"]) {
    it(`${method}: equals the full ranking's row for every user, score for score, tie for tie`, async () => {
      const model = await fit(data, method, short[method]);
      const all = await model.rankAll({ topN: 15, threads: 1 });
      expect(all.users).toEqual([...data.users]);
      for (let u = 0; u < data.users.length; u++) {
        const q = model.similarUsers(u, { n: 15 });
        expect({ ids: Array.from(q.ids), scores: Array.from(q.scores) }).toEqual(row(all, u));
      }
    });

    it(`${method}: an eligibility mask is a filter over the complete ranking`, async () => {
      const model = await fit(data, method, short[method]);
      const n = data.users.length;
      const eligible = new Uint8Array(n);
      for (let v = 0; v < n; v++) eligible[v] = v % 3 === 0 ? 1 : 0;
      for (const u of [0, 1, 7, 200, n - 1]) {
        const everyone = model.similarUsers(u, { n });
        const filtered = model.similarUsers(u, { n: 5, eligible });
        const expected = Array.from(everyone.ids).filter((v) => eligible[v]).slice(0, 5);
        expect(Array.from(filtered.ids)).toEqual(expected);
        expect(Array.from(filtered.ids)).not.toContain(u);
      }
    });
  }

  it("rejects a user id outside the dataset", async () => {
    const model = await fit(data, "similarity");
    expect(() => model.similarUsers(-1)).toThrow(/not a user/);
    expect(() => model.similarUsers(data.users.length)).toThrow(/not a user/);
  });
});

describe("the registry", () => {
  it("lists the built-in methods and refuses unknown ones everywhere", async () => {
    expect(methodNames()).toEqual(["similarity", "factorization", "als"]);
    expect(() => getMethod("svd")).toThrow(UnknownMethodError);
    await expect(fit(data, "nope")).rejects.toThrow(/unknown method "nope"; methods: similarity, factorization, als/);
    await expect(evaluate(data, { methods: ["nope"] })).rejects.toThrow(UnknownMethodError);
    await expect(runPipeline({ input: "store", store: join(work, "x.db"), method: "nope" })).rejects.toThrow(UnknownMethodError);
  });

  it("checks options against the method's specs: unknown names and bad values name the option", () => {
    const fm = getMethod("factorization");
    expect(() => resolveOptions(fm, { factor: 3 })).toThrow(/factorization has no option "factor"/);
    expect(() => resolveOptions(fm, { factors: 0 })).toThrow("factors must be an integer in 1..1024, got 0");
    expect(() => resolveOptions(getMethod("similarity"), { weights: { interests: -1 } })).toThrow(/weights: interests must not be negative/);
    expect(resolveOptions(fm, {}).factors).toBe(64);
  });
});

/** Jaccard similarity of users' interest sets: a whole method in a few lines. */
interface JaccardOptions {
  minShared: number;
}
const jaccard: Method<JaccardOptions> = {
  name: "jaccard",
  description: "Jaccard similarity of interest sets (test method)",
  options: { minShared: integerOption({ default: 1, min: 1, description: "interests two users must share" }) },
  async fit(dataset, options): Promise<Model> {
    const sets = dataset.users.map(() => new Set<number>());
    const ir = dataset.interestRows;
    for (let r = 0; r < ir.user.length; r++) sets[ir.user[r]].add(ir.interest[r]);
    const score = (u: number, v: number) => {
      let shared = 0;
      for (const i of sets[u]) if (sets[v].has(i)) shared++;
      return shared < options.minShared ? 0 : shared / (sets[u].size + sets[v].size - shared);
    };
    const n = dataset.users.length;
    return {
      method: "jaccard",
      dataset,
      params: options,
      stages: {},
      async rankAll(o = {}) {
        const lists = await rankAllPairs({
          rows: n,
          topN: o.topN ?? 10,
          data: {},
          setup: (_d, sel) => (start, end) => {
            for (let u = start; u < end; u++)
              for (let v = u + 1; v < n; v++) {
                const s = score(u, v);
                if (s > 0) (offerRow(sel, u, v, s), offerRow(sel, v, u, s));
              }
          },
          worker: new URL("./fixtures/no-such-worker.ts", import.meta.url),
          threads: 1,
          onThreads: o.onThreads,
        });
        return { users: [...dataset.users], ...lists };
      },
      similarUsers(u, o = {}) {
        if (typeof u !== "number") throw new RangeError("jaccard has no fold-in");
        return queryTopN(o.n ?? 10, (offer) => {
          for (let v = 0; v < n; v++) if (v !== u && score(u, v) > 0) offer(v, score(u, v));
        }, o);
      },
      details: ({ rankings }) => ({ users: n, usersWithNeighbors: rankings.offsets.length - 1 }),
      describe: () => ["  jaccard over interests"],
    };
  },
};

describe("a third method: one definition and one registration", () => {
  it("runs through the pipeline, evaluation and the CLI's flags without touching them", async () => {
    const unregister = registerMethod(jaccard);
    try {
      expect(methodNames()).toContain("jaccard");
      expect(() => registerMethod(jaccard)).toThrow(/already registered/);
      expect(Object.keys(methodArgs())).toContain("min-shared");
      expect(String(methodArgs()["min-shared"].description)).toStartWith("jaccard: ");

      const path = join(work, "jaccard.db");
      const run = await runPipeline({ input: { dataDir: SAMPLE }, store: path, method: "jaccard", options: { minShared: 2 }, table: "jaccard_ranking", topN: 3 });
      expect(run.run.method).toBe("jaccard");
      expect(run.params).toEqual({ topN: 3, minShared: 2, threads: 1 });
      expect(run.run.rows_written).toBeGreaterThan(0);
      const store = SqliteStore.open(path, { readonly: true });
      const stored = readRankings(store.db, "jaccard_ranking");
      store.close();
      // What was stored is what the model answers on demand.
      const sample = (await readTables(SAMPLE)).dataset;
      const model = await fit(sample, "jaccard", { minShared: 2 });
      for (const handle of ["110", stored.users[0], stored.users[5]]) {
        const i = stored.users.indexOf(handle);
        const want = Array.from(stored.neighbors.subarray(stored.offsets[i], stored.offsets[i + 1]), (v) => stored.users[v]);
        expect(Array.from(model.similarUsers(sample.userId(handle)!, { n: 3 }).ids, (v) => sample.users[v])).toEqual(want);
      }

      const report = await evaluate(data, { methods: ["jaccard", "similarity"], seed: 1, threads: 1 });
      expect(report.results.map((r) => r.method)).toEqual(["jaccard", "similarity", "most-popular"]);
      expect(report.params.jaccard).toEqual({ minShared: 1 });
    } finally {
      unregister();
    }
    expect(methodNames()).not.toContain("jaccard");
  }, 30_000);
});
