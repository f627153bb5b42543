/**
 * On-demand queries of a fitted model (the recommender behind `recsys similar`, the API's model
 * answers): per-query latency, median and p99, for
 *   - baseline: the stored top-10 of one user read back from SQLite (what the seed's request costs),
 *   - similar users, top-10, no filters (exactly the stored row, recomputed),
 *   - similar users with exclude (100 handles) + min score,
 *   - similar users within a cohort of 10% of users, n = 50,
 *   - explain of the top neighbour, recommend 10 courses, a profile fold-in.
 * Users are drawn at random (seeded). Goal (issue 11): p99 ≤ 10 ms at 10k users, ≤ 50 ms at 100k.
 *
 *   bun bench/query.ts [--users 10000] [--methods similarity,factorization] [--queries 500]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { openStore } from "../src/db/store.ts";
import { runPipeline } from "../src/pipeline.ts";
import { loadRecommender } from "../src/recommender.ts";
import { Rng } from "../src/random.ts";
import { generatedData, median, p99 } from "./lib.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "10000" }, methods: { type: "string", default: "similarity,factorization" }, queries: { type: "string", default: "500" } } });
const users = Number(values.users);
const queries = Number(values.queries);
const dir = await generatedData(users);
const work = mkdtempSync(join(tmpdir(), "recsys-bench-query-"));
const store = await openStore(join(work, "bench.db"));

try {
  let first = true;
  for (const method of values.methods!.split(",")) {
    const table = `${method}_ranking`;
    const t0 = performance.now();
    await runPipeline({ input: first ? { dataDir: dir } : "store", store, method, table });
    first = false;
    const t1 = performance.now();
    const rec = await loadRecommender(store, table);
    const t2 = performance.now();
    console.log(`${method}, ${users.toLocaleString("en-US")} users: pipeline ${((t1 - t0) / 1000).toFixed(1)} s, model loaded in ${((t2 - t1) / 1000).toFixed(2)} s`);
    const rng = new Rng(7);
    const handles = rec.dataset.users;
    const pick = () => handles[rng.int(handles.length)];
    const exclude = Array.from({ length: 100 }, pick);
    const cohort = handles.filter(() => rng.next() < 0.1);
    const reader = store.reader(table);
    const cases: [string, () => unknown][] = [
      ["baseline: stored top-10 (SQLite)", () => reader.neighbors(pick(), 10)],
      ["similar, top-10", () => rec.similar(pick())],
      ["similar, exclude 100 + min score", () => rec.similar(pick(), { n: 10, exclude, minScore: 0.05 })],
      ["similar, within 10% cohort, n 50", () => rec.similar(pick(), { n: 50, within: cohort })],
      ["explain top neighbour", () => {
        const h = pick();
        const top = rec.similar(h, { n: 1 }).neighbors[0];
        return top && rec.explain(h, top.similar);
      }],
      ["recommend 10 courses", () => rec.recommend(pick(), { n: 10 })],
      ["profile fold-in, top-10", () => rec.similar(rec.profile(pick()))],
    ];
    console.log(`${"query".padEnd(36)}${"median ms".padStart(11)}${"p99 ms".padStart(10)}`);
    for (const [name, f] of cases) {
      for (let i = 0; i < 20; i++) f(); // warm-up
      const ms: number[] = [];
      for (let i = 0; i < queries; i++) {
        const t = performance.now();
        f();
        ms.push(performance.now() - t);
      }
      console.log(`${name.padEnd(36)}${median(ms).toFixed(3).padStart(11)}${p99(ms).toFixed(3).padStart(10)}`);
    }
    reader.close();
  }
} finally {
  store.close();
  rmSync(work, { recursive: true, force: true });
}
