import { defineCommand } from "citty";
import { writeTables } from "../../src/db/ingest.ts";
import { openDatabase } from "../../src/db/open.ts";
import { writeRankings } from "../../src/db/rankings.ts";
import { fingerprintDataset } from "../../src/fingerprint.ts";
import { METHODS, rankUsers, type Method, type RankResult } from "../../src/pipeline.ts";
import { CliError, dbArgs, jsonArg, log, positiveInt, printJson, progress, resolveTable, resolveWritableDb, tableArg } from "../common.ts";
import { dataDirArg, inputSource, loadInput, methodArgs, parseMethodArgs } from "../method-args.ts";

export default defineCommand({
  meta: { name: "pipeline", description: "Rank every user's most similar users and store them in the rankings table" },
  args: {
    method: { type: "string", valueHint: METHODS.join("|"), description: "Ranking method", default: "similarity" },
    "data-dir": { ...dataDirArg["data-dir"], description: "Ingest the four CSVs from DIR first (alias --data_path); else use the tables in the database" },
    ...dbArgs,
    ...tableArg,
    "top-n": { type: "string", valueHint: "N", description: "Neighbours kept per user (alias --top_users)", default: "10" },
    ...methodArgs,
    ...jsonArg,
  },
  async run({ args }) {
    const method = args.method as Method;
    if (!METHODS.includes(method)) throw new CliError(`--method must be one of ${METHODS.join(", ")}, got ${JSON.stringify(args.method)}`);
    // Every flag is checked before any file is read or the database is touched.
    const table = resolveTable(args);
    const settings = parseMethodArgs(args);
    const topN = positiveInt(args["top-n"], "top-n", 10);
    const source = inputSource(args);
    const dbPath = "dataDir" in source ? resolveWritableDb(args) : source.dbPath;

    const bar = progress(!args.json);
    const startedAt = new Date();
    const stages: Record<string, number> = {};
    let t = performance.now();
    const { dataset, read } = await loadInput(source, { onProgress: bar.report, quiet: args.json });
    bar.done();
    stages[read ? "read" : "load"] = lap();
    // The ranking runs on workers once its matrix is built; meanwhile this thread fingerprints
    // the input and writes the input tables (with --data-dir) into the open transaction, and the
    // rankings follow into the same transaction: a failure anywhere before the commit leaves the
    // database exactly as it was.
    const ranking = rankUsers(dataset, method, {
      topN,
      weights: settings.weights,
      ...settings.fm,
      threads: settings.threads,
      onProgress: bar.report,
      onEpoch: args.json
        ? undefined
        : (e) => {
            bar.done();
            log.info(`epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}  sampled AUC ${e.auc.toFixed(4)}  lr ${e.learningRate.toPrecision(3)}  ${e.seconds.toFixed(2)} s`);
          },
    });
    // Awaited below; this only keeps a rejection from counting as unhandled while the write runs.
    ranking.catch(() => {});
    t = performance.now();
    const input = fingerprintDataset(dataset);
    stages.fingerprint = lap();

    // Without input tables to write there is nothing to overlap: the write lock waits for the
    // rankings, so other writers are not held up for the length of the top-n.
    let result: RankResult | undefined = read ? undefined : await ranking;
    const db = openDatabase(dbPath);
    let run;
    try {
      db.exec("BEGIN IMMEDIATE");
      try {
        let ingest: number | undefined;
        if (read) {
          t = performance.now();
          // This thread is busy until the write ends, so the bar shows the write, not the top-n.
          writeTables(db, read.tables, { summary: read.summary, onProgress: bar.report });
          ingest = lap();
        }
        result ??= await ranking;
        bar.done();
        // In flow order; the method's top-n ran while the input tables were written.
        Object.assign(stages, result.stages, ingest === undefined ? {} : { ingest });
        run = writeRankings(db, table, result.rankings, { method, params: result.params, input, startedAt, stages });
        db.exec("COMMIT");
      } catch (e) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw e;
      }
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
      topN,
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
