import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { writeTables } from "../../src/db/ingest.ts";
import { loadDataset, MissingTablesError } from "../../src/db/load.ts";
import { openDatabase } from "../../src/db/open.ts";
import { writeRankings } from "../../src/db/rankings.ts";
import { fingerprintDataset } from "../../src/fingerprint.ts";
import { FM_DEFAULTS } from "../../src/fm/index.ts";
import { METHODS, rankUsers, type Method, type RankResult } from "../../src/pipeline.ts";
import { formatSummary, readTables, type ReadResult } from "../../src/read/index.ts";
import { DEFAULT_WEIGHTS, formatWeights, parseWeights } from "../../src/similarity/index.ts";
import type { Dataset } from "../../src/types.ts";
import { CliError, dbArgs, jsonArg, log, positiveInt, positiveNumber, printJson, progress, resolveDb, resolveTable, resolveWritableDb, tableArg } from "../common.ts";

export default defineCommand({
  meta: { name: "pipeline", description: "Rank every user's most similar users and store them in the rankings table" },
  args: {
    method: { type: "string", valueHint: METHODS.join("|"), description: "Ranking method", default: "similarity" },
    "data-dir": { type: "string", valueHint: "DIR", description: "Ingest the four CSVs from DIR first (alias --data_path); else use the tables in the database" },
    ...dbArgs,
    ...tableArg,
    "top-n": { type: "string", valueHint: "N", description: "Neighbours kept per user (alias --top_users)", default: "10" },
    weights: { type: "string", valueHint: "SPEC", description: "similarity: block weights, normalized to sum 1", default: formatWeights(DEFAULT_WEIGHTS) },
    factors: { type: "string", valueHint: "K", description: "factorization: latent factors", default: String(FM_DEFAULTS.factors) },
    epochs: { type: "string", valueHint: "N", description: "factorization: training epochs", default: String(FM_DEFAULTS.epochs) },
    "learning-rate": { type: "string", valueHint: "RATE", description: "factorization: initial SGD step (decays linearly to a tenth)", default: String(FM_DEFAULTS.learningRate) },
    regularization: { type: "string", valueHint: "L2", description: "factorization: L2 penalty", default: String(FM_DEFAULTS.regularization) },
    negatives: { type: "string", valueHint: "N", description: "factorization: sampled negatives per positive", default: String(FM_DEFAULTS.negatives) },
    seed: { type: "string", valueHint: "S", description: "factorization: random seed", default: String(FM_DEFAULTS.seed) },
    threads: { type: "string", valueHint: "N", description: "Worker threads (default: all cores for more than 2,000 users, else 1)" },
    ...jsonArg,
  },
  async run({ args }) {
    const method = args.method as Method;
    if (!METHODS.includes(method)) throw new CliError(`--method must be one of ${METHODS.join(", ")}, got ${JSON.stringify(args.method)}`);
    // Every flag is checked before any file is read or the database is touched.
    const table = resolveTable(args);
    let weights;
    try {
      weights = parseWeights(args.weights);
    } catch (e) {
      throw new CliError(`--weights: ${(e as Error).message}`);
    }
    const options = {
      topN: positiveInt(args["top-n"], "top-n", 10),
      weights,
      factors: positiveInt(args.factors, "factors", FM_DEFAULTS.factors),
      epochs: positiveInt(args.epochs, "epochs", FM_DEFAULTS.epochs, 0),
      learningRate: positiveNumber(args["learning-rate"], "learning-rate", FM_DEFAULTS.learningRate),
      regularization: positiveNumber(args.regularization, "regularization", FM_DEFAULTS.regularization, true),
      negatives: positiveInt(args.negatives, "negatives", FM_DEFAULTS.negatives),
      seed: positiveInt(args.seed, "seed", FM_DEFAULTS.seed, 0),
      threads: args.threads === undefined ? undefined : positiveInt(args.threads, "threads", 1),
    };
    const dataDir = args["data-dir"];
    const dbPath = dataDir ? resolveWritableDb(args) : resolveDb(args);
    if (!dataDir && !existsSync(dbPath)) {
      throw new CliError(`no database at ${dbPath}: load the data first with \`recsys ingest --data-dir DIR\`, or pass --data-dir to this command`);
    }

    const bar = progress(!args.json);
    const startedAt = new Date();
    const stages: Record<string, number> = {};
    let t = performance.now();
    let dataset: Dataset;
    let read: ReadResult | undefined;
    if (dataDir) {
      read = await readTables(dataDir, { onProgress: bar.report });
      bar.done();
      dataset = read.tables;
      stages.read = lap();
      if (!args.json) process.stderr.write(formatSummary(read.summary) + "\n");
    } else {
      const db = openDatabase(dbPath, { readonly: true });
      try {
        dataset = loadDataset(db);
      } catch (e) {
        if (e instanceof MissingTablesError) throw new CliError(e.message);
        throw e;
      } finally {
        db.close();
      }
      stages.load = lap();
    }
    const input = fingerprintDataset(dataset);
    stages.fingerprint = lap();

    const result = await rankUsers(dataset, method, {
      ...options,
      onProgress: bar.report,
      onEpoch: args.json
        ? undefined
        : (e) => log.info(`epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  sampled AUC ${e.auc.toFixed(4)}  lr ${e.learningRate.toPrecision(3)}  ${e.seconds.toFixed(2)} s`),
    });
    bar.done();
    Object.assign(stages, result.stages);

    // Input tables (with --data-dir) and rankings land in one transaction: a failure anywhere
    // before the commit leaves the database exactly as it was.
    const db = openDatabase(dbPath);
    let run;
    try {
      run = db.transaction(() => {
        if (read) {
          t = performance.now();
          writeTables(db, read.tables, { summary: read.summary });
          stages.ingest = lap();
        }
        return writeRankings(db, table, result.rankings, { method, params: result.params, input, startedAt, stages });
      }).immediate();
    } finally {
      db.close();
    }
    const summary = {
      method,
      db: dbPath,
      table,
      run: run.id,
      users: result.stats.users,
      usersWithNeighbors: result.stats.usersWithNeighbors,
      rows: run.rows_written,
      topN: options.topN,
      params: result.params,
      stages: run.stages,
      seconds: Math.round(Date.now() - startedAt.getTime()) / 1000,
      input,
      details: result.stats,
    };
    if (args.json) printJson(summary);
    else process.stdout.write(formatRun(result, summary) + "\n");

    function lap(): number {
      const now = performance.now();
      const s = Math.round(now - t) / 1000;
      t = now;
      return s;
    }
  },
});

