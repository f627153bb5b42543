/**
 * The API's model-answered requests through a real `recsys serve` process (issue 11: nothing
 * slower than 100 ms at 10k users): per-request latency, median and p99, of one client asking
 * one request at a time over a keep-alive connection (latency, not throughput: bench/server.ts
 * measures throughput with wrk). Baseline measured in the same run: the seed's request
 * (`{"user_handle": …}`, the stored top-10). Users drawn at random (seeded); each case warmed up
 * first, so the model's one lazy load is not counted (its time is in the server's log line).
 *
 *   bun bench/api-queries.ts [--users 10000] [--methods similarity,factorization,als] [--requests 300]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStore } from "../src/db/store.ts";
import { runPipeline } from "../src/pipeline.ts";
import { loadRecommender } from "../src/recommender.ts";
import { Rng } from "../src/random.ts";
import { serve, type Served } from "../test/fixtures/serve.ts";
import { generatedData, median, p99 } from "./lib.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "10000" }, methods: { type: "string", default: "similarity,factorization,als" }, requests: { type: "string", default: "300" } } });
const users = Number(values.users);
const requests = Number(values.requests);
const methods = values.methods!.split(",");
const BUDGET_MS = 100;

const dir = await generatedData(users);
const work = mkdtempSync(join(tmpdir(), "recsys-bench-api-"));
const db = join(work, "bench.db");
let server: Served | undefined;
try {
  const store = await openStore(db);
  let first = true;
  for (const method of methods) {
    const t0 = performance.now();
    await runPipeline({ input: first ? { dataDir: dir } : "store", store, method, table: `${method}_ranking` });
    console.log(`pipeline --method ${method}, ${users.toLocaleString("en-US")} users: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    first = false;
  }
  // Handles and a real profile to ask with (the first method's data; every table ranks the same users).
  const rec = await loadRecommender(store, `${methods[0]}_ranking`);
  const handles = rec.dataset.users;
  const profiles = handles.slice(0, 50).map((h) => rec.profile(h));
  store.close();

  server = await serve(["--db", db, "--results-table", `${methods[0]}_ranking`, "--quiet"]);
  const url = server.url;

  const rng = new Rng(11);
  const pick = () => handles[rng.int(handles.length)];
  const exclude = Array.from({ length: 100 }, pick);
  const cohort = handles.filter(() => rng.next() < 0.1).slice(0, 1000);
  const post = (route: string, body: () => object) => async () => {
    const r = await fetch(`${url}/api/${route}/`, { method: "POST", headers: { Host: "localhost" }, body: JSON.stringify(body()) });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`${route} ${r.status}: ${text}`);
  };
  const cases: [string, () => Promise<void>][] = [["baseline: seed request (stored top-10)", post("similarity", () => ({ user_handle: pick() }))]];
  for (const method of methods) {
    const m = { method };
    cases.push(
      [`${method}: n 100 (model)`, post("similarity", () => ({ user_handle: pick(), n: 100, ...m }))],
      [`${method}: exclude 100 + min_score`, post("similarity", () => ({ user_handle: pick(), exclude, min_score: 0.01, ...m }))],
      [`${method}: within 1k cohort, n 50`, post("similarity", () => ({ user_handle: pick(), within: cohort, n: 50, ...m }))],
      [`${method}: explain=true, top-10`, post("similarity", () => ({ user_handle: pick(), explain: true, ...m }))],
      [`${method}: profile fold-in`, post("similarity", () => ({ profile: profiles[rng.int(profiles.length)], ...m }))],
      [`${method}: batch of 100 users (stored rows)`, post("similarity", () => ({ user_handles: Array.from({ length: 100 }, pick), ...m }))],
      [`${method}: batch of 100, exclude 100 (model)`, post("similarity", () => ({ user_handles: Array.from({ length: 100 }, pick), exclude, ...m }))],
      [`${method}: recommend 10 courses`, post("recommendations", () => ({ user_handle: pick(), ...m }))],
    );
    if (method !== "similarity") cases.push([`${method}: recommend, model scores`, post("recommendations", () => ({ user_handle: pick(), using: "model", ...m }))]);
  }

  console.log(`${"request".padEnd(50)}${"median ms".padStart(11)}${"p99 ms".padStart(10)}${"× baseline p99".padStart(16)}`);
  let baseP99 = 0;
  let worst = 0;
  for (const [name, f] of cases) {
    for (let i = 0; i < 10; i++) await f(); // warm-up, and the model's lazy load
    const ms: number[] = [];
    for (let i = 0; i < requests; i++) {
      const t = performance.now();
      await f();
      ms.push(performance.now() - t);
    }
    const q = p99(ms);
    if (!baseP99) baseP99 = q;
    worst = Math.max(worst, q);
    console.log(`${name.padEnd(50)}${median(ms).toFixed(2).padStart(11)}${q.toFixed(2).padStart(10)}${(q / baseP99).toFixed(1).padStart(16)}`);
  }
  console.log(`slowest p99 ${worst.toFixed(1)} ms: ${worst <= BUDGET_MS ? "within" : "OVER"} the ${BUDGET_MS} ms budget`);
} finally {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
