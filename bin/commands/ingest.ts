/**
 * `recsys ingest --data-dir DIR [--db FILE|URL] [--env dev|prod] [--json]`: validate the four CSVs
 * and store them in SQLite or Postgres, all or nothing.
 */
import { defineCommand } from "citty";
import { ingest } from "../../src/ingest.ts";
import { InputError } from "../../src/read/errors.ts";
import { formatSummary } from "../../src/read/summary.ts";
import { CliError, dbArgs, jsonArg, log, printJson, progress, resolveDb, waitArg, writeStoreOptions } from "../common.ts";

export default defineCommand({
  meta: {
    name: "ingest",
    description: "Validate user_interests.csv, user_assessment_scores.csv, user_course_views.csv and course_tags.csv and load them into the database, SQLite or Postgres (all or nothing)",
  },
  args: {
    "data-dir": {
      type: "string",
      valueHint: "DIR",
      required: true,
      description: "Directory holding the four CSV files (alias --data_path)",
    },
    ...dbArgs,
    ...waitArg,
    ...jsonArg,
  },
  async run({ args }) {
    const dir = args["data-dir"];
    if (!dir) throw new CliError("--data-dir DIR is required: the directory holding the four CSV files");
    const dbPath = resolveDb(args);
    const storeOptions = writeStoreOptions(args);
    const bar = progress(!args.json);
    let result;
    try {
      result = await ingest(dir, dbPath, { onProgress: bar.report, storeOptions });
    } catch (e) {
      // Bad input is the user's to fix: one line, usage exit code.
      if (e instanceof InputError) throw new CliError(e.message);
      throw e;
    } finally {
      bar.done();
    }
    const { summary, seconds } = result;
    if (args.json) {
      printJson({ db: result.location, dir: summary.dir, tables: summary.tables, seconds });
      return;
    }
    process.stdout.write(formatSummary(summary) + "\n");
    await warnStaleTables(dbPath);
    log.success(`ingested into ${result.location} in ${(seconds.read + seconds.write).toFixed(2)} s (read ${seconds.read.toFixed(2)} s, write ${seconds.write.toFixed(2)} s)`);
  },
});

/** Names every rankings table the new input makes out of date (ranked from other input). */
async function warnStaleTables(dbPath: string): Promise<void> {
  const { openStore } = await import("../../src/db/store.ts");
  const store = await openStore(dbPath, { readonly: true });
  try {
    const current = store.inputFingerprint() as { sha256: string } | null;
    for (const { table, run } of await store.rankingsTables()) {
      const ranked = (run?.input as { sha256?: string } | undefined)?.sha256;
      if (current && ranked && ranked !== current.sha256) log.warn(`rankings table ${table} is now out of date: run recsys pipeline --method ${run!.method} --results-table ${table}`);
    }
  } finally {
    store.close();
  }
}
