/**
 * `recsys export` of a large rankings table: wall time and peak RSS of the whole process (issue 11:
 * a 1M-row export stays under 200 MB RSS, since it streams and never loads the table whole).
 *
 * The table is written straight into a fresh SQLite database (users × top rows, the rankings
 * table's own DDL; the ranking itself is not what is measured). Baseline measured in the same run,
 * same database: `recsys similar USER`, which opens the store and reads one user's rows, so the
 * export's figure minus it is what streaming the table costs. Medians over --rounds fresh processes.
 *
 *   bun bench/export.ts [--users 100000] [--top 10] [--rounds 3] [--formats csv,jsonl]
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fmtS, median, timed } from "./lib.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "100000" }, top: { type: "string", default: "10" }, rounds: { type: "string", default: "3" }, formats: { type: "string", default: "csv,jsonl" } } });
const users = Number(values.users);
const top = Number(values.top);
const rounds = Number(values.rounds);
const BUDGET_MB = 200;

const work = mkdtempSync(join(tmpdir(), "recsys-bench-export-"));
try {
  const db = join(work, "bench.db");
  const raw = new Database(db);
  raw.exec("PRAGMA journal_mode = WAL");
  // The rankings table's DDL (src/db/rankings.ts); handles like the generator's ("u123"), scores falling with rank.
  raw.exec(`CREATE TABLE "user_ranking" (
  user_handle TEXT NOT NULL,
  rank INTEGER NOT NULL,
  similar TEXT NOT NULL,
  score REAL NOT NULL,
  PRIMARY KEY (user_handle, rank)
) WITHOUT ROWID`);
  raw.exec(`WITH RECURSIVE u(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM u WHERE i + 1 < ${users}),
    k(r) AS (SELECT 1 UNION ALL SELECT r + 1 FROM k WHERE r + 1 <= ${top})
    INSERT INTO "user_ranking" SELECT 'u' || i, r, 'u' || ((i * 7919 + r * 104729) % ${users}), 1.0 / (r + 0.123456789) FROM u, k`);
  raw.close();
  const rows = users * top;
  console.log(`rankings table: ${rows.toLocaleString("en-US")} rows (${users.toLocaleString("en-US")} users × top ${top}), database ${(statSync(db).size / 1048576).toFixed(0)} MiB`);

  const cli = ["bun", "bin/recsys.ts"];
  const measure = (args: string[], check?: () => void) => {
    const secs: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const r = timed([...cli, ...args, "--db", db], { rss: true });
      if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}: ${r.err}`);
      check?.();
      secs.push(r.seconds);
      rss.push(r.rssMB!);
    }
    return { s: median(secs), rss: median(rss), maxRss: Math.max(...rss) };
  };
  const line = (name: string, m: { s: number; rss: number; maxRss: number }, extra = "") =>
    console.log(`${name.padEnd(28)}${fmtS(m.s).padStart(11)}${`${m.rss.toFixed(0)} MB`.padStart(16)}${`${m.maxRss.toFixed(0)} MB`.padStart(12)}${extra}`);

  console.log(`${"command".padEnd(28)}${"median".padStart(11)}${"median peak RSS".padStart(16)}${"max RSS".padStart(12)}`);
  const base = measure(["similar", "u0"]);
  line("baseline: similar u0", base);
  for (const format of values.formats!.split(",")) {
    const out = join(work, `export.${format}`);
    const m = measure(["export", "--format", format, "--out", out], () => {
      // Every row written (plus the CSV header): the figure is of a complete export.
      const lines = readFileSync(out, "utf8").trimEnd().split("\n").length;
      if (lines !== rows + (format === "csv" ? 1 : 0)) throw new Error(`export --format ${format} wrote ${lines} lines for ${rows} rows`);
    });
    line(`export --format ${format}`, m, `  ${(rows / m.s / 1e6).toFixed(2)} M rows/s; +${(m.rss - base.rss).toFixed(0)} MB over baseline; ${m.maxRss < BUDGET_MB ? "within" : "OVER"} the ${BUDGET_MB} MB budget`);
    rmSync(out, { force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
