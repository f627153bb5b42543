/**
 * Similarity stage benchmark (issue 3 budgets): matrix build + exact top-n on generated data.
 *
 *   bun bench/similarity.ts                 # 10k users: medians of 5 runs, + dense baseline
 *   bun bench/similarity.ts --users 100000 --runs 1   # the 100k run: time and peak RSS
 *
 * Options: --users N (10000) --runs R (5) --seed S (1) --baseline-users B (1000, 0 to skip).
 * Data is generated once per (users, seed) into the OS temp dir and read with `readTables`;
 * the CSV read is not part of the stage. The baseline is the brute force a dense implementation
 * would do: a dense users × items matrix of a B-user subsample and the dot product of every pair
 * (BLAS ddot), then a top-n per row; the sparse method runs on the same subsample for comparison,
 * and the two must agree.
 */
import ddot from "@stdlib/blas-base-ddot";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generate } from "../src/generate/index.ts";
import type { InputColumns as Dataset } from "../src/dataset.ts";
import { buildUserItemMatrix, type SimilarityDetails } from "../src/methods/similarity/index.ts";
import { TopN } from "../src/rank/heap.ts";
import { readTables } from "../src/read/index.ts";
import type { Rankings } from "../src/types.ts";
import { similarityRun, similarityTopN } from "../test/fixtures/methods.ts";

const { values: args } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    "baseline-users": { type: "string", default: "1000" },
  },
});
const users = Number(args.users);
const runs = Number(args.runs);
const seed = Number(args.seed);
const baselineUsers = Number(args["baseline-users"]);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Peak resident set size of this process so far, from /proc (Linux). */
function peakRssMB(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const f3 = (s: number) => `${s.toFixed(3)} s`;

async function data(n: number): Promise<Dataset> {
  const dir = join(tmpdir(), `recsys-bench-data-${n}-seed${seed}`);
  if (!existsSync(join(dir, "course_tags.csv"))) {
    mkdirSync(dir, { recursive: true });
    console.log(`generating ${n} users into ${dir} …`);
    await generate({ users: n, seed, outDir: dir });
  }
  const t0 = performance.now();
  const { tables } = await readTables(dir);
  console.log(`read ${dir} in ${f3((performance.now() - t0) / 1000)} (not part of the stage)`);
  return tables;
}

/** The rows of `ds` whose user is among the first `n` users in handle order. */
function subsample(ds: Dataset, keep: Set<string>): Dataset {
  const pick = <T extends Record<string, unknown>>(table: T & { user_handle: string[] }): T => {
    const idx: number[] = [];
    for (let i = 0; i < table.user_handle.length; i++) if (keep.has(table.user_handle[i])) idx.push(i);
    const out: Record<string, unknown> = {};
    for (const [k, col] of Object.entries(table)) {
      out[k] = col instanceof Float64Array ? Float64Array.from(idx, (i) => col[i]) : idx.map((i) => (col as string[])[i]);
    }
    return out as T;
  };
  return {
    user_interests: pick(ds.user_interests),
    user_course_views: pick(ds.user_course_views),
    user_assessment_scores: pick(ds.user_assessment_scores),
    course_tags: ds.course_tags,
  };
}

/** Brute force: dense rows, ddot for every pair, a TopN per row. */
function denseTopN(ds: Dataset, n: number): { rankings: Rankings; seconds: number } {
  const t0 = performance.now();
  const { users: handles, matrix: x } = buildUserItemMatrix(ds);
  const rows = x.rows;
  const cols = x.cols;
  const dense = new Float64Array(rows * cols);
  for (let u = 0; u < rows; u++) for (let p = x.indptr[u]; p < x.indptr[u + 1]; p++) dense[u * cols + x.indices[p]] = x.data[p];
  const gram = new Float64Array(rows * rows);
  for (let u = 0; u < rows; u++) {
    for (let v = u; v < rows; v++) {
      const s = ddot.ndarray(cols, dense, 1, u * cols, dense, 1, v * cols);
      gram[u * rows + v] = s;
      gram[v * rows + u] = s;
    }
  }
  const select = new TopN(n);
  const offsets = new Int32Array(rows + 1);
  const neighbors = new Int32Array(rows * n);
  const scores = new Float64Array(rows * n);
  for (let u = 0; u < rows; u++) {
    for (let v = 0; v < rows; v++) if (v !== u && gram[u * rows + v] > 0) select.offer(v, gram[u * rows + v]);
    offsets[u + 1] = offsets[u] + select.drain(neighbors, scores, offsets[u]);
  }
  const rankings = { users: [...handles], offsets, neighbors: neighbors.slice(0, offsets[rows]), scores: scores.slice(0, offsets[rows]) };
  return { rankings, seconds: (performance.now() - t0) / 1000 };
}

/** Largest score difference over all (user, rank), or Infinity if the neighbour lists differ beyond near-ties. */
function disagreement(a: Rankings, b: Rankings): number {
  if (a.offsets.length !== b.offsets.length || a.scores.length !== b.scores.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.scores.length; i++) worst = Math.max(worst, Math.abs(a.scores[i] - b.scores[i]));
  return worst;
}

const ds = await data(users);
console.log(`\nsimilarity stage, ${users} generated users (seed ${seed}), top-10, default weights, ${runs} runs`);
const stats: SimilarityDetails[] = [];
const totals: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const { stats: s } = await similarityRun(ds);
  totals.push((performance.now() - t0) / 1000);
  stats.push(s);
}
const s0 = stats[0];
console.log(`  users ${s0.users}, nnz ${s0.nnz}, rows written ${s0.rows}, threads ${s0.threads}`);
for (const [name, b] of Object.entries(s0.blocks)) console.log(`  ${name.padEnd(11)} weight ${b.weight}  items ${b.items}  nnz ${b.nnz}  users ${b.users}`);
console.log(`  matrix  median ${f3(median(stats.map((s) => s.seconds.matrix)))}`);
console.log(`  top-n   median ${f3(median(stats.map((s) => s.seconds.topN)))}`);
console.log(`  stage   median ${f3(median(totals))}  (runs: ${totals.map((t) => t.toFixed(2)).join(", ")})${users === 10000 ? "  budget ≤ 1.5 s" : ""}`);
if (runs >= 3 && users <= 20000) {
  const single: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await similarityRun(ds, { threads: 1 });
    single.push((performance.now() - t0) / 1000);
  }
  console.log(`  stage, one thread, median of 3: ${f3(median(single))}`);
}
const peak = peakRssMB();
if (peak !== undefined) console.log(`  peak RSS of this process so far ${peak.toFixed(0)} MB${users >= 100000 ? "  budget ≤ 4096 MB" : ""}`);

