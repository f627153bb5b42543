/**
 * What every command shares: database/env/table resolution, logging to stderr, progress on a
 * TTY, and one way to fail. Commands stay thin; the work lives in src/.
 */
import { createConsola } from "consola";
import { integerOption, numberOption, type EpochReport } from "../src/methods/method.ts";
import { validateTableName } from "../src/names.ts";
import type { ProgressFn } from "../src/types.ts";

/** An error the user caused (bad flag, missing file): one line, exit code 2 unless told. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** Logs go to stderr so stdout stays clean for results and `--json`. */
export const log = createConsola({ stdout: process.stderr, stderr: process.stderr });

export const dbArgs = {
  db: {
    type: "string",
    valueHint: "FILE",
    description: "SQLite database file (default: $RECSYS_DB, else in dev data/recsys.db; prod requires it)",
  },
  env: {
    type: "string",
    valueHint: "dev|prod",
    description: "Environment (default: $DATABASE_ENV, else dev)",
  },
} as const;

export const tableArg = {
  "results-table": {
    type: "string",
    valueHint: "NAME",
    description: "Rankings table (default: $RESULTS_TABLE, else user_ranking; alias --results_table)",
  },
} as const;

export const jsonArg = {
  json: { type: "boolean", description: "Print machine-readable JSON on stdout", default: false },
} as const;

export type Env = "dev" | "prod";

export const DEV_DB = "data/recsys.db";

export function resolveEnv(args: { env?: string }): Env {
  const env = args.env ?? process.env.DATABASE_ENV ?? "dev";
  if (env !== "dev" && env !== "prod") throw new CliError(`--env must be dev or prod, got ${JSON.stringify(env)}`);
  return env;
}

/** The database path: --db, then $RECSYS_DB; dev falls back to data/recsys.db, prod refuses to guess. */
export function resolveDb(args: { db?: string; env?: string }): string {
  const env = resolveEnv(args);
  const db = args.db || process.env.RECSYS_DB;
  if (db) return db;
  if (env === "prod") throw new CliError("--env prod needs an explicit database: pass --db FILE or set RECSYS_DB");
  return DEV_DB;
}

export function resolveTable(args: { "results-table"?: string }): string {
  const table = args["results-table"] || process.env.RESULTS_TABLE || "user_ranking";
  try {
    return validateTableName(table);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/**
 * Parses an integer flag ≥ `min` with the same rule as every method option (decimal digits only:
 * `0x10` and `1e1` are refused), naming the flag when it is not one.
 */
export function positiveInt(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined || value === "") return fallback;
  return asUsage(() => integerOption({ default: fallback, min, description: "" }).parse(value, `--${flag}`));
}

/** Parses a positive (or, with `allowZero`, non-negative) finite number flag, as method options are parsed. */
export function positiveNumber(value: string | undefined, flag: string, fallback: number, allowZero = false): number {
  if (value === undefined || value === "") return fallback;
  return asUsage(() => numberOption({ default: fallback, allowZero, description: "" }).parse(value, `--${flag}`));
}

/** The value of `f`, its RangeError turned into a usage error. */
export function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof RangeError) throw new CliError(e.message);
    throw e;
  }
}

/**
 * A progress line on stderr, redrawn at most ~10 times a second; silent unless stderr is a TTY
 * and output is not --json.
 */
export function progress(enabled: boolean): { report: ProgressFn; done(): void } {
  const on = enabled && process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    report(stage, done, total) {
      if (!on) return;
      const now = performance.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
      process.stderr.write(`\r\x1b[2K${stage} ${pct}% (${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")})`);
      shown = true;
    },
    done() {
      if (shown) process.stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}

/** Prints `value` as JSON on stdout (the only thing --json writes there). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** One training epoch for people: the figures its method reports (ALS has no AUC or learning rate). */
export function epochLine(e: EpochReport): string {
  const parts = [`epoch ${e.epoch}/${e.epochs}`, `loss ${e.loss.toFixed(4)}`];
  if (e.auc !== undefined) parts.push(`sampled AUC ${e.auc.toFixed(4)}`);
  if (e.learningRate !== undefined) parts.push(`lr ${e.learningRate.toPrecision(3)}`);
  parts.push(`${e.seconds.toFixed(2)} s`);
  return parts.join("  ");
}

/** Seconds since `t0` (a performance.now() value), to 3 decimals. */
export function seconds(t0: number): number {
  return Math.round(performance.now() - t0) / 1000;
}
