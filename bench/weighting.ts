/**
 * Similarity with item weighting, whole-vector normalization and shrinkage against the unweighted
 * contract (issue 15 budget: within 10% of today's similarity time at 10k users).
 *
 *   bun bench/weighting.ts                       # 10k users, 7 rounds, every core
 *   bun bench/weighting.ts --threads 1 --runs 5
 *
 * Options: --users N (10000) --runs R (7) --seed S (1) --threads T (default: the library's),
 * --in-process (every configuration in this one process, the old way; see `measure`).
 * Each round runs every configuration once, in turn (fit + rank all users' top-10), each in a
 * fresh process after one warm-up run there, so that a slow moment of the shared machine hits all
 * of them alike; medians are printed next to the contract's, measured in the same rounds. Data as
 * bench/lib.ts generatedData (generated once into bench/out, then read).
 */
import { parseArgs } from "node:util";
import { readTables } from "../src/read/index.ts";
import { runMethod } from "../test/fixtures/methods.ts";
import { generatedData, median } from "./lib.ts";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "7" },
    seed: { type: "string", default: "1" },
    threads: { type: "string" },
    "in-process": { type: "boolean", default: false },
    child: { type: "string" },
  },
});
const users = Number(args.users);
const runs = Number(args.runs);
const seed = Number(args.seed);
const threads = args.threads === undefined ? undefined : Number(args.threads);

const dir = await generatedData(users, seed);
const { dataset } = await readTables(dir);

const CONFIGS: [string, Record<string, unknown>][] = [
  ["contract (none, blocks, λ 0)", { itemWeighting: "none", normalize: "blocks", shrinkage: 0 }],
  ["idf p 0.5", { itemWeighting: "idf", idfExponent: 0.5, normalize: "blocks", shrinkage: 0 }],
  ["defaults (idf p 0.5, λ 5)", {}],
  ["idf p 0.5, shrinkage 10", { itemWeighting: "idf", idfExponent: 0.5, normalize: "blocks", shrinkage: 10 }],
  ["bm25", { itemWeighting: "bm25", normalize: "blocks", shrinkage: 0 }],
  ["whole", { itemWeighting: "none", normalize: "whole", shrinkage: 0 }],
];

const MODE = args["in-process"] ? "in one process" : "each in a fresh process";
if (args.child === undefined) console.log(`similarity fit + rank (top-10), ${users} generated users (seed ${seed}), ${runs} interleaved rounds, threads ${threads ?? "auto"}, ${MODE}`);

/** One fit + rank of configuration `c` in this process: [seconds, matrix seconds]. */
async function once(c: number): Promise<[number, number]> {
  const t0 = performance.now();
  const { stats } = await runMethod(dataset, "similarity", CONFIGS[c][1], { topN: 10, threads });
  return [(performance.now() - t0) / 1000, stats.seconds.matrix];
}

if (args.child !== undefined) {
  // A child: one warm-up run (JIT, worker start-up), then the measured one, as JSON on stdout.
  const c = Number(args.child);
  await once(c);
  console.log(JSON.stringify(await once(c)));
  process.exit(0);
}

/**
 * Configuration `c` measured in a fresh process (the default), as `recsys pipeline` runs one
 * configuration per process: in one long-lived process the configurations run after the first
 * find the JIT's code shaped by the others and a heap grown by their arrays, which measured the
 * same kernel 40–80% slower on one thread depending only on the order.
 */
async function measure(c: number): Promise<[number, number]> {
  if (args["in-process"]) return once(c);
  const argv = [process.execPath, import.meta.path, "--child", String(c), "--users", String(users), "--seed", String(seed)];
  if (threads !== undefined) argv.push("--threads", String(threads));
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`configuration "${CONFIGS[c][0]}" failed (exit ${p.exitCode})`);
  return JSON.parse(p.stdout.toString().trim().split("\n").at(-1)!);
}

const times = CONFIGS.map(() => [] as number[]);
const matrix = CONFIGS.map(() => [] as number[]);
// In one process, one warm-up round, not counted (JIT, worker start-up); a child warms itself up.
for (let r = args["in-process"] ? -1 : 0; r < runs; r++) {
  for (let c = 0; c < CONFIGS.length; c++) {
    const [seconds, matrixSeconds] = await measure(c);
    if (r < 0) continue;
    times[c].push(seconds);
    matrix[c].push(matrixSeconds);
  }
}
const base = median(times[0]);
for (let c = 0; c < CONFIGS.length; c++) {
  const m = median(times[c]);
  const ratio = m / base;
  console.log(`  ${CONFIGS[c][0].padEnd(30)} median ${m.toFixed(3)} s (matrix ${median(matrix[c]).toFixed(3)} s)  ${c === 0 ? "baseline" : `${(100 * (ratio - 1)).toFixed(1)}% vs contract${ratio > 1.1 ? "  ← over the 10% budget" : ""}`}`);
}
