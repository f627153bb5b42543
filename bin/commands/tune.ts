import { defineCommand } from "citty";
import { getMethod, methodNames } from "../../src/methods/registry.ts";
import { tune, type TuneMetric, type TuneReport } from "../../src/tune.ts";
import { CliError, dbArgs, jsonArg, positiveInt, printJson } from "../common.ts";
import { dataDirArg, methodArgs, methodOptions, refuseForeignFlags } from "../method-args.ts";
import { splitArgs } from "./evaluate.ts";

export default defineCommand({
  meta: {
    name: "tune",
    description:
      "Choose a method's options by validation: carve a validation split from the training part of the evaluate split, search the options there, print the table and the best options as flags, then score them once on the test split",
  },
  args: () => ({
    method: { type: "string", valueHint: methodNames().join("|"), description: "Method to tune", required: true },
    ...dataDirArg,
    ...dbArgs,
    metric: { type: "string", valueHint: "recall|ndcg", description: "What the search maximizes on the validation split (recall@K or NDCG@K)", default: "recall" },
    budget: { type: "string", valueHint: "TRIALS", description: "Most configurations to fit (default: every value of every axis once)" },
    "top-n": { type: "string", valueHint: "N", description: "Neighbours per user that vote (alias --top_users)", default: "20" },
    cutoff: { type: "string", valueHint: "K", description: "Recommendations scored per user (recall@K, NDCG@K)", default: "10" },
    fraction: { type: "string", valueHint: "F", description: "Share of each user's distinct interests + courses to hide (test and validation alike)", default: "0.2" },
    ...methodArgs(),
    seed: { type: "string", valueHint: "S", description: "Seed of the test split (the validation split uses S + 1) and of a seeded method", default: "42" },
    ...jsonArg,
  }),
  async run({ args }) {
    const name = String(args.method);
    if (!methodNames().includes(name)) throw new CliError(`--method must be one of ${methodNames().join(", ")}, got ${JSON.stringify(args.method)}`);
    const method = getMethod(name);
    refuseForeignFlags([method], { ...args, seed: undefined });
    // Method flags given fix those options; their axes are not searched.
    const fixed = methodOptions(method, { ...args, seed: undefined });
    const metric = String(args.metric);
    if (metric !== "recall" && metric !== "ndcg") throw new CliError(`--metric must be recall or ndcg, got ${JSON.stringify(args.metric)}`);
    const budget = positiveInt(args.budget as string | undefined, "budget", Number.MAX_SAFE_INTEGER, 1);
    const { seed, fraction, neighbors, k, threads, dataset, bar } = await splitArgs(args);
    const report = await tune(dataset, {
      method: name,
      metric: metric as TuneMetric,
      budget,
      fixed,
      fraction,
      seed,
      neighbors,
      k,
      threads,
      onTrial: args.json
        ? undefined
        : (t, i) => {
            bar.done();
            process.stderr.write(`trial ${i + 1}: ${t.recall.toFixed(4)} recall, ${t.ndcg.toFixed(4)} NDCG, ${t.seconds.toFixed(1)} s  ${t.flags}\n`);
          },
    });
    if (args.json) printJson(report);
    else process.stdout.write(formatTune(report, k) + "\n");
  },
});

/** The trials as a table, the best options as flags, and the test score. */
export function formatTune(r: TuneReport, k: number): string {
  const lines = [
    `${r.method}: ${r.trials.length} configurations on a validation split carved from the training part (${r.validation.hiddenItems.toLocaleString("en-US")} items of ${r.validation.scoredUsers.toLocaleString("en-US")} users), by ${r.metric === "recall" ? `recall@${k}` : `NDCG@${k}`}`,
    `${"#".padStart(3)}  ${"axis".padEnd(16)}${`recall@${k}`.padStart(11)}${`NDCG@${k}`.padStart(10)}${"seconds".padStart(9)}  options`,
  ];
  r.trials.forEach((t, i) => {
    const mark = t === r.best ? "*" : " ";
    lines.push(`${String(i + 1).padStart(3)}${mark} ${t.axis.padEnd(16)}${t.recall.toFixed(4).padStart(11)}${t.ndcg.toFixed(4).padStart(10)}${t.seconds.toFixed(2).padStart(9)}  ${t.flags}`);
  });
  const x = r.test.result;
  lines.push(`best: --method ${r.method}${r.best.flags ? ` ${r.best.flags}` : " (the defaults)"}`);
  lines.push(`test split (once, ${r.test.hiddenItems.toLocaleString("en-US")} items of ${r.test.scoredUsers.toLocaleString("en-US")} users): recall@${k} ${x.recall.toFixed(4)}, NDCG@${k} ${x.ndcg.toFixed(4)}, coverage ${x.coverage.toFixed(4)}, ${x.seconds.toFixed(2)} s; search took ${r.seconds.toFixed(0)} s`);
  return lines.join("\n");
}
