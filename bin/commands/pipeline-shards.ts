/**
 * `recsys pipeline --shards N --shard I --run-key K`, `recsys pipeline --finalize --run-key K`,
 * and the housekeeping `--staged` and `--discard --run-key K`: the flags and printing of a sharded
 * run, around the library's `runShard`, `finalizeRun`, `stagedRuns` and `discardRun`.
 * `--shard` defaults to `$JOB_COMPLETION_INDEX` (set in every pod of a Kubernetes Indexed Job)
 * and `--run-key` to `$RECSYS_RUN_KEY`, so a scheduler needs no wrapper script.
 */
import { maskLocation, MissingTablesError } from "../../src/db/store.ts";
import { checkRunKey, MAX_SHARDS, RunDiscardedError, RunFinalizedError, RunNotDiscardableError, ShardsNotReadyError, UnknownRunKeyError, type StagedRun } from "../../src/db/shard-records.ts";
import { InvalidTableNameError } from "../../src/names.ts";
import { DegenerateRunError } from "../../src/pipeline.ts";
import { discardRun, finalizeRun, runShard, stagedRuns } from "../../src/shards.ts";
import { asUsage, CliError, log, positiveInt, printJson, progress } from "../common.ts";
import type { StoreOptions } from "../../src/db/store.ts";

export const shardArgs = {
  shards: { type: "string", valueHint: "N", description: `Split the ranking into N shards, 1..${MAX_SHARDS} (with --shard and --run-key); then --finalize` },
  shard: { type: "string", valueHint: "I", description: "This shard, 0..N-1 (default: $JOB_COMPLETION_INDEX, as in a Kubernetes Indexed Job)" },
  "run-key": { type: "string", valueHint: "KEY", description: "Names one sharded run; every shard and the finalize get the same key (default: $RECSYS_RUN_KEY)" },
  finalize: { type: "boolean", description: "Swap in the shards of --run-key as one rankings table once all are staged and agree" },
  "then-finalize": {
    type: "boolean",
    description: "After staging this shard, finalize if every shard is staged (else exit 0 and leave it to the shard that completes the run): no separate finalize step",
  },
  staged: { type: "boolean", description: "List the staged run keys (shards present and missing, input current or stale, rows, when staged, whether a finalize would swap them in); --run-key KEY lists one" },
  discard: { type: "boolean", description: "Delete the staged rows of --run-key KEY (a failed or mistyped run) and close the key; touches no served table; repeating it is harmless" },
} as const;

type Args = Record<string, unknown>;

/** True if the flags ask for a shard or a finalize rather than the whole pipeline. */
export function isSharded(args: Args): boolean {
  return args.finalize === true || args["then-finalize"] === true || args.shards !== undefined || args.shard !== undefined || args.staged === true || args.discard === true;
}

function runKeyArg(args: Args): string {
  const given = args["run-key"] as string | undefined;
  const key = given ?? process.env.RECSYS_RUN_KEY;
  if (key === undefined || key === "") throw new CliError("a sharded run needs --run-key KEY (or RECSYS_RUN_KEY), the same for every shard and the finalize");
  return asUsage(() => checkRunKey(key, given !== undefined ? "--run-key" : "RECSYS_RUN_KEY"));
}

/** Errors of a sharded run that are the user's to fix, with their exit codes. */
function cliError(e: unknown): unknown {
  if (e instanceof MissingTablesError || e instanceof InvalidTableNameError || e instanceof RunFinalizedError || e instanceof RunDiscardedError) return new CliError(e.message);
  if (e instanceof ShardsNotReadyError || e instanceof DegenerateRunError) return new CliError(e.message, 1);
  return e;
}

export interface ShardContext {
  method: string;
  options: Record<string, unknown>;
  table: string;
  tableGiven: boolean;
  topN: number;
  threads: number | undefined;
  storeOptions: StoreOptions;
  /** The store's location, resolved (and checked to exist) only once the flags are. */
  db: () => string;
  json: boolean;
}

