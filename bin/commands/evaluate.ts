import { defineCommand } from "citty";
import { evaluate, type EvaluatedMethod, type EvaluationReport } from "../../src/evaluate.ts";
import { fmParameters } from "../../src/fm/index.ts";
import { CliError, dbArgs, jsonArg, log, positiveInt, positiveNumber, printJson, progress } from "../common.ts";
import { dataDirArg, inputSource, loadInput, methodArgs, parseMethodArgs } from "../method-args.ts";

const METHOD_CHOICES = ["similarity", "factorization", "all"] as const;

export default defineCommand({
  meta: {
    name: "evaluate",
    description:
      "Hide a seeded share of each user's interests and courses, rank users on the rest, and score how well the top neighbours' votes recover the hidden items (recall@k, NDCG@k), next to a most-popular baseline",
  },
  args: {
    method: { type: "string", valueHint: METHOD_CHOICES.join("|"), description: "Method(s) to evaluate", default: "all" },
    ...dataDirArg,
    ...dbArgs,
    "top-n": { type: "string", valueHint: "N", description: "Neighbours per user that vote (alias --top_users)", default: "20" },
    cutoff: { type: "string", valueHint: "K", description: "Recommendations scored per user (recall@K, NDCG@K)", default: "10" },
    fraction: { type: "string", valueHint: "F", description: "Share of each user's distinct interests + courses to hide", default: "0.2" },
    ...methodArgs,
    seed: { ...methodArgs.seed, description: "Seed of the hold-out split and of the factorization machine" },
    ...jsonArg,
  },
  async run({ args }) {
    const choice = args.method as (typeof METHOD_CHOICES)[number];
    if (!METHOD_CHOICES.includes(choice)) throw new CliError(`--method must be one of ${METHOD_CHOICES.join(", ")}, got ${JSON.stringify(args.method)}`);
    const methods: EvaluatedMethod[] = choice === "all" ? ["similarity", "factorization"] : [choice];
    const settings = parseMethodArgs(args);
    const fraction = positiveNumber(args.fraction, "fraction", 0.2);
    if (!(fraction < 1)) throw new CliError(`--fraction must lie strictly between 0 and 1, got ${JSON.stringify(args.fraction)}`);
    const opts = {
      methods,
      fraction,
      seed: settings.fm.seed,
      neighbors: positiveInt(args["top-n"], "top-n", 20),
      k: positiveInt(args.cutoff, "cutoff", 10),
      weights: settings.weights,
      fm: settings.fm,
      threads: settings.threads,
    };
    const weights = settings.weights;

    const bar = progress(!args.json);
    const { dataset } = await loadInput(inputSource(args), { onProgress: bar.report, quiet: args.json });
    bar.done();

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
