import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { evaluate, type EvaluatedMethod, type EvaluationReport } from "../../src/evaluate.ts";
import { FM_DEFAULTS, fmParameters } from "../../src/fm/index.ts";
import { DEFAULT_WEIGHTS, formatWeights, parseWeights } from "../../src/similarity/index.ts";
import type { Dataset } from "../../src/types.ts";
import { CliError, dbArgs, jsonArg, log, positiveInt, positiveNumber, printJson, progress, resolveDb } from "../common.ts";

const METHOD_CHOICES = ["similarity", "factorization", "all"] as const;

export default defineCommand({
  meta: {
    name: "evaluate",
    description:
      "Hide a seeded share of each user's interests and courses, rank users on the rest, and score how well the top neighbours' votes recover the hidden items (recall@k, NDCG@k), next to a most-popular baseline",
  },
  args: {
    method: { type: "string", valueHint: METHOD_CHOICES.join("|"), description: "Method(s) to evaluate", default: "all" },
    "data-dir": { type: "string", valueHint: "DIR", description: "Read the four CSVs from DIR (alias --data_path); else use the tables in the database" },
    ...dbArgs,
    "top-n": { type: "string", valueHint: "N", description: "Neighbours per user that vote (alias --top_users)", default: "20" },
    cutoff: { type: "string", valueHint: "K", description: "Recommendations scored per user (recall@K, NDCG@K)", default: "10" },
    fraction: { type: "string", valueHint: "F", description: "Share of each user's distinct interests + courses to hide", default: "0.2" },
    weights: { type: "string", valueHint: "SPEC", description: "similarity: block weights, normalized to sum 1", default: formatWeights(DEFAULT_WEIGHTS) },
    factors: { type: "string", valueHint: "K", description: "factorization: latent factors", default: String(FM_DEFAULTS.factors) },
    epochs: { type: "string", valueHint: "N", description: "factorization: training epochs", default: String(FM_DEFAULTS.epochs) },
    "learning-rate": { type: "string", valueHint: "RATE", description: "factorization: initial SGD step (decays linearly to a tenth)", default: String(FM_DEFAULTS.learningRate) },
    regularization: { type: "string", valueHint: "L2", description: "factorization: L2 penalty", default: String(FM_DEFAULTS.regularization) },
    negatives: { type: "string", valueHint: "N", description: "factorization: sampled negatives per positive", default: String(FM_DEFAULTS.negatives) },
    seed: { type: "string", valueHint: "S", description: "Seed of the hold-out split and of the factorization machine", default: String(FM_DEFAULTS.seed) },
    threads: { type: "string", valueHint: "N", description: "Worker threads (default: all cores for more than 2,000 users, else 1)" },
    ...jsonArg,
  },
  async run({ args }) {
    const choice = args.method as (typeof METHOD_CHOICES)[number];
    if (!METHOD_CHOICES.includes(choice)) throw new CliError(`--method must be one of ${METHOD_CHOICES.join(", ")}, got ${JSON.stringify(args.method)}`);
    const methods: EvaluatedMethod[] = choice === "all" ? ["similarity", "factorization"] : [choice];
    let weights;
    try {
      weights = parseWeights(args.weights);
    } catch (e) {
      throw new CliError(`--weights: ${(e as Error).message}`);
    }
    const fraction = positiveNumber(args.fraction, "fraction", 0.2);
    if (!(fraction < 1)) throw new CliError(`--fraction must lie strictly between 0 and 1, got ${JSON.stringify(args.fraction)}`);
    const seed = positiveInt(args.seed, "seed", FM_DEFAULTS.seed, 0);
    const opts = {
      methods,
      fraction,
      seed,
      neighbors: positiveInt(args["top-n"], "top-n", 20),
      k: positiveInt(args.cutoff, "cutoff", 10),
      weights,
      fm: {
        factors: positiveInt(args.factors, "factors", FM_DEFAULTS.factors),
        epochs: positiveInt(args.epochs, "epochs", FM_DEFAULTS.epochs, 0),
        learningRate: positiveNumber(args["learning-rate"], "learning-rate", FM_DEFAULTS.learningRate),
        regularization: positiveNumber(args.regularization, "regularization", FM_DEFAULTS.regularization, true),
        negatives: positiveInt(args.negatives, "negatives", FM_DEFAULTS.negatives),
        seed,
      },
      threads: args.threads === undefined ? undefined : positiveInt(args.threads, "threads", 1),
    };

    const bar = progress(!args.json);
    let dataset: Dataset;
    const dataDir = args["data-dir"];
    if (dataDir) {
      const { readTables } = await import("../../src/read/index.ts");
      dataset = (await readTables(dataDir, { onProgress: bar.report })).tables;
      bar.done();
    } else {
      const dbPath = resolveDb(args);
      if (!existsSync(dbPath)) throw new CliError(`no database at ${dbPath}: load the data first with \`recsys ingest --data-dir DIR\`, or pass --data-dir to this command`);
      const { openDatabase } = await import("../../src/db/open.ts");
      const { loadDataset } = await import("../../src/db/load.ts");
      const db = openDatabase(dbPath, { readonly: true });
      try {
        dataset = loadDataset(db);
      } finally {
        db.close();
      }
    }

    const report = await evaluate(dataset, {
      ...opts,
      onProgress: bar.report,
      fm: {
        ...opts.fm,
        onEpoch: args.json
          ? undefined
          : (e) => {
              bar.done();
              log.info(`factorization epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  sampled AUC ${e.auc.toFixed(4)}  ${e.seconds.toFixed(2)} s`);
            },
      },
    });
    bar.done();
    const params: Record<string, unknown> = {};
    if (methods.includes("similarity")) params.weights = weights;
    if (methods.includes("factorization")) params.factorization = fmParameters(opts.fm);
    if (args.json) printJson({ ...report, params });
    else process.stdout.write(formatReport(report) + "\n");
  },
});

const fmt = (n: number) => n.toLocaleString("en-US");

/** The evaluation as a small table. */
export function formatReport(r: EvaluationReport): string {
  const head = `recall@${r.k}`;
  const nd = `NDCG@${r.k}`;
  const lines = [
    `held out ${Math.round(r.fraction * 100)}% of each user's interests and courses (seed ${r.seed}): ${fmt(r.hiddenItems)} items of ${fmt(r.scoredUsers)} users (of ${fmt(r.users)}); top-${r.neighbors} neighbours vote`,
    `${"method".padEnd(15)}${head.padStart(11)}${nd.padStart(11)}${"seconds".padStart(10)}`,
  ];
  for (const x of r.results) {
    lines.push(`${x.method.padEnd(15)}${x.recall.toFixed(4).padStart(11)}${x.ndcg.toFixed(4).padStart(11)}${(x.method === "most-popular" ? "-" : x.seconds.toFixed(2)).padStart(10)}`);
  }
  return lines.join("\n");
}
