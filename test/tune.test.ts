/**
 * `recsys tune`: the search never sees a test item (every dataset any trial or the final fit is
 * fitted on lacks every test-hidden (user, item) pair, and the validation items are training items
 * only), the best trial is the best by the chosen metric, the test figure is the one `evaluate`
 * gives for the best options, the budget and fixed options are honoured, and the CLI prints the
 * table and the best options as flags.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { Dataset } from "../src/dataset.ts";
import { evaluate, splitHoldout } from "../src/evaluate.ts";
import type { Method } from "../src/methods/method.ts";
import { registerMethod } from "../src/methods/registry.ts";
import { similarity } from "../src/methods/similarity/index.ts";
import { optionFlags, tune, validationSplit, type SearchSpace } from "../src/tune.ts";
import { runCli } from "./fixtures/cli.ts";
import { syntheticDataset } from "./fixtures/synthetic-dataset.ts";

const data = Dataset.fromColumns(syntheticDataset({ users: 300, seed: 5 }));
const SAMPLE = join(import.meta.dir, "../data/sample");

/** Every (user, item) pair of a dataset's interest and view rows, by handle and item key. */
function pairs(ds: Dataset): Set<string> {
  const out = new Set<string>();
  const ir = ds.interestRows;
  for (let r = 0; r < ir.user.length; r++) out.add(`${ds.users[ir.user[r]]}|interest:${ds.interests[ir.interest[r]]}`);
  const vr = ds.viewRows;
  for (let r = 0; r < vr.user.length; r++) out.add(`${ds.users[vr.user[r]]}|course:${ds.courses[vr.course[r]]}`);
  return out;
}

/** The hidden (user, item) pairs of a split, by handle and item key. */
function hiddenPairs(split: ReturnType<typeof splitHoldout>): string[] {
  const out: string[] = [];
  for (let u = 0; u < split.users.length; u++) {
    for (let q = split.hiddenOffsets[u]; q < split.hiddenOffsets[u + 1]; q++) out.push(`${split.users[u]}|${split.space.items[split.hidden[q]]}`);
  }
  return out;
}

const SPACE: SearchSpace = [
  { axis: "item weighting", values: [{ itemWeighting: "none" }, { itemWeighting: "idf", idfExponent: 0.5 }, { itemWeighting: "bm25" }] },
  { axis: "shrinkage", values: [{ shrinkage: 0 }, { shrinkage: 5 }] },
];

