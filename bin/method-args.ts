/**
 * Flags and input loading shared by the commands that run a ranking method (`pipeline`,
 * `evaluate`): same names, same defaults, same checks.
 */
import { existsSync } from "node:fs";
import { loadDataset, MissingTablesError } from "../src/db/load.ts";
import { openDatabase } from "../src/db/open.ts";
import { FM_DEFAULTS } from "../src/fm/index.ts";
import { formatSummary, InputError, readTables, type ReadResult } from "../src/read/index.ts";
import { DEFAULT_WEIGHTS, formatWeights, parseWeights, type Weights } from "../src/similarity/index.ts";
import type { Dataset, ProgressFn } from "../src/types.ts";
import { CliError, positiveInt, positiveNumber, resolveDb } from "./common.ts";

export const methodArgs = {
  weights: { type: "string", valueHint: "SPEC", description: "similarity: block weights, normalized to sum 1", default: formatWeights(DEFAULT_WEIGHTS) },
  factors: { type: "string", valueHint: "K", description: "factorization: latent factors", default: String(FM_DEFAULTS.factors) },
  epochs: { type: "string", valueHint: "N", description: "factorization: training epochs", default: String(FM_DEFAULTS.epochs) },
  "learning-rate": { type: "string", valueHint: "RATE", description: "factorization: initial SGD step (decays linearly to a tenth)", default: String(FM_DEFAULTS.learningRate) },
  regularization: { type: "string", valueHint: "L2", description: "factorization: L2 penalty", default: String(FM_DEFAULTS.regularization) },
  negatives: { type: "string", valueHint: "N", description: "factorization: sampled negatives per positive", default: String(FM_DEFAULTS.negatives) },
  seed: { type: "string", valueHint: "S", description: "factorization: random seed", default: String(FM_DEFAULTS.seed) },
  threads: { type: "string", valueHint: "N", description: "Worker threads (default: all cores for more than 2,000 users, else 1)" },
} as const;

export const dataDirArg = {
  "data-dir": { type: "string", valueHint: "DIR", description: "Read the four CSVs from DIR (alias --data_path); else use the tables in the database" },
} as const;

type MethodArgValues = { [K in keyof typeof methodArgs]?: string };

export interface MethodSettings {
  weights: Weights;
  fm: { factors: number; epochs: number; learningRate: number; regularization: number; negatives: number; seed: number };
  threads: number | undefined;
}

/** Checks every method flag, naming the flag at fault. */
export function parseMethodArgs(args: MethodArgValues): MethodSettings {
  let weights: Weights;
  try {
    weights = parseWeights(args.weights ?? formatWeights(DEFAULT_WEIGHTS));
  } catch (e) {
    throw new CliError(`--${(e as Error).message}`);
  }
  return {
    weights,
    fm: {
      factors: positiveInt(args.factors, "factors", FM_DEFAULTS.factors),
      epochs: positiveInt(args.epochs, "epochs", FM_DEFAULTS.epochs, 0),
      learningRate: positiveNumber(args["learning-rate"], "learning-rate", FM_DEFAULTS.learningRate),
      regularization: positiveNumber(args.regularization, "regularization", FM_DEFAULTS.regularization, true),
      negatives: positiveInt(args.negatives, "negatives", FM_DEFAULTS.negatives),
      seed: positiveInt(args.seed, "seed", FM_DEFAULTS.seed, 0),
    },
    threads: args.threads === undefined ? undefined : positiveInt(args.threads, "threads", 1),
  };
}

/** Where the method input comes from: CSVs in a directory, or the database's input tables. */
export type InputSource = { dataDir: string } | { dbPath: string };

/**
 * Loads the method input. From a directory, the read summary comes back too (and is printed on
 * stderr unless `quiet`); from the database, missing tables are a usage error that says how to
 * load them.
 */
export async function loadInput(source: InputSource, opts: { onProgress?: ProgressFn; quiet?: boolean } = {}): Promise<{ dataset: Dataset; read?: ReadResult }> {
  if ("dataDir" in source) {
    let read: ReadResult;
    try {
      read = await readTables(source.dataDir, { onProgress: opts.onProgress });
    } catch (e) {
      // Bad input is the user's to fix, like a bad flag: the message names file, line and column.
      if (e instanceof InputError) throw new CliError(e.message);
      throw e;
    }
    if (!opts.quiet) process.stderr.write(formatSummary(read.summary) + "\n");
    return { dataset: read.tables, read };
  }
  if (!existsSync(source.dbPath)) {
    throw new CliError(`no database at ${source.dbPath}: load the data first with \`recsys ingest --data-dir DIR\`, or pass --data-dir to this command`);
  }
  const db = openDatabase(source.dbPath, { readonly: true });
  try {
    return { dataset: loadDataset(db) };
  } catch (e) {
    if (e instanceof MissingTablesError) throw new CliError(e.message);
    throw e;
  } finally {
    db.close();
  }
}

/** `--data-dir` if given, else the database from --db/--env. */
export function inputSource(args: { "data-dir"?: string; db?: string; env?: string }): InputSource {
  return args["data-dir"] ? { dataDir: args["data-dir"] } : { dbPath: resolveDb(args) };
}
