/**
 * `recsys ingest` on generated data: budget ≤ 3 s for 10k users (~550k rows).
 *   bun bench/ingest.ts                      # 10k users, 5 runs, medians
 *   bun bench/ingest.ts --users 100000 --runs 1
 * Each run is a fresh process (as a user runs it), into a fresh database. Baselines measured in
 * the same run, so a busy machine shows up in them too:
 *   - bun start-up (`bun -e 0`);
 *   - csv-parse alone over the four files (same options, records counted and dropped): the floor
 *     for any reader built on csv-parse;
 *   - `sqlite3 .import` of the four files into a fresh database (no validation, no indexes), when
 *     the sqlite3 shell is installed;
 *   - a minimal RFC 4180 scanner written for this benchmark only (quoted fields, "" escapes,
 *     LF/CRLF; every field decoded to a string, records counted, nothing checked): what reading
 *     the same bytes costs without csv-parse, to show how much of the budget the parser takes.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { csvParseBaseline, INPUT_FILES, fmtS, generatedData, median, OUT, ROOT, scannerBaseline, timed } from "./lib.ts";

/** Wall and CPU (user + system) seconds of a command: CPU time is what a busy machine inflates least. */
function cpuTimed(cmd: string[]): { seconds: number; cpu: number; out: string; err: string; code: number } {
  const t0 = performance.now();
  const p = Bun.spawnSync(["/usr/bin/time", "-f", "CPU=%U+%S", ...cmd], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const seconds = (performance.now() - t0) / 1000;
  const err = p.stderr.toString();
  const m = /CPU=([\d.]+)\+([\d.]+)/.exec(err);
  return { seconds, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, out: p.stdout.toString(), err, code: p.exitCode ?? -1 };
}

const { values } = parseArgs({ options: { users: { type: "string", default: "10000" }, runs: { type: "string", default: "5" } } });
const users = Number(values.users);
const runs = Number(values.runs);
const dir = await generatedData(users);
const db = join(OUT, `ingest-${users}.db`);

function clean(path: string): void {
  for (const s of ["", "-wal", "-shm"]) rmSync(path + s, { force: true });
}

const parseScript = await csvParseBaseline(dir);
const scanScript = await scannerBaseline(dir);

const haveSqlite3 = Bun.spawnSync(["sh", "-c", "command -v sqlite3"]).exitCode === 0;
const importDb = join(OUT, `ingest-${users}-sqlite3.db`);
const importScript = [".mode csv", ...INPUT_FILES.map((f) => `.import ${join(dir, f + ".csv")} ${f}`)].join("\n");

const walls: number[] = [];
const reads: number[] = [];
const writes: number[] = [];
const rss: number[] = [];
const startup: number[] = [];
const parseOnly: number[] = [];
const sqliteImport: number[] = [];
const parseOnlyCpu: number[] = [];
const scanOnly: number[] = [];
const ingestCpu: number[] = [];
let rows = 0;
// Interleaved, so that a burst of load elsewhere hits the baselines and the ingest alike.
for (let i = 0; i < runs; i++) {
  startup.push(timed(["bun", "-e", "0"]).seconds);
  const p = cpuTimed(["bun", parseScript]);
  if (p.code !== 0) throw new Error(`csv-parse baseline failed: ${p.err}`);
  parseOnly.push(p.seconds);
  parseOnlyCpu.push(p.cpu);
  const sc = timed(["bun", scanScript]);
  if (sc.code !== 0) throw new Error(`scanner baseline failed: ${sc.err}`);
  scanOnly.push(sc.seconds);
  if (haveSqlite3) {
    clean(importDb);
    const s = Bun.spawnSync(["sqlite3", importDb], { stdin: Buffer.from(importScript), stdout: "pipe", stderr: "pipe" });
    const t0 = performance.now();
    const s2 = Bun.spawnSync(["sqlite3", importDb + ".2"], { stdin: Buffer.from(importScript), stdout: "pipe", stderr: "pipe" });
    sqliteImport.push((performance.now() - t0) / 1000);
    clean(importDb + ".2");
    if (s.exitCode !== 0 || s2.exitCode !== 0) throw new Error(`sqlite3 .import failed: ${s.stderr.toString()}`);
  }
  clean(db);
  const r = timed(["bun", "bin/recsys.ts", "ingest", "--data-dir", dir, "--db", db, "--json"], { rss: true });
  if (r.code !== 0) throw new Error(`ingest failed: ${r.err}`);
  clean(db);
  const c = cpuTimed(["bun", "bin/recsys.ts", "ingest", "--data-dir", dir, "--db", db, "--json"]);
  if (c.code !== 0) throw new Error(`ingest failed: ${c.err}`);
  ingestCpu.push(c.cpu);
  const out = JSON.parse(r.out) as { tables: { rowsRead: number }[]; seconds: { read: number; write: number } };
  rows = out.tables.reduce((n, t) => n + t.rowsRead, 0);
  walls.push(r.seconds);
  reads.push(out.seconds.read);
  writes.push(out.seconds.write);
  if (r.rssMB) rss.push(r.rssMB);
}
clean(db);
clean(importDb);

console.log(`data: ${users.toLocaleString("en-US")} generated users, ${rows.toLocaleString("en-US")} rows, in ${dir}`);
console.log(
  `baselines (median of ${runs}): bun start-up ${fmtS(median(startup))}; csv-parse alone ${fmtS(median(parseOnly))}` +
    (haveSqlite3 ? `; sqlite3 .import ${fmtS(median(sqliteImport))}` : "; sqlite3 shell not installed") +
    `; CPU time of csv-parse alone ${fmtS(median(parseOnlyCpu))}; a minimal RFC 4180 scanner (bench-only) ${fmtS(median(scanOnly))}`,
);
console.log(
  `recsys ingest: median ${fmtS(median(walls))} wall over ${runs} run(s) (min ${fmtS(Math.min(...walls))}, max ${fmtS(Math.max(...walls))}); ` +
    `read+validate ${fmtS(median(reads))}, write ${fmtS(median(writes))}; CPU time ${fmtS(median(ingestCpu))} (both threads); peak RSS median ${median(rss).toFixed(0)} MB`,
);
console.log(`load: ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")} (1/5/15-min load average on ${navigator.hardwareConcurrency} cores)`);
console.log(`budget: ${users === 10000 ? (median(walls) <= 3 ? "met" : "MISSED") + " (≤ 3 s for 10k users)" : "n/a (budget is for 10k users)"}`);
if (!existsSync(dir)) throw new Error("data directory vanished");
