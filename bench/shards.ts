/**
 * One shard of a sharded run, timed against the unsharded pipeline in the same run, and the
 * projection to 1M users on 16 machines.
 *   bun bench/shards.ts --users 5000                  # 16 shards, both methods, all shards + finalize + equality check
 *   bun bench/shards.ts --users 200000 --methods factorization   # one shard at scale (~15 min on 2 cores)
 *
 * Per method, on a SQLite store holding the generated input (ingested once):
 * - baseline: the unsharded `recsys pipeline` from the store (wall, peak RSS, stages), at
 *   `--baseline-users` (default: the same size up to 20k users, else 20k: the unsharded top-n
 *   grows with the square of the users, so at scale it runs on a second, smaller store);
 * - shard 0 of N: `recsys pipeline --shards N --shard 0` (wall, peak RSS, stages); each shard
 *   fits the model itself (deterministic: every shard gets the same factors, the finalize checks
 *   it by hash), and the fit's share is shown next to what loading the unsharded run's stored
 *   model instead costs (`loadModel` + `restore`, timed in this process);
 * - with `--all` (default up to 5k users), the other N − 1 shards and the finalize, and a check
 *   that the table equals the unsharded one row for row.
 *
 * Projection (printed as such): a shard's top-n scores its users/N rows against all users, so it
 * grows with the square of the users; loading, fitting, fingerprinting and staging grow linearly.
 * 16 machines take one shard's time plus the finalize (taken as the unsharded run's store stage,
 * linear); one machine takes the unsharded run's top-n × (1M/users)² plus its other stages × 1M/users
 * (scaled from the baseline's size). Peak RSS is reported as measured, not projected.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStore } from "../src/db/store.ts";
import { resolveOptions } from "../src/methods/method.ts";
import { getMethod } from "../src/methods/registry.ts";
import { fmtS, generatedData, OUT, timed } from "./lib.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "20000" },
    shards: { type: "string", default: "16" },
    methods: { type: "string", default: "similarity,factorization" },
    all: { type: "string" },
    target: { type: "string", default: "1000000" },
    "baseline-users": { type: "string" },
  },
});
const users = Number(values.users);
const shards = Number(values.shards);
const target = Number(values.target);
const all = values.all === undefined ? users <= 5000 : values.all === "true";
const scale = target / users;
const baselineUsers = Number(values["baseline-users"] ?? Math.min(users, 20_000));
const baseScale = target / baselineUsers;

const t0 = performance.now();
const dir = await generatedData(users);
const generateS = (performance.now() - t0) / 1000;
const db = join(OUT, `shards-${users}.db`);
const baseDb = baselineUsers === users ? db : join(OUT, `shards-${baselineUsers}.db`);
const remove = (path: string) => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
};
remove(db);
remove(baseDb);
const cli = (args: string[], at = db) => {
  const r = timed(["bun", "bin/recsys.ts", ...args, "--db", at, "--json"], { rss: true });
  if (r.code !== 0) throw new Error(`recsys ${args.join(" ")} failed: ${r.err}`);
  return { ...r, json: JSON.parse(r.out) };
};
const ingest = cli(["ingest", "--data-dir", dir]);
if (baseDb !== db) cli(["ingest", "--data-dir", await generatedData(baselineUsers)], baseDb);
console.log(`data: ${users.toLocaleString("en-US")} generated users (${fmtS(generateS)} to generate or find), ingested into SQLite in ${fmtS(ingest.seconds)}; ${shards} shards; ${navigator.hardwareConcurrency} cores; baseline at ${baselineUsers.toLocaleString("en-US")} users`);

const fmtStages = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ");
const sum = (s: Record<string, number>, keys: (k: string) => boolean) => Object.entries(s).reduce((t, [k, v]) => t + (keys(k) ? v : 0), 0);
const hms = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

for (const method of values.methods.split(",")) {
  const whole = cli(["pipeline", "--method", method, "--results-table", `${method}_whole`], baseDb);
  const ws = whole.json.stages as Record<string, number>;
  console.log(`\n${method}`);
  console.log(`  baseline, unsharded pipeline at ${baselineUsers.toLocaleString("en-US")} users: wall ${fmtS(whole.seconds)}, peak RSS ${whole.rssMB?.toFixed(0)} MB; stages (s): ${fmtStages(ws)}`);

  const runKey = `bench-${method}-${Date.now()}`;
  const shard = (i: number) => cli(["pipeline", "--method", method, "--shards", String(shards), "--shard", String(i), "--run-key", runKey, "--results-table", `${method}_sharded`]);
  const first = shard(0);
  const ss = first.json.stages as Record<string, number>;
  console.log(`  shard 0 of ${shards}: wall ${fmtS(first.seconds)}, peak RSS ${first.rssMB?.toFixed(0)} MB, ${first.json.users.toLocaleString("en-US")} users; stages (s): ${fmtStages(ss)}`);

  // Fitting per shard vs loading the stored model (what a separate `fit` step would give the shards).
  const fitS = sum(ss, (k) => k === "features" || k === "train" || k === "matrix");
  const store = await openStore(baseDb);
  try {
    const run = (await store.lastRun(`${method}_whole`))!;
    const m = getMethod(method);
    const { dataset } = await store.loadInput();
    const t = performance.now();
    const state = await store.loadModel(run.id);
    if (state && m.restore) m.restore(dataset, resolveOptions(m, {}), state);
    const restoreS = (performance.now() - t) / 1000;
    console.log(`  model per shard: fit ${fmtS(fitS)} in each shard (${((100 * fitS) / first.seconds).toFixed(0)}% of its wall); loading a stored model and restoring it instead: ${fmtS(restoreS)} at ${baselineUsers.toLocaleString("en-US")} users${state && m.restore ? "" : " (this method keeps no state: it is rebuilt from the input either way)"}`);
  } finally {
    store.close();
  }

  if (all && baseDb === db) {
    let slowest = first.seconds;
    for (let i = 1; i < shards; i++) slowest = Math.max(slowest, shard(i).seconds);
    const fin = cli(["pipeline", "--finalize", "--run-key", runKey]);
    const same = Bun.spawnSync(["sqlite3", db, `SELECT count(*) FROM (SELECT * FROM ${method}_whole EXCEPT SELECT * FROM ${method}_sharded)`]).stdout.toString().trim();
    console.log(`  all ${shards} shards here: slowest ${fmtS(slowest)}; finalize wall ${fmtS(fin.seconds)} (stage ${fin.json.stages.finalize.toFixed(3)} s); rows differing from the unsharded table: ${same || "(sqlite3 missing)"}`);
  }

  // The projection: quadratic top-n, linear rest.
  const shardTopN = ss.topN;
  const shardRest = first.seconds - shardTopN;
  const shardAt = shardTopN * scale * scale + shardRest * scale;
  const finalizeAt = (ws.store ?? 0) * baseScale;
  const singleAt = ws.topN * baseScale * baseScale + (whole.seconds - ws.topN) * baseScale;
  // The same from this run's shard: the unsharded top-n scores each pair once, the shards twice.
  const singleFromShard = ((shards / 2) * shardTopN) * scale * scale + shardRest * scale;
  console.log(
    `  PROJECTION to ${target.toLocaleString("en-US")} users (top-n × ${(scale * scale).toFixed(0)}, the rest × ${scale.toFixed(0)}; not measured): one shard of ${shards} ${hms(shardAt)}; ` +
      `${shards} shards on ${shards} such machines ${hms(shardAt + finalizeAt)} (one shard + a finalize of ~${hms(finalizeAt)}); one machine unsharded ${hms(singleAt)} (scaled from the baseline at ${baselineUsers.toLocaleString("en-US")} users), or ${hms(singleFromShard)} (from this shard: ${shards}/2 × its top-n, plus its other stages); ${shards} shards one after another on one machine ${hms(shards * shardAt + finalizeAt)} (each pair is scored from both sides: ~2× the unsharded top-n)`,
  );
}
remove(db);
remove(baseDb);