describe("tune", () => {
  const fitted: Dataset[] = [];
  const spy: Method = { ...(similarity as unknown as Method), name: "spy-similarity", fit: (ds, o, c) => (fitted.push(ds), similarity.fit(ds, o as never, c)) };
  const unregister = registerMethod(spy);
  afterAll(unregister);

  it("no test-hidden (user, item) pair reaches any fit, and validation items are training items only", async () => {
    fitted.length = 0;
    const report = await tune(data, { method: spy.name, space: SPACE, seed: 9 });
    const test = splitHoldout(data, { seed: 9 });
    const hidden = hiddenPairs(test);
    expect(hidden.length).toBeGreaterThan(300);
    // Every trial, then the final fit on the test split's training part.
    expect(fitted.length).toBe(report.trials.length + 1);
    for (const ds of fitted) {
      const seen = pairs(ds);
      for (const p of hidden) expect(seen.has(p)).toBe(false);
    }
    // The validation split: carved from the training part, so its items are training pairs.
    const validation = validationSplit(test, { seed: 9 });
    const train = pairs(test.train);
    const validationHidden = hiddenPairs(validation);
    expect(validationHidden.length).toBeGreaterThan(200);
    for (const p of validationHidden) expect(train.has(p)).toBe(true);
    const trialData = pairs(fitted[0]);
    for (const p of validationHidden) expect(trialData.has(p)).toBe(false);
    expect(report.validation.hiddenItems).toBe(validationHidden.length);
  });

  it("the best trial is the best by the metric; the test figure is evaluate's for the best options", async () => {
    for (const metric of ["recall", "ndcg"] as const) {
      const report = await tune(data, { method: "similarity", space: SPACE, metric, seed: 4 });
      // Each distinct configuration once: the defaults, then the values of each axis that differ from it.
      const keys = report.trials.map((t) => JSON.stringify(t.options));
      expect(new Set(keys).size).toBe(keys.length);
      expect(report.trials.length).toBeGreaterThanOrEqual(4);
      expect(report.trials[0].axis).toBe("defaults");
      expect(report.best[metric]).toBe(Math.max(...report.trials.map((t) => t[metric])));
      const e = await evaluate(data, { methods: ["similarity"], options: { similarity: report.best.options }, seed: 4 });
      expect(report.test.result.recall).toBe(e.results[0].recall);
      expect(report.test.result.ndcg).toBe(e.results[0].ndcg);
      expect(report.best.flags).toBe(optionFlags("similarity", report.best.options));
    }
  });

  it("the budget caps the trials; fixed options are not searched", async () => {
    expect((await tune(data, { method: "similarity", space: SPACE, budget: 2 })).trials.length).toBe(2);
    const fixed = await tune(data, { method: "similarity", space: SPACE, fixed: { shrinkage: 3 } });
    for (const t of fixed.trials) expect(t.options.shrinkage).toBe(3);
    expect(fixed.trials.map((t) => t.axis)).not.toContain("shrinkage");
    await expect(tune(data, { method: "similarity", space: [{ axis: "x", values: [{ shrinkage: -1 }] }] })).rejects.toThrow(/shrinkage must be/);
  });

  it("a fixed rank leaves out the shrinkage values it refuses (shrinkage 0 stays); a rank axis turns shrinkage off", async () => {
    const ranked = await tune(data, { method: "similarity", space: SPACE, fixed: { rank: 4 } });
    for (const t of ranked.trials) expect(t.options).toMatchObject({ rank: 4, shrinkage: 0 });
    expect(ranked.trials.filter((t) => t.axis === "shrinkage").length).toBeLessThanOrEqual(1);
    expect(ranked.trials.some((t) => t.axis === "item weighting")).toBe(true);
    const axis = await tune(data, { method: "similarity", space: [{ axis: "rank", values: [{ rank: 0 }, { rank: 4, shrinkage: 0 }] }] });
    expect(axis.trials.map((t) => [t.options.rank, t.options.shrinkage])).toEqual([[0, 5], [4, 0]]);
  });

  it("flags list only what differs from the defaults, numbers tidied", () => {
    const defaults: Record<string, unknown> = Object.fromEntries(Object.entries(similarity.options).map(([k, s]) => [k, s.default]));
    const weights = { interests: 0.7000000000000001, courses: 0.20000000000000004, assessments: 0.10000000000000002 };
    const other = defaults.itemWeighting === "bm25" ? "idf" : "bm25";
    expect(optionFlags("similarity", { ...defaults, itemWeighting: other, weights })).toBe(`--weights interests=0.7,courses=0.2,assessments=0.1 --item-weighting ${other}`);
    expect(optionFlags("similarity", defaults)).toBe("");
  });

  it("CLI: prints the trials, the best options as flags and the test score; bad flags exit 2", () => {
    const r = runCli(["tune", "--method", "similarity", "--data-dir", SAMPLE, "--budget", "3", "--threads", "1"]);
    expect(r.err).not.toContain("Error");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/similarity: 3 configurations on a validation split/);
    expect(r.out).toMatch(/^best: --method similarity/m);
    expect(r.out).toMatch(/^test split \(once, /m);
    const bad = runCli(["tune", "--method", "similarity", "--data-dir", SAMPLE, "--metric", "auc"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--metric must be recall or ndcg");
    const foreign = runCli(["tune", "--method", "similarity", "--data-dir", SAMPLE, "--factors", "8"]);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toContain("--factors does not apply to similarity");
  }, 60_000);
});
