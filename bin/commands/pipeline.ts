/**
 * `recsys pipeline`: argument parsing and printing around the library's `runPipeline`, which
 * reads, fits, ranks, fingerprints and stores in one transaction.
 */
import { defineCommand } from "citty";
import { getMethod, methodNames, methods, UnknownMethodError } from "../../src/methods/registry.ts";
import { DegenerateRunError, runPipeline, type PipelineResult } from "../../src/pipeline.ts";
import { InputError } from "../../src/read/errors.ts";
import { formatSummary } from "../../src/read/summary.ts";
import { maskLocation, MissingTablesError } from "../../src/db/store.ts";
import { InvalidTableNameError } from "../../src/names.ts";
import { MAX_TOP_N } from "../../src/rank/driver.ts";
import { CliError, dbArgs, epochLine, jsonArg, log, printJson, progress, resolveDb, resolveTable, tableArg, topNArg, waitArg, writeStoreOptions } from "../common.ts";
import { isSharded, runSharded, shardArgs } from "./pipeline-shards.ts";
import { checkMethodFlags, refuseForeignFlags, dataDirArg, inputDatabase, methodArgs, methodChoices, threadsArg } from "../method-args.ts";

export default defineCommand({
  meta: { name: "pipeline", description: "Rank every user's most similar users and store them in the rankings table" },
  args: () => ({
    method: { type: "string", valueHint: methodChoices(), description: "Ranking method", default: methodNames()[0] },
    "data-dir": { ...dataDirArg["data-dir"], description: "Ingest the four CSVs from DIR first (alias --data_path); else use the tables in the database" },
    ...dbArgs,
    ...tableArg,
    "top-n": { type: "string", valueHint: "N", description: `Neighbours kept per user, 1..${MAX_TOP_N} (alias --top_users)`, default: "10" },
    ...methodArgs(),
    "allow-empty": { type: "boolean", description: "Publish even if the run ranks nobody although users have interactions (else it fails and the previous table stays)" },
    ...waitArg,
    ...shardArgs,
    ...jsonArg,
  }),
  async run({ args }) {
    let method;
    try {
      method = getMethod(String(args.method));
    } catch (e) {
      if (e instanceof UnknownMethodError) throw new CliError(`--method must be one of ${methods().map((m) => m.name).join(", ")}, got ${JSON.stringify(args.method)}`);
      throw e;
    }
    // Every flag is checked before any file is read or the database is touched.
    const table = resolveTable(args);
    const options = checkMethodFlags(methods(), args).get(method) ?? {};
    refuseForeignFlags([method], args);
    const threads = threadsArg(args);
    const topN = topNArg(args["top-n"] as string | undefined, "top-n", 10);
    const storeOptions = writeStoreOptions(args);
    if (isSharded(args)) {
      const tableGiven = args["results-table"] !== undefined || Boolean(process.env.RESULTS_TABLE);
      return runSharded(args, { method: method.name, options, table, tableGiven, topN, threads, storeOptions, db: () => inputDatabase(args), json: args.json === true });
    }
    const dataDir = args["data-dir"] as string | undefined;
    // The store (and its directory) is created only once the input has been read and checked.
    const dbPath = dataDir ? resolveDb(args) : inputDatabase(args);

    const bar = progress(!args.json);
    let result: PipelineResult;
    try {
      result = await runPipeline({
        input: dataDir ? { dataDir } : "store",
        store: dbPath,
        storeOptions,
        method: method.name,
        options,
        table,
        topN,
        threads,
        onProgress: bar.report,
        allowEmpty: args["allow-empty"] === true,
        onRead: (read) => {
          bar.done();
          if (!args.json) process.stderr.write(formatSummary(read.summary) + "\n");
        },
        onEpoch: args.json
          ? undefined
          : (e) => {
              bar.done();
              log.info(epochLine(e));
            },
      });
    } catch (e) {
      // Bad input is the user's to fix, like a bad flag: the message names file, line and column.
      if (e instanceof InputError || e instanceof MissingTablesError || e instanceof InvalidTableNameError) throw new CliError(e.message);
      if (e instanceof DegenerateRunError) throw new CliError(e.message, 1);
      throw e;
    } finally {
      bar.done();
    }
    const summary = {
      method: result.method,
      db: maskLocation(dbPath),
      table,
      run: result.run.id,
      users: Number(result.details.users),
      usersWithNeighbors: Number(result.details.usersWithNeighbors),
      rows: result.run.rows_written,
      topN,
      params: result.params,
      stages: result.stages,
      seconds: result.seconds,
      input: result.input,
      details: result.details,
    };
    if (args.json) printJson(summary);
    else process.stdout.write(formatRun(result, summary) + "\n");
  },
});

const fmt = (n: number) => n.toLocaleString("en-US");

function formatRun(result: PipelineResult, s: { method: string; table: string; db: string; run: number; users: number; usersWithNeighbors: number; rows: number; topN: number; stages: Record<string, number>; seconds: number }): string {
  return [
    `${s.method}: ranked ${fmt(s.users)} users (${fmt(s.usersWithNeighbors)} with neighbours), top-${s.topN}, ${fmt(s.rows)} rows → ${s.table} in ${s.db} (run ${s.run})`,
    ...result.model.describe(result.details),
    `  seconds: ${Object.entries(s.stages).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")}; total ${s.seconds.toFixed(3)}`,
  ].join("\n");
}
