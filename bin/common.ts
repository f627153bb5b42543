/**
 * What every command shares: database/env/table resolution, logging to stderr, progress on a
 * TTY, and one way to fail. Commands stay thin; the work lives in src/.
 */
import { createConsola } from "consola";
import { integerOption, numberOption, type EpochReport } from "../src/methods/method.ts";
import type { StoreOptions } from "../src/db/store.ts";
import { DEFAULT_LOCK_WAIT_MS } from "../src/db/write.ts";
import { isStoreUrl, maskLocation } from "../src/db/store.ts";
import { isPostgresUrl, parsePgUrl } from "../src/db/pg-url.ts";
import { validateTableName } from "../src/names.ts";
import { MAX_TOP_N } from "../src/rank/driver.ts";
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
    valueHint: "FILE|URL",
    description: "SQLite database file or postgres:// URL (default: $RECSYS_DB, else in dev data/recsys.db; prod requires it)",
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
  // Named as the user gave it: the flag, or the variable when the flag is absent.
  const from = args.env !== undefined ? "--env" : "DATABASE_ENV";
  if (env !== "dev" && env !== "prod") throw new CliError(`${from} must be dev or prod, got ${JSON.stringify(env)}`);
  return env;
}

/**
 * The database: --db, then $RECSYS_DB; dev falls back to data/recsys.db, prod refuses to guess.
 * A SQLite path or a postgres:// URL (checked here, so a malformed one is a usage error).
 */
export function resolveDb(args: { db?: string; env?: string }): string {
  const env = resolveEnv(args);
  const db = args.db || process.env.RECSYS_DB;
  if (db) return checkStoreUrl(db, args.db ? "--db" : "RECSYS_DB");
  if (env === "prod") throw new CliError("--env prod needs an explicit database: pass --db FILE|URL or set RECSYS_DB");
  return DEV_DB;
}

/** `location` as it is, unless it is a URL recsys cannot use (named with its password masked). */
function checkStoreUrl(location: string, source: string): string {
  if (!isStoreUrl(location)) return location;
  if (!isPostgresUrl(location)) throw new CliError(`${source}: unsupported URL ${maskLocation(location)}; give a SQLite file path or a postgres:// URL`);
  try {
    parsePgUrl(location);
  } catch (e) {
    throw new CliError(`${source}: ${(e as Error).message}`);
  }
  return location;
}

export function resolveTable(args: { "results-table"?: string }): string {
  const table = args["results-table"] || process.env.RESULTS_TABLE || "user_ranking";
  try {
    return validateTableName(table);
  } catch (e) {
    const from = args["results-table"] ? "--results-table" : "RESULTS_TABLE";
    throw new CliError(`${from}: ${(e as Error).message}`);
  }
}

/**
 * Parses an integer flag in `min`..`max` with the same rule as every method option (decimal digits
 * only: `0x10` and `1e1` are refused), naming the flag when it is not one.
 */
export function positiveInt(value: string | undefined, flag: string, fallback: number, min = 1, max?: number): number {
  if (value === undefined || value === "") return fallback;
  return asUsage(() => integerOption({ default: fallback, min, max, description: "" }).parse(value, `--${flag}`));
}

/** A top-n-like flag (neighbours or recommendations per user): 1..MAX_TOP_N. */
export function topNArg(value: string | undefined, flag: string, fallback: number): number {
  return positiveInt(value, flag, fallback, 1, MAX_TOP_N);
}

/** Parses a positive (or, with `allowZero`, non-negative) finite number flag, at most `max`, as method options are parsed. */
export function positiveNumber(value: string | undefined, flag: string, fallback: number, allowZero = false, max?: number): number {
  if (value === undefined || value === "") return fallback;
  return asUsage(() => numberOption({ default: fallback, allowZero, max, description: "" }).parse(value, `--${flag}`));
}

/** Most seconds --wait accepts: an hour. */
const MAX_WAIT_S = 3600;

export const waitArg = {
  wait: {
    type: "string",
    valueHint: "SECONDS",
    description: `How long to wait for another recsys run that is writing the database (default ${DEFAULT_LOCK_WAIT_MS / 1000}, at most ${MAX_WAIT_S})`,
  },
} as const;

/** How a writing command opens its store: --wait, and a line on stderr when it has to wait. */
export function writeStoreOptions(args: { wait?: string }): StoreOptions {
  const seconds = positiveNumber(args.wait, "wait", DEFAULT_LOCK_WAIT_MS / 1000, true, MAX_WAIT_S);
  return { lockWaitMs: seconds * 1000, onLockWait: (message) => log.info(message) };
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