/** Runs the shard or the finalize the flags ask for. */
export async function runSharded(args: Args, ctx: ShardContext): Promise<void> {
  if (args["data-dir"] !== undefined) throw new CliError("--data-dir cannot be given to a sharded run: every shard reads the same input tables, so load them once with `recsys ingest --data-dir DIR` first");
  if (args.staged === true || args.discard === true) return housekeeping(args, ctx);
  const runKey = runKeyArg(args);
  if (args.finalize === true) {
    if (args["then-finalize"] === true) throw new CliError("--then-finalize goes with a shard (--shards N --shard I), not with --finalize");
    if (args.shard !== undefined) throw new CliError("--finalize takes no --shard: it swaps in all shards of --run-key");
    const shards = args.shards === undefined ? undefined : positiveInt(args.shards as string, "shards", 1, 1, MAX_SHARDS);
    const db = ctx.db();
    await finalize(args, ctx, db, runKey, shards, false);
    return;
  }
  if (args.shards === undefined) throw new CliError(`${args.shard !== undefined ? "--shard" : "--then-finalize"} needs --shards N (the number of shards of the run)`);
  const shards = positiveInt(args.shards as string, "shards", 1, 1, MAX_SHARDS);
  const fromEnv = args.shard === undefined;
  const shardText = (args.shard as string | undefined) ?? process.env.JOB_COMPLETION_INDEX;
  if (shardText === undefined || shardText === "") throw new CliError("--shards needs --shard I (0..N-1), or JOB_COMPLETION_INDEX set by a Kubernetes Indexed Job");
  const shard = positiveInt(shardText, fromEnv ? "shard (from JOB_COMPLETION_INDEX)" : "shard", 0, 0, shards - 1);
  const db = ctx.db();
  const bar = progress(!ctx.json);
  let result;
  try {
    result = await runShard({ store: db, storeOptions: ctx.storeOptions, runKey, shards, shard, method: ctx.method, options: ctx.options, table: ctx.table, topN: ctx.topN, threads: ctx.threads, onProgress: bar.report });
  } catch (e) {
    throw cliError(e);
  } finally {
    bar.done();
  }
  const r = result.record;
  if (args["then-finalize"] === true) {
    if (!ctx.json) process.stdout.write(`${r.method}: shard ${shard} of ${shards} staged ${r.rowsWritten.toLocaleString("en-US")} rows (run key ${runKey})\n`);
    await finalize(args, ctx, db, runKey, shards, true);
    return;
  }
  const summary = { runKey, shard, shards, method: r.method, table: r.table, db: maskLocation(db), users: r.end - r.start, firstUser: r.start, endUser: r.end, usersRanked: r.usersRanked, rows: r.rowsWritten, input: r.input, model: r.modelSha256, stages: result.stages, seconds: result.seconds };
  if (ctx.json) printJson(summary);
  else {
    log.info(`shard ${shard}/${shards} of run key ${runKey}: users ${r.start}..${r.end - 1} of ${r.users}`);
    process.stdout.write(`${r.method}: shard ${shard} of ${shards} staged ${r.rowsWritten.toLocaleString("en-US")} rows for ${(r.end - r.start).toLocaleString("en-US")} users (run key ${runKey}) in ${summary.db}; seconds: ${Object.entries(result.stages).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")}; total ${result.seconds.toFixed(3)}\n`);
  }
}

/**
 * Finalizes `runKey` and prints what happened. `ifComplete`: shards still missing are no failure
 * (the shard that completes the run finalizes it); anything else wrong still is.
 */
async function finalize(args: Args, ctx: ShardContext, db: string, runKey: string, shards: number | undefined, ifComplete: boolean): Promise<void> {
  let result;
  try {
    result = await finalizeRun({ store: db, storeOptions: ctx.storeOptions, runKey, shards, table: ctx.tableGiven ? ctx.table : undefined, allowEmpty: args["allow-empty"] === true });
  } catch (e) {
    if (ifComplete && e instanceof ShardsNotReadyError && e.missing.length > 0) {
      if (ctx.json) printJson({ runKey, swapped: false, missing: e.missing });
      else process.stdout.write(`run key ${runKey}: ${e.missing.length} shard(s) still to stage (${e.missing.slice(0, 12).join(", ")}${e.missing.length > 12 ? ", …" : ""}); the shard that completes the run finalizes it\n`);
      return;
    }
    throw cliError(e);
  }
  const { run, swapped } = result;
  const summary = { runKey, swapped, run: run.id, table: run.results_table, db: maskLocation(db), shards: run.params.shards, users: run.users_ranked, rows: run.rows_written, stages: run.stages };
  if (ctx.json) printJson(summary);
  else if (swapped) process.stdout.write(`finalized run key ${runKey}: ${run.params.shards} shards, ${run.rows_written.toLocaleString("en-US")} rows → ${run.results_table} in ${summary.db} (run ${run.id})\n`);
  else process.stdout.write(`run key ${runKey} was finalized already as run ${run.id} (${run.results_table}); nothing to do\n`);
}

