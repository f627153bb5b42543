/**
 * Benchmark of Method 3 (issue 15 budget: at 10k users, `als` fit + rank ≤ the factorization
 * machine's fit + rank, measured in the same run).
 *
 *   bun bench/als.ts                                   # 10k users: medians of 3 interleaved runs of each
 *   bun bench/als.ts --users 100000 --runs 1 --methods als   # the 100k run: time and peak RSS
 *
 * Options: --users N (10000) --runs R (3) --seed S (1) --threads T (default: all cores)
 * --methods als,factorization; a method may carry options after `+`, e.g.
 * `factorization+training=bpr` (values that parse as numbers are numbers). Data is generated once per (users, seed) into bench/out and read
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
/** `name+key=value+…` → the method's name and its options. */
function parseSpec(spec: string): { name: string; options: Record<string, unknown> } {
  const [name, ...pairs] = spec.split("+");
  const options: Record<string, unknown> = {};
  for (const pair of pairs) {
    const [key, value] = pair.split("=");
    options[key] = value !== "" && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return { name, options };
}
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
    const spec = parseSpec(m);
    const { stats, model } = await runMethod(dataset, spec.name, spec.options, { topN: 10, threads });
    const total = (performance.now() - t0) / 1000;
    const s = stats.seconds as Record<string, number>;
    times[m].rank.push(s.topN);
    times[m].fit.push(total - s.topN);
    times[m].total.push(total);
    const p = model.params as Record<string, unknown>;
    notes[m] =
      spec.name === "als"
        ? `factors ${p.factors}, iterations ${p.iterations}, cgSteps ${p.cgSteps}; ${fmt(stats.pairs)} pairs; trained on ${stats.trainThreads} thread(s), top-n on ${stats.threads}; final loss ${stats.epochs.at(-1).loss.toPrecision(5)}`
        : spec.name === "factorization"
          ? `factors ${p.factors}, ${p.training === "als" ? `training als, ${p.alsIterations} iterations` : `epochs ${p.epochs}`}; ${fmt(stats.positives)} positives; top-n on ${stats.threads} thread(s)`
          : "";
  }
}
const rssMiB = (process.resourceUsage().maxRSS * 1024) / 1048576;
for (const m of chosen) {
  const t = times[m];
  const runsText = t.total.map((x) => x.toFixed(2)).join(", ");
  console.log(`${m.padEnd(Math.max(14, ...chosen.map((c) => c.length + 1)))} fit ${median(t.fit).toFixed(2)} s + rank ${median(t.rank).toFixed(2)} s = ${median(t.total).toFixed(2)} s median (runs: ${runsText})  ${notes[m]}`);
}
if (times.als && times.factorization) {
  const ratio = median(times.als.total) / median(times.factorization.total);
  console.log(`als / factorization (fit + rank, medians): ${ratio.toFixed(2)}${users === 10000 ? " (budget ≤ 1)" : ""}`);
}
// Every other configuration against the first, same run.
for (const m of chosen.slice(1)) console.log(`${m} / ${chosen[0]} (fit + rank, medians): ${(median(times[m].total) / median(times[chosen[0]].total)).toFixed(2)}`);
console.log(`peak RSS ${rssMiB.toFixed(0)} MiB`);