if (baselineUsers > 0) {
  const all = buildUserItemMatrix(ds).users;
  const keep = new Set(all.slice(0, Math.min(baselineUsers, all.length)));
  const sub = subsample(ds, keep);
  console.log(`\nbaseline on a ${keep.size}-user subsample (first users in handle order), 3 runs each`);
  const dense: number[] = [];
  const sparse: number[] = [];
  let denseResult: Rankings | undefined;
  let sparseResult: Rankings | undefined;
  for (let r = 0; r < 3; r++) {
    const d = denseTopN(sub, 10);
    dense.push(d.seconds);
    denseResult = d.rankings;
    const t0 = performance.now();
    sparseResult = await similarityTopN(buildUserItemMatrix(sub), { topN: 10, threads: 1 });
    sparse.push((performance.now() - t0) / 1000);
  }
  const diff = disagreement(denseResult!, sparseResult!);
  const dm = median(dense);
  const sm = median(sparse);
  console.log(`  dense brute force (ddot on every pair)  median ${f3(dm)}`);
  console.log(`  sparse exact, one thread                median ${f3(sm)}  (${(dm / sm).toFixed(1)}× faster)`);
  console.log(`  results agree: max |score difference| ${diff.toExponential(2)}${diff < 1e-12 ? "" : "  ← DISAGREE"}`);
  const scale = (users / keep.size) ** 2;
  console.log(`  dense extrapolated to ${users} users (× ${scale.toFixed(0)} pairs, same width): ~${(dm * scale).toFixed(0)} s`);
}
