import { defineCommand } from "citty";
import { openStore, MissingTablesError } from "../../src/db/store.ts";
import type { Dataset } from "../../src/dataset.ts";
import { evaluate, type EvaluationReport } from "../../src/evaluate.ts";
import { getMethod, methodNames, methods } from "../../src/methods/registry.ts";
import { MAX_SEED } from "../../src/methods/method.ts";
import { InputError } from "../../src/read/errors.ts";
import { readTables } from "../../src/read/index.ts";
import { formatSummary } from "../../src/read/summary.ts";
import { CliError, dbArgs, epochLine, jsonArg, log, positiveInt, positiveNumber, printJson, progress, topNArg } from "../common.ts";
import { checkMethodFlags, refuseForeignFlags, dataDirArg, inputDatabase, methodArgs, threadsArg } from "../method-args.ts";

export default defineCommand({
  meta: {
    name: "evaluate",
    description:
      "Hide a seeded share of each user's interests and courses, rank users on the rest, and score how well the top neighbours' votes recover the hidden items (recall@k, NDCG@k), next to a most-popular baseline",
  },
  args: () => {
    const flags = methodArgs();
    return {
      method: { type: "string", valueHint: [...methodNames(), "all"].join("|"), description: "Method(s) to evaluate", default: "all" },
      ...dataDirArg,
      ...dbArgs,
      "top-n": { type: "string", valueHint: "N", description: "Neighbours per user that vote (alias --top_users)", default: "20" },
      cutoff: { type: "string", valueHint: "K", description: "Recommendations scored per user (recall@K, NDCG@K)", default: "10" },
      fraction: { type: "string", valueHint: "F", description: "Share of each user's distinct interests + courses to hide", default: "0.2" },
      ...flags,
      seed: { type: "string", valueHint: "S", description: "Seed of the hold-out split and of every seeded method", default: "42" },
      ...jsonArg,
    };
  },
  async run({ args }) {
    const choice = String(args.method);
    if (choice !== "all" && !methodNames().includes(choice)) {
      throw new CliError(`--method must be one of ${[...methodNames(), "all"].join(", ")}, got ${JSON.stringify(args.method)}`);
    }
    const chosen = choice === "all" ? methods() : [getMethod(choice)];
    const flags = checkMethodFlags(methods(), args);
    // --seed is evaluate's own (the split's, and each method's unless set), whatever the methods.
    refuseForeignFlags(chosen, { ...args, seed: undefined });
    const { seed, fraction, neighbors, k, threads, dataset, bar } = await splitArgs(args);

    const report = await evaluate(dataset, {
      methods: chosen.map((m) => m.name),
      fraction,
      seed,
      neighbors,
      k,
      options: Object.fromEntries(chosen.map((m) => [m.name, flags.get(m) ?? {}])),
      threads,
      onProgress: bar.report,
      onEpoch: args.json
        ? undefined
        : (method, e) => {
            bar.done();
            log.info(`${method} ${epochLine(e)}`);
          },
    });
    bar.done();
    if (args.json) printJson(report);
    else process.stdout.write(formatReport(report) + "\n");
  },
});

/** The flags `evaluate` and `tune` share (the split, the vote, threads), checked, and the dataset they read. */
export async function splitArgs(args: Record<string, unknown>) {
  const seed = positiveInt(typeof args.seed === "string" ? args.seed : undefined, "seed", 42, 0, MAX_SEED);
  const fraction = positiveNumber(args.fraction as string | undefined, "fraction", 0.2);
  if (!(fraction < 1)) throw new CliError(`--fraction must lie strictly between 0 and 1, got ${JSON.stringify(args.fraction)}`);
  const neighbors = topNArg(args["top-n"] as string | undefined, "top-n", 20);
  const k = topNArg(args.cutoff as string | undefined, "cutoff", 10);
  const threads = threadsArg(args);
  const bar = progress(!args.json);
  const dataset = await loadDataset(args, bar.report, Boolean(args.json));
  bar.done();
  return { seed, fraction, neighbors, k, threads, dataset, bar };
}

/** The dataset from --data-dir's CSVs, or from the database's input tables. */
export async function loadDataset(args: Record<string, unknown>, onProgress: (stage: string, done: number, total: number) => void, quiet: boolean): Promise<Dataset> {
  const dir = args["data-dir"];
  if (typeof dir === "string" && dir !== "") {
    try {
      const read = await readTables(dir, { onProgress });
      if (!quiet) process.stderr.write(formatSummary(read.summary) + "\n");
      return read.dataset;
    } catch (e) {
      if (e instanceof InputError) throw new CliError(e.message);
      throw e;
    }
  }
  const dbPath = inputDatabase({ db: args.db as string | undefined, env: args.env as string | undefined });
  const store = await openStore(dbPath, { readonly: true });
  try {
    return await store.loadDataset();
  } catch (e) {
    if (e instanceof MissingTablesError) throw new CliError(e.message);
    throw e;
  } finally {
    store.close();
  }
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** The evaluation as a small table. */
export function formatReport(r: EvaluationReport): string {
  const head = `recall@${r.k}`;
  const nd = `NDCG@${r.k}`;
  const lines = [
    `held out ${Math.round(r.fraction * 100)}% of each user's interests and courses (seed ${r.seed}): ${fmt(r.hiddenItems)} items of ${fmt(r.scoredUsers)} users (of ${fmt(r.users)}); top-${r.neighbors} neighbours vote`,
    `${"method".padEnd(22)}${head.padStart(11)}${nd.padStart(11)}${"coverage".padStart(10)}${"seconds".padStart(10)}`,
  ];
  for (const x of r.results) {
    lines.push(
      `${x.method.padEnd(22)}${x.recall.toFixed(4).padStart(11)}${x.ndcg.toFixed(4).padStart(11)}${x.coverage.toFixed(4).padStart(10)}${(x.method === "most-popular" ? "-" : x.seconds.toFixed(2)).padStart(10)}`,
    );
  }
  return lines.join("\n");
}
