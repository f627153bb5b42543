/**
 * Benchmark of Method 3 (issue 15 budget: at 10k users, `als` fit + rank ≤ the factorization
 * machine's fit + rank, measured in the same run).
 *
 *   bun bench/als.ts                                   # 10k users: medians of 3 interleaved runs of each
 *   bun bench/als.ts --users 100000 --runs 1 --methods als   # the 100k run: time and peak RSS
 *
 * Options: --users N (10000) --runs R (3) --seed S (1) --threads T (default: all cores)
 * --methods als,factorization. Data is generated once per (users, seed) into bench/out and read
 * with `readTables`; the CSV read is not timed. Each run is `fit` + `rankAll` (top 10) through the
 * registry, as the pipeline does; the methods take turns, so both see the same machine state.
 * Peak RSS is the whole process's (workers are threads of it), after every run.
 */
import { parseArgs } from "node:util";
import { readTables } from "../src/read/index.ts";
import { runMethod } from "../test/fixtures/methods.ts";
import { generatedData, median } from "./lib.ts";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
    threads: { type: "string" },
    methods: { type: "string", default: "als,factorization" },
  },
});
const users = Number(args.users);
const runs = Number(args.runs);
const threads = args.threads === undefined ? undefined : Number(args.threads);
const chosen = args.methods.split(",");
const fmt = (n: number) => n.toLocaleString("en-US");

const dir = await generatedData(users, Number(args.seed));
const { dataset } = await readTables(dir);
console.log(`${fmt(dataset.users.length)} users (${dir}); ${runs} run(s) each, threads ${threads ?? "auto"}`);

const times: Record<string, { fit: number[]; rank: number[]; total: number[] }> = {};
const notes: Record<string, string> = {};
for (const m of chosen) times[m] = { fit: [], rank: [], total: [] };
for (let r = 0; r < runs; r++) {
  for (const m of chosen) {
    const t0 = performance.now();
    const { stats, model } = await runMethod(dataset, m, {}, { topN: 10, threads });
    const total = (performance.now() - t0) / 1000;
    const s = stats.seconds as Record<string, number>;
    times[m].rank.push(s.topN);
    times[m].fit.push(total - s.topN);
    times[m].total.push(total);
    const p = model.params as Record<string, unknown>;
    notes[m] =
      m === "als"
        ? `factors ${p.factors}, iterations ${p.iterations}, cgSteps ${p.cgSteps}; ${fmt(stats.pairs)} pairs; trained on ${stats.trainThreads} thread(s), top-n on ${stats.threads}; final loss ${stats.epochs.at(-1).loss.toPrecision(5)}`
        : m === "factorization"
          ? `factors ${p.factors}, epochs ${p.epochs}; ${fmt(stats.positives)} positives; top-n on ${stats.threads} thread(s)`
          : "";
  }
}
const rssMiB = (process.resourceUsage().maxRSS * 1024) / 1048576;
for (const m of chosen) {
  const t = times[m];
  const runsText = t.total.map((x) => x.toFixed(2)).join(", ");
  console.log(`${m.padEnd(14)} fit ${median(t.fit).toFixed(2)} s + rank ${median(t.rank).toFixed(2)} s = ${median(t.total).toFixed(2)} s median (runs: ${runsText})  ${notes[m]}`);
}
if (times.als && times.factorization) {
  const ratio = median(times.als.total) / median(times.factorization.total);
  console.log(`als / factorization (fit + rank, medians): ${ratio.toFixed(2)}${users === 10000 ? " (budget ≤ 1)" : ""}`);
}
console.log(`peak RSS ${rssMiB.toFixed(0)} MiB`);
