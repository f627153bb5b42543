/**
 * Similarity with `--rank K` (cosine of randomized-SVD embeddings) against plain similarity (its
 * defaults: exact sparse cosine), fit and rank seconds (issue 15).
 *
 *   bun bench/svd.ts                       # 10k users (generate seed 7), 5 rounds, every core
 *   bun bench/svd.ts --threads 1 --runs 3
 *
 * Options: --users N (10000) --runs R (5) --seed S (7) --threads T (default: the library's).
 * Each round runs every configuration once, in turn (fit + rank all users' top-10), each in a
 * fresh process after one warm-up run there (see bench/weighting.ts for why); medians are printed
 * next to plain similarity's, measured in the same rounds. Fit = building the matrix (+ the SVD
 * and the embeddings); rank = the top-n of every user.
 */
import { parseArgs } from "node:util";
import { readTables } from "../src/read/index.ts";
import { runMethod } from "../test/fixtures/methods.ts";
import { generatedData, median } from "./lib.ts";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "5" },
    seed: { type: "string", default: "7" },
    threads: { type: "string" },
    child: { type: "string" },
  },
});
const users = Number(args.users);
const runs = Number(args.runs);
const seed = Number(args.seed);
const threads = args.threads === undefined ? undefined : Number(args.threads);

const dir = await generatedData(users, seed);

const CONFIGS: [string, Record<string, unknown>][] = [
  ["plain (defaults)", {}],
  ["rank 32, idf p 1", { rank: 32, itemWeighting: "idf", idfExponent: 1 }],
  ["rank 64, idf p 1", { rank: 64, itemWeighting: "idf", idfExponent: 1 }],
  ["rank 128, idf p 1", { rank: 128, itemWeighting: "idf", idfExponent: 1 }],
];

/** Seconds of one fit + rank of configuration `c` in this process: [fit, rank]. */
async function once(c: number): Promise<[number, number]> {
  const { dataset } = await readTables(dir);
  const { stats } = await runMethod(dataset, "similarity", CONFIGS[c][1], { topN: 10, threads });
  const s = stats.seconds as { matrix: number; svd?: number; topN: number };
  return [s.matrix + (s.svd ?? 0), s.topN];
}

if (args.child !== undefined) {
  const c = Number(args.child);
  await once(c);
  console.log(JSON.stringify(await once(c)));
  process.exit(0);
}

console.log(`similarity fit + rank (top-10), ${users} generated users (seed ${seed}), ${runs} interleaved rounds, threads ${threads ?? "auto"}, each in a fresh process`);

function measure(c: number): [number, number] {
  const argv = [process.execPath, import.meta.path, "--child", String(c), "--users", String(users), "--seed", String(seed)];
  if (threads !== undefined) argv.push("--threads", String(threads));
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`configuration "${CONFIGS[c][0]}" failed (exit ${p.exitCode})`);
  return JSON.parse(p.stdout.toString().trim().split("\n").at(-1)!);
}

const fits = CONFIGS.map(() => [] as number[]);
const ranks = CONFIGS.map(() => [] as number[]);
const totals = CONFIGS.map(() => [] as number[]);
for (let r = 0; r < runs; r++) {
  for (let c = 0; c < CONFIGS.length; c++) {
    const [f, k] = measure(c);
    fits[c].push(f);
    ranks[c].push(k);
    totals[c].push(f + k);
  }
}
const base = median(totals[0]);
for (let c = 0; c < CONFIGS.length; c++) {
  const t = median(totals[c]);
  console.log(`  ${CONFIGS[c][0].padEnd(20)} fit ${median(fits[c]).toFixed(3)} s  rank ${median(ranks[c]).toFixed(3)} s  total ${t.toFixed(3)} s  ${c === 0 ? "baseline" : `${(t / base).toFixed(2)}× plain`}`);
}
