/**
 * Benchmark of Method 2: feature building + FM training + tiled factor top-n on generated data.
 *
 *   bun bench/fm.ts [--users 10000] [--runs 3] [--seed 1] [--dir DIR]
 *
 * Prints the median seconds per stage over `runs` runs (budget: 10k users, train + rank ≤ 10 s),
 * peak RSS, and, as a baseline measured in the same run, a naive all-pairs cosine top-n (scalar
 * loop, full sort per user) on a subsample of users, extrapolated quadratically to all users, next
 * to the tiled kernel on the same subsample.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FM_DEFAULTS, userFactors, type FactorizationModel } from "../src/methods/factorization/index.ts";
import { factorizationRun } from "../test/fixtures/methods.ts";
import { generate } from "../src/generate/index.ts";
import { factorTopN, normalizeRows } from "../src/rank/factors.ts";
import { readTables } from "../src/read/index.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
    dir: { type: "string" },
  },
});
const users = Number(values.users);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (bytes: number) => (bytes / 1048576).toFixed(0);

const dir = values.dir ?? mkdtempSync(join(tmpdir(), "recsys-bench-fm-"));
const own = !values.dir;
try {
  if (!existsSync(join(dir, "user_interests.csv"))) {
    const t0 = performance.now();
    await generate({ users, seed: Number(values.seed), outDir: dir });
    console.log(`generated ${users.toLocaleString("en-US")} users in ${((performance.now() - t0) / 1000).toFixed(1)} s (${dir})`);
  }
  const { tables } = await readTables(dir);

  const stages: Record<string, number[]> = { features: [], train: [], topN: [], "train+rank": [] };
  let last: Awaited<ReturnType<typeof factorizationRun>> | undefined;
  for (let r = 0; r < runs; r++) {
    last = await factorizationRun(tables, {});
    const s = last.stats.seconds;
    stages.features.push(s.features);
    stages.train.push(s.train);
    stages.topN.push(s.topN);
    stages["train+rank"].push(s.features + s.train + s.topN);
  }
  const st = last!.stats;
  console.log(
    `FM defaults: factors ${FM_DEFAULTS.factors}, ` +
      (FM_DEFAULTS.training === "als" ? `training als, ${FM_DEFAULTS.alsIterations} iterations` : `training bpr, epochs ${FM_DEFAULTS.epochs}, negatives ${FM_DEFAULTS.negatives}`) +
      `; ${st.users.toLocaleString("en-US")} users, ${st.positives.toLocaleString("en-US")} positives, ${st.features.toLocaleString("en-US")} features, ${st.threads} thread(s); ` +
      `final loss ${st.epochs.at(-1)?.loss.toFixed(4)}${st.epochs.at(-1)?.auc === undefined ? "" : `, sampled AUC ${st.epochs.at(-1).auc.toFixed(4)}`}`,
  );
  for (const [name, xs] of Object.entries(stages)) console.log(`  ${name.padEnd(11)} median ${median(xs).toFixed(2)} s  (runs: ${xs.map((x) => x.toFixed(2)).join(", ")})`);
  const budget = users === 10000 ? "  (budget ≤ 10 s)" : "";
  console.log(`  total train + rank median ${median(stages["train+rank"]).toFixed(2)} s${budget}`);

  // Baseline: naive all-pairs cosine on a subsample, same run, same machine state.
  const k = (last!.model as FactorizationModel).fm.k;
  const sub = Math.min(2000, st.users);
  const f = userFactors((last!.model as FactorizationModel).fm).slice(0, sub * k);
  const t0 = performance.now();
  const unit = normalizeRows(f, sub, k);
  for (let a = 0; a < sub; a++) {
    const cands: [number, number][] = [];
    for (let b = 0; b < sub; b++) {
      if (b === a) continue;
      let s = 0;
      for (let q = 0; q < k; q++) s += unit[a * k + q] * unit[b * k + q];
      cands.push([b, s]);
    }
    cands.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  }
  const naive = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await factorTopN(f, sub, k, { topN: 10, threads: 1 });
  const tiled = (performance.now() - t1) / 1000;
  const scale = (st.users / sub) ** 2;
  console.log(
    `baseline on ${sub} users: naive all-pairs ${naive.toFixed(2)} s vs tiled (1 thread) ${tiled.toFixed(2)} s; ` +
      `naive extrapolated to ${st.users.toLocaleString("en-US")} users ≈ ${(naive * scale).toFixed(1)} s vs measured top-n ${median(stages.topN).toFixed(2)} s`,
  );
  const ru = process.resourceUsage();
  console.log(`peak RSS ${mib(ru.maxRSS * 1024)} MiB`);
} finally {
  if (own) rmSync(dir, { recursive: true, force: true });
}