const fmt = (n: number) => n.toLocaleString("en-US");

function formatRun(result: RankResult, s: { method: string; table: string; db: string; run: number; users: number; usersWithNeighbors: number; rows: number; topN: number; stages: Record<string, number>; seconds: number }): string {
  const lines = [
    `${s.method}: ranked ${fmt(s.users)} users (${fmt(s.usersWithNeighbors)} with neighbours), top-${s.topN}, ${fmt(s.rows)} rows → ${s.table} in ${s.db} (run ${s.run})`,
  ];
  if (result.method === "similarity") {
    for (const [name, b] of Object.entries(result.stats.blocks)) {
      lines.push(`  ${name.padEnd(12)} weight ${b.weight.toFixed(3)}  ${fmt(b.items).padStart(7)} items  ${fmt(b.nnz).padStart(10)} nnz  ${fmt(b.users).padStart(8)} users`);
    }
    lines.push(`  matrix nnz ${fmt(result.stats.nnz)}, ${result.stats.threads} thread(s)`);
  } else {
    const st = result.stats;
    const last = st.epochs.at(-1);
    lines.push(`  items: ${Object.entries(st.items).map(([k, n]) => `${k} ${fmt(n)}`).join(", ")}; ${fmt(st.features)} features, ${fmt(st.positives)} positive pairs`);
    if (last) lines.push(`  ${st.epochs.length} epochs, final loss ${last.loss.toFixed(4)}, sampled AUC ${last.auc.toFixed(4)}; ${st.threads} thread(s)`);
  }
  lines.push(`  seconds: ${Object.entries(s.stages).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")}; total ${s.seconds.toFixed(3)}`);
  return lines.join("\n");
}
