/**
 * Whole `recsys pipeline` (CSV ingest + rank + store) on generated data.
 *   bun bench/pipeline.ts                # 10k users, 5 runs per method, medians
 *   bun bench/pipeline.ts --users 100000 --runs 1   # the scale check: time and peak RSS
 * Baselines in the same run: `bun -e 0` (process start-up), reading the four CSV files' bytes,
 * and csv-parse alone over them (the floor for the read stage), so a noisy machine shows up in
 * the figures.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { csvParseBaseline, fmtS, generatedData, median, OUT, timed } from "./lib.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "10000" }, runs: { type: "string", default: "5" }, methods: { type: "string", default: "similarity,factorization" } } });
const users = Number(values.users);
const runs = Number(values.runs);
const dir = await generatedData(users);
const db = join(OUT, `pipeline-${users}.db`);

const startup = median(Array.from({ length: 5 }, () => timed(["bun", "-e", "0"]).seconds));
const readBytes = median(
  Array.from({ length: 3 }, () => timed(["bun", "-e", `for (const f of ["user_interests","user_course_views","user_assessment_scores","course_tags"]) await Bun.file("${dir}/"+f+".csv").text()`]).seconds),
);
const parseScript = await csvParseBaseline(dir);
const parseOnly = median(Array.from({ length: 3 }, () => timed(["bun", parseScript]).seconds));
console.log(`data: ${users.toLocaleString("en-US")} generated users in ${dir}`);
console.log(`baseline (median of 3-5): bun start-up ${fmtS(startup)}; reading the four CSVs' text ${fmtS(readBytes)}; csv-parse alone over them ${fmtS(parseOnly)}`);

for (const method of values.methods.split(",")) {
  const walls: number[] = [];
  const rss: number[] = [];
  const stages = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    rmSync(db, { force: true });
    const r = timed(["bun", "bin/recsys.ts", "pipeline", "--method", method, "--data-dir", dir, "--db", db, "--json"], { rss: true });
    if (r.code !== 0) throw new Error(`pipeline failed: ${r.err}`);
    walls.push(r.seconds);
    if (r.rssMB) rss.push(r.rssMB);
    for (const [k, v] of Object.entries(JSON.parse(r.out).stages as Record<string, number>)) stages.set(k, [...(stages.get(k) ?? []), v]);
  }
  const parts = [...stages].map(([k, v]) => `${k} ${median(v).toFixed(3)}`).join(", ");
  console.log(`${method}: whole pipeline median ${fmtS(median(walls))} over ${runs} run(s) (min ${fmtS(Math.min(...walls))}); peak RSS median ${median(rss).toFixed(0)} MB; stages (s): ${parts}`);
}
rmSync(db, { force: true });