/** `--staged` and `--discard`: each alone (with `--run-key`), never with a shard or a finalize. */
async function housekeeping(args: Args, ctx: ShardContext): Promise<void> {
  const flag = args.staged === true ? "--staged" : "--discard";
  for (const other of ["staged", "discard", "finalize", "then-finalize", "shards", "shard"]) {
    if (`--${other}` !== flag && args[other] !== undefined && args[other] !== false) throw new CliError(`${flag} takes no --${other}`);
  }
  const given = args["run-key"] as string | undefined;
  if (args.staged === true) {
    const only = given === undefined ? undefined : asUsage(() => checkRunKey(given, "--run-key"));
    const db = ctx.db();
    const runs = (await stagedRuns({ store: db, storeOptions: ctx.storeOptions })).filter((r) => only === undefined || r.runKey === only);
    if (ctx.json) printJson({ db: maskLocation(db), staged: runs });
    else process.stdout.write(formatStaged(runs, maskLocation(db), only));
    return;
  }
  // Only an explicit --run-key: a RECSYS_RUN_KEY left in the environment must not pick what is deleted.
  if (given === undefined) throw new CliError("--discard needs --run-key KEY, given on the command line (RECSYS_RUN_KEY is not used to discard); `recsys pipeline --staged` lists the staged run keys");
  const runKey = asUsage(() => checkRunKey(given, "--run-key"));
  const db = ctx.db();
  let result;
  try {
    result = await discardRun({ store: db, storeOptions: ctx.storeOptions, runKey });
  } catch (e) {
    if (e instanceof UnknownRunKeyError || e instanceof RunNotDiscardableError) throw new CliError(e.message);
    if (e instanceof CliError) throw e;
    // Another run holding the write lock, a read-only file, …: still say which key was left as it was.
    throw new CliError(`discarding run key ${runKey}: ${(e as Error).message ?? String(e)}; nothing discarded`, 1);
  }
  const summary = { ...result, db: maskLocation(db) };
  if (ctx.json) printJson(summary);
  else if (result.discarded) process.stdout.write(`discarded run key ${runKey}: ${result.shards} staged shard(s), ${result.rows.toLocaleString("en-US")} rows removed from ${summary.db}; the key takes no more shards\n`);
  else process.stdout.write(`run key ${runKey} was discarded already at ${result.discardedAt} (${result.shards} shard(s), ${result.rows.toLocaleString("en-US")} rows); nothing to do\n`);
}

/** The `--staged` listing: one block per run key, oldest first. */
function formatStaged(runs: StagedRun[], db: string, only: string | undefined): string {
  if (runs.length === 0) return only === undefined ? `no run key has shards staged in ${db}\n` : `run key ${only} has no shards staged in ${db}\n`;
  const lines = [`${runs.length} run key(s) with shards staged in ${db}:`];
  for (const r of runs) {
    const missing = r.missing.length === 0 ? "" : `, missing ${r.missing.length > 12 ? `${r.missing.slice(0, 12).join(", ")} and ${r.missing.length - 12} more` : r.missing.join(", ")}`;
    lines.push(
      `  ${r.runKey}: ${r.method} → ${r.table}; ${r.present.length} of ${r.shards} shards staged${missing}; input ${r.input}; ${r.rows.toLocaleString("en-US")} rows; started ${r.startedAt}, last staged ${r.stagedAt}`,
      `    ${r.problem === null ? "ready: `recsys pipeline --finalize --run-key " + r.runKey + "` swaps it in" : r.problem.replace(/^run "[^"]*" cannot be finalized: /, "not ready: ")}`,
    );
  }
  return lines.join("\n") + "\n";
}
