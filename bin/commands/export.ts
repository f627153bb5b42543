import { defineCommand } from "citty";
import { createWriteStream, type WriteStream } from "node:fs";
import { CliError, dbArgs, log, resolveTable, tableArg } from "../common.ts";
import { openLocalStore } from "../ask.ts";

/** One CSV field: quoted when it holds a comma, quote or line break (RFC 4180). */
function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Writes `text`, waiting for the stream to drain when its buffer is full: memory stays flat. */
function writer(out: WriteStream | NodeJS.WriteStream): { write(text: string): Promise<void> | void; end(): Promise<void> } {
  return {
    write(text) {
      if (!out.write(text)) return new Promise((resolve) => out.once("drain", resolve));
    },
    end() {
      return new Promise((resolve, reject) => {
        if (out === process.stdout) return resolve();
        out.once("error", reject);
        (out as WriteStream).end(resolve);
      });
    },
  };
}

export default defineCommand({
  meta: { name: "export", description: "Stream a rankings table (or with --runs, the runs table) as CSV or JSON lines, without loading it whole" },
  args: {
    format: { type: "string", valueHint: "csv|jsonl", description: "Output format", default: "csv" },
    out: { type: "string", valueHint: "FILE", description: "Write to FILE (default: stdout)" },
    runs: { type: "boolean", description: "Export the runs table (recsys_runs) instead" },
    ...dbArgs,
    ...tableArg,
  },
  async run({ args }) {
    const format = args.format;
    if (format !== "csv" && format !== "jsonl") throw new CliError(`--format must be csv or jsonl, got ${JSON.stringify(format)}`);
    const table = resolveTable(args);
    const store = await openLocalStore(args);
    const out = args.out ? createWriteStream(args.out) : process.stdout;
    // A reader that stops early (`| head`) is not an error.
    if (out === process.stdout) process.stdout.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" ? process.exit(0) : undefined));
    const opened = new Promise<void>((resolve, reject) => {
      if (out === process.stdout) return resolve();
      out.once("open", () => resolve());
      out.once("error", (e) => reject(new CliError(`--out: cannot write ${args.out}: ${e.message}`, 1)));
    });
    try {
      await opened;
      const w = writer(out);
      let rows = 0;
      if (args.runs) {
        const runs = await store.runs();
        if (format === "csv") await w.write("id,results_table,method,params,input,users_ranked,rows_written,started_at,finished_at,stages\n");
        for (const r of runs) {
          if (format === "jsonl") await w.write(JSON.stringify(r) + "\n");
          else {
            const fields = [r.id, r.results_table, r.method, JSON.stringify(r.params), JSON.stringify(r.input), r.users_ranked, r.rows_written, r.started_at, r.finished_at, JSON.stringify(r.stages)];
            await w.write(fields.map(csvField).join(",") + "\n");
          }
          rows++;
        }
      } else {
        if (format === "csv") await w.write("user_handle,rank,similar,score\n");
        let batch = "";
        const { MissingTableError } = await import("../../src/db/store.ts");
        try {
          for await (const [user, rank, similar, score] of store.scan(table)) {
            batch +=
              format === "csv"
                ? `${csvField(user)},${rank},${csvField(similar)},${score}\n`
                : `{"user_handle":${JSON.stringify(user)},"rank":${rank},"similar":${JSON.stringify(similar)},"score":${score}}\n`;
            if (++rows % 1024 === 0) {
              await w.write(batch);
              batch = "";
            }
          }
        } catch (e) {
          if (e instanceof MissingTableError) throw new CliError(e.message, 1);
          throw e;
        }
        await w.write(batch);
      }
      await w.end();
      log.info(`exported ${rows.toLocaleString("en-US")} ${args.runs ? "runs" : `rows of ${table}`}${args.out ? ` to ${args.out}` : ""}`);
    } finally {
      store.close();
    }
  },
});
