/**
 * The sharded pipeline on both stores (Postgres through the throwaway cluster of
 * test/fixtures/postgres.ts, skipped visibly without its binaries): the same rankings row for row
 * from 1, 3 and 8 shards as from the unsharded pipeline, with both methods; missing, mismatched
 * and stale shards refused by name; kill -9 of a shard and of a finalize in the middle of their
 * write transactions; concurrent finalizes; a finalize while `serve` answers under load; the
 * `--staged` listing and a `--discard` (under the write lock, while `serve` answers) checked
 * against the staging table read directly.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { SQL } from "bun";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generate } from "../src/generate/index.ts";
import { ingest } from "../src/ingest.ts";
import { runPipeline } from "../src/pipeline.ts";
import { finalizeRun, runShard } from "../src/shards.ts";
import { openStore } from "../src/db/store.ts";
import { methodNames } from "../src/methods/registry.ts";
import { ShardsNotReadyError } from "../src/db/shard-records.ts";
import { runCli, spawnCli } from "./fixtures/cli.ts";
import { serve } from "./fixtures/serve.ts";
import { pgUnavailable, startCluster, type PgCluster } from "./fixtures/postgres.ts";

const unavailable = pgUnavailable();
if (unavailable) process.stderr.write(`\n[shards.test.ts] SKIPPING the sharded runs against a real Postgres: ${unavailable}\n\n`);

const work = mkdtempSync(join(tmpdir(), "recsys-shards-"));
let pg: PgCluster | undefined;
let data: string;
let big: string;
let other: string;
beforeAll(async () => {
  data = join(work, "data");
  big = join(work, "big");
  other = join(work, "other");
  await generate({ users: 700, seed: 3, outDir: data });
  await generate({ users: 200, seed: 8, outDir: other });
  await generate({ users: 5000, seed: 4, outDir: big });
  if (!unavailable) pg = await startCluster();
}, 120_000);
afterAll(() => {
  pg?.stop();
  rmSync(work, { recursive: true, force: true });
  // Stopping the cluster took over the default 5 s on a busy machine.
}, 60_000);

let made = 0;
const backends = [
  { name: "sqlite", skip: false, fresh: async (name: string) => join(work, `${name}-${++made}.db`) },
  { name: `postgres${unavailable ? ` [SKIPPED: ${unavailable}]` : ""}`, skip: Boolean(unavailable), fresh: (name: string) => pg!.createDatabase(name) },
];

const FM = { epochs: 2 };
const optionsOf = (method: string) => (method === "factorization" ? FM : {});

/** Every row of `table` in key order, as the store streams it. */
async function rows(location: string, table = "user_ranking"): Promise<unknown[]> {
  const store = await openStore(location);
  try {
    const out: unknown[] = [];
    for await (const r of store.scan(table)) out.push(r);
    return out;
  } finally {
    store.close();
  }
}

async function runCount(location: string): Promise<number> {
  const store = await openStore(location);
  try {
    return (await store.runs()).length;
  } finally {
    store.close();
  }
}

/**
 * `recsys serve` on `db`, asked by four clients in a loop (users 1–700) until `finish()`, which
 * stops them and the server and says how many answers were 200 and what every other one was.
 */
async function serveUnderLoad(db: string): Promise<{ answering(n: number): Promise<void>; finish(): Promise<{ answered: number; failed: string[] }> }> {
  const server = await serve(["--db", db, "--quiet"]);
  let answered = 0;
  const failed: string[] = [];
  let stop = false;
  const load = async (worker: number) => {
    for (let i = worker; !stop; i += 4) {
      const r = await fetch(`${server.url}/api/similarity/${(i % 700) + 1}`);
      const body = await r.text();
      if (r.status === 200) answered++;
      else failed.push(`${r.status} ${body}`);
    }
  };
  const loaders = [0, 1, 2, 3].map(load);
  return {
    /** Waits until `n` requests were answered in all (a busy machine answers slowly: a fixed sleep is not enough). */
    async answering(n: number) {
      const t0 = performance.now();
      while (answered < n) {
        if (performance.now() - t0 > 60_000) throw new Error(`serve answered ${answered} requests in 60 s (${failed.length} failed), not ${n}`);
        await Bun.sleep(10);
      }
    },
    async finish() {
      stop = true;
      await Promise.all(loaders);
      await server.stop();
      return { answered, failed };
    },
  };
}

/** Waits until another process holds the store's write lock (true), or `proc` exits first (false). */
async function writeLockTaken(location: string, proc: { exitCode: number | null }): Promise<boolean> {
  const t0 = performance.now();
  if (location.startsWith("postgres")) {
    const sql = new SQL(location);
    try {
      while (proc.exitCode === null && performance.now() - t0 < 60_000) {
        const [[n]] = await sql`SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND granted`.values();
        if (n > 0) return true;
        await Bun.sleep(2);
      }
      return false;
    } finally {
      await sql.close();
    }
  }
  while (proc.exitCode === null && performance.now() - t0 < 60_000) {
    const db = new Database(location);
    try {
      db.exec("PRAGMA busy_timeout = 0");
      db.exec("BEGIN IMMEDIATE");
      db.exec("ROLLBACK");
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "SQLITE_BUSY") return true;
      // Another connection is rebuilding the WAL index (the spawned process opening the file): not yet the write lock.
      if (code !== "SQLITE_BUSY_RECOVERY") throw e;
    } finally {
      db.close();
    }
    await Bun.sleep(2);
  }
  return false;
}

/** Waits until the server rolled back the killed session (Postgres); SQLite discards it on the next open. */
async function lockReleased(location: string): Promise<void> {
  if (!location.startsWith("postgres")) return;
  const sql = new SQL(location);
  try {
    for (let i = 0; i < 500; i++) {
      const [[n]] = await sql`SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory'`.values();
      if (n === 0) return;
      await Bun.sleep(10);
    }
  } finally {
    await sql.close();
  }
}

/** The staging table's rows by run key, each key's in one fixed order, read straight from the store (the oracle of `--staged` and `--discard`). */
async function stagedRows(location: string): Promise<Record<string, unknown[][]>> {
  const query = `SELECT run_key, shard, "user_handle", "rank", "similar", "score" FROM recsys_shard_rows ORDER BY run_key, shard, "user_handle", "rank"`;
  let all: unknown[][];
  if (location.startsWith("postgres")) {
    const sql = new SQL(location);
    try {
      all = await sql.unsafe(query).values();
    } finally {
      await sql.close();
    }
  } else {
    const db = new Database(location, { readonly: true });
    try {
      all = db.query(query).values() as unknown[][];
    } finally {
      db.close();
    }
  }
  const out: Record<string, unknown[][]> = {};
  for (const r of all) (out[String(r[0])] ??= []).push(r.slice(1).map((v) => (typeof v === "bigint" ? Number(v) : v)));
  return out;
}

/** Takes the store's write lock from another connection, as another recsys run would; returns its release. */
async function holdWriteLock(location: string): Promise<() => Promise<void>> {
  if (location.startsWith("postgres")) {
    const sql = new SQL(location);
    const conn = await sql.reserve();
    // The store's advisory lock (postgres.ts WRITE_LOCK), session-level here.
    await conn.unsafe("SELECT pg_advisory_lock(125779785775475)");
    return async () => {
      await conn.unsafe("SELECT pg_advisory_unlock(125779785775475)");
      conn.release();
      await sql.close();
    };
  }
  const db = new Database(location);
  db.exec("BEGIN IMMEDIATE");
  return async () => {
    db.exec("ROLLBACK");
    db.close();
  };
}

for (const backend of backends) {
  describe(`sharded pipeline on ${backend.name}`, () => {
    it.skipIf(backend.skip)(
      "1, 3 and 8 shards give the unsharded rankings row for row, with both methods; re-running a shard changes nothing",
      async () => {
        const db = await backend.fresh("same");
        await ingest(data, db);
        for (const method of ["similarity", "factorization"]) {
          const whole = `${method}_whole`;
          const sharded = `${method}_sharded`;
          const unsharded = await runPipeline({ input: "store", store: db, method, options: optionsOf(method), table: whole, topN: 7 });
          const expected = await rows(db, whole);
          expect(expected.length).toBeGreaterThan(2000);
          for (const n of [1, 3, 8]) {
            const runKey = `${method}-${n}`;
            // Out of order, on one thread and on two: neither changes a slice.
            for (let i = n - 1; i >= 0; i--) await runShard({ store: db, runKey, shards: n, shard: i, method, options: optionsOf(method), table: sharded, topN: 7, threads: 1 + (i % 2) });
            if (n === 3) await runShard({ store: db, runKey, shards: n, shard: 1, method, options: optionsOf(method), table: sharded, topN: 7 });
            const { run, swapped } = await finalizeRun({ store: db, runKey });
            expect(swapped).toBe(true);
            expect(await rows(db, sharded)).toEqual(expected);
            expect([run.users_ranked, run.rows_written, run.params.shards, run.input]).toEqual([unsharded.run.users_ranked, unsharded.run.rows_written, n, unsharded.run.input]);
            // The run's model is stored as the unsharded run's is.
            const store = await openStore(db);
            try {
              const model = await store.loadModel(run.id);
              const reference = await store.loadModel(unsharded.run.id);
              expect(model && Object.keys(model.arrays)).toEqual(reference && Object.keys(reference.arrays));
              for (const k of Object.keys(reference?.arrays ?? {})) expect(model!.arrays[k]).toEqual(reference!.arrays[k]);
            } finally {
              store.close();
            }
          }
        }
      },
      240_000,
    );

    it.skipIf(backend.skip)(
      "every registered method and similarity's options (--rank, --shrinkage 0): 3 and 8 shards give the unsharded rankings row for row",
      async () => {
        const variants: [string, Record<string, unknown>][] = [
          ["als", { iterations: 2 }],
          ["similarity", { rank: 8 }],
          ["similarity", { shrinkage: 0, itemWeighting: "none" }],
        ];
        // With the test above (similarity, factorization by default): every registered method.
        expect([...new Set(["similarity", "factorization", ...variants.map(([m]) => m)])].sort()).toEqual(methodNames().sort());
        const db = await backend.fresh("variants");
        await ingest(data, db);
        for (const [v, [method, options]] of variants.entries()) {
          const whole = `v${v}_whole`;
          const sharded = `v${v}_sharded`;
          await runPipeline({ input: "store", store: db, method, options, table: whole, topN: 7 });
          const expected = await rows(db, whole);
          expect(expected.length).toBeGreaterThan(2000);
          for (const n of [3, 8]) {
            const runKey = `v${v}-${n}`;
            for (let i = 0; i < n; i++) await runShard({ store: db, runKey, shards: n, shard: i, method, options, table: sharded, topN: 7, threads: 1 + (i % 2) });
            expect((await finalizeRun({ store: db, runKey })).swapped).toBe(true);
            expect([method, options, await rows(db, sharded)]).toEqual([method, options, expected]);
          }
        }
      },
      240_000,
    );

    it.skipIf(backend.skip)("refuses a missing shard, another model's shard and stale input by name; the served table stays; a finalized key is closed", async () => {
      const db = await backend.fresh("refuse");
      await ingest(data, db);
      await runPipeline({ input: "store", store: db, method: "similarity", topN: 5 });
      const served = await rows(db);
      const runs = await runCount(db);
      const shard = (i: number, runKey: string, options: Record<string, unknown> = FM) => runShard({ store: db, runKey, shards: 3, shard: i, method: "factorization", options, topN: 5 });
      await shard(0, "gap");
      await shard(2, "gap");
      const missing = runCli(["pipeline", "--finalize", "--run-key", "gap", "--db", db]);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/shard 1 of 3 is missing/);
      expect(missing.err).toMatch(/nothing was swapped in/);
      // Shard 1 with another seed: another model, refused by name.
      await shard(1, "gap", { ...FM, seed: 7 });
      await expect(finalizeRun({ store: db, runKey: "gap" })).rejects.toThrow(/shard 1 has another method or options than shard 0/);
      await expect(finalizeRun({ store: db, runKey: "nothing" })).rejects.toThrow(ShardsNotReadyError);
      await expect(finalizeRun({ store: db, runKey: "gap", shards: 4 })).rejects.toThrow(/shards 0, 1, 2 were run with a --shards other than 4/);
      expect(await rows(db)).toEqual(served);
      expect(await runCount(db)).toBe(runs);
      // Shard 1 again, right: complete, but the input was replaced meanwhile.
      await shard(1, "gap");
      await ingest(other, db);
      await expect(finalizeRun({ store: db, runKey: "gap" })).rejects.toThrow(/input tables .* were replaced/);
      expect(await rows(db)).toEqual(served);
      // A complete, current run swaps in; its key then takes no more shards.
      for (const i of [0, 1, 2]) await shard(i, "fresh");
      expect((await finalizeRun({ store: db, runKey: "fresh" })).swapped).toBe(true);
      const again = runCli(["pipeline", "--method", "factorization", "--als-iterations", "2", "--shards", "3", "--shard", "1", "--run-key", "fresh", "--db", db]);
      expect(again.code).toBe(2);
      expect(again.err).toMatch(/run key "fresh" was finalized already/);
    }, 120_000);

    it.skipIf(backend.skip)(
      "--staged lists each key's shards, input and rows; --discard removes one key's rows only, under the write lock, while serve answers; repeats are harmless; unknown and finalized keys refused by name",
      async () => {
        const db = await backend.fresh("discard");
        await ingest(data, db);
        await runPipeline({ input: "store", store: db, method: "similarity", topN: 5 });
        const served = await rows(db);
        const shard = (i: number, runKey: string, shards = 3) => runShard({ store: db, runKey, shards, shard: i, method: "similarity", topN: 5 });
        await shard(0, "old", 2);
        // The same files again: a new ingest, so "old" read input the store no longer holds.
        await ingest(data, db);
        await shard(0, "gap");
        await shard(2, "gap");
        for (const i of [0, 1, 2]) await shard(i, "full");
        const before = await stagedRows(db);
        expect(Object.keys(before).sort()).toEqual(["full", "gap", "old"]);
        const staged = runCli(["pipeline", "--staged", "--json", "--db", db]);
        expect(staged.code).toBe(0);
        const listed = JSON.parse(staged.out).staged as Record<string, unknown>[];
        expect(listed.map((r) => [r.runKey, r.method, r.table, r.shards, r.present, r.missing, r.input, r.rows])).toEqual([
          ["old", "similarity", "user_ranking", 2, [0], [1], "stale", before.old.length],
          ["gap", "similarity", "user_ranking", 3, [0, 2], [1], "current", before.gap.length],
          ["full", "similarity", "user_ranking", 3, [0, 1, 2], [], "current", before.full.length],
        ]);
        expect(listed.map((r) => r.problem)).toEqual([expect.stringMatching(/shard 1 of 2 is missing/), expect.stringMatching(/shard 1 of 3 is missing/), null]);
        for (const r of listed) expect(Date.parse(r.startedAt as string)).toBeLessThanOrEqual(Date.parse(r.stagedAt as string));
        const text = runCli(["pipeline", "--staged", "--db", db]);
        expect(text.out).toMatch(/^3 run key\(s\) with shards staged in /);
        expect(text.out).toMatch(/ gap: similarity → user_ranking; 2 of 3 shards staged, missing 1; input current; /);
        expect(text.out).toMatch(/ready: `recsys pipeline --finalize --run-key full` swaps it in/);

        // The discard waits for the write lock like every write, and changes nothing meanwhile.
        const release = await holdWriteLock(db);
        const waiting = spawnCli(["pipeline", "--discard", "--run-key", "gap", "--db", db, "--json"]);
        // serve answers before the lock is released, so the discard runs while it does.
        const load = await serveUnderLoad(db);
        let discarded;
        let outcome;
        try {
          try {
            await Bun.sleep(700);
            expect(waiting.exitCode).toBe(null);
            expect(await stagedRows(db)).toEqual(before);
            await load.answering(11);
          } finally {
            await release();
          }
          expect(await waiting.exited).toBe(0);
          discarded = JSON.parse(await new Response(waiting.stdout).text());
          await Bun.sleep(100);
        } finally {
          outcome = await load.finish();
        }
        expect(outcome.failed).toEqual([]);
        expect(outcome.answered).toBeGreaterThan(10);
        expect(discarded).toMatchObject({ runKey: "gap", discarded: true, shards: 2, rows: before.gap.length });
        // Only gap's rows went: the served table and the other keys' staged rows are as they were.
        expect(await rows(db)).toEqual(served);
        expect(await stagedRows(db)).toEqual({ full: before.full, old: before.old });
        expect(JSON.parse(runCli(["pipeline", "--staged", "--json", "--db", db]).out).staged.map((r: { runKey: string }) => r.runKey)).toEqual(["old", "full"]);

        const again = runCli(["pipeline", "--discard", "--run-key", "gap", "--db", db]);
        expect([again.code, again.out]).toEqual([0, expect.stringMatching(/^run key gap was discarded already at .* \(2 shard\(s\), [\d,]+ rows\); nothing to do/)]);
        const unknown = runCli(["pipeline", "--discard", "--run-key", "gpa", "--db", db]);
        expect([unknown.code, unknown.err]).toEqual([2, expect.stringMatching(/run key "gpa" has nothing staged in .*nothing discarded/)]);
        // A straggling shard of the discarded run cannot stage it again, nor can it be finalized.
        const late = runCli(["pipeline", "--shards", "3", "--shard", "1", "--run-key", "gap", "--db", db]);
        expect([late.code, late.err]).toEqual([2, expect.stringMatching(/run key "gap" was discarded at .*new --run-key/)]);
        const fin = runCli(["pipeline", "--finalize", "--run-key", "gap", "--db", db]);
        expect([fin.code, fin.err]).toEqual([2, expect.stringMatching(/run key "gap" was discarded at/)]);
        expect(await stagedRows(db)).toEqual({ full: before.full, old: before.old });
        // A finalized key has nothing staged; its records stay, closing it: the discard refuses.
        expect((await finalizeRun({ store: db, runKey: "full" })).swapped).toBe(true);
        const closed = runCli(["pipeline", "--discard", "--run-key", "full", "--db", db]);
        expect([closed.code, closed.err]).toEqual([2, expect.stringMatching(/run key "full" was finalized \(run \d+\): nothing of it is staged/)]);
        expect(await stagedRows(db)).toEqual({ old: before.old });
      },
      120_000,
    );

    it.skipIf(backend.skip)("kill -9 of a shard mid-write and of a finalize mid-swap leave the served table; re-runs complete", async () => {
      const db = await backend.fresh("kill");
      await ingest(big, db);
      runCli(["pipeline", "--method", "similarity", "--top-n", "3", "--db", db]);
      const served = await rows(db);
      expect(served.length).toBeGreaterThan(10_000);
      const shardArgs = (i: number) => ["pipeline", "--method", "similarity", "--top-n", "60", "--shards", "2", "--run-key", "k9", "--db", db, "--threads", "1"].concat(i >= 0 ? ["--shard", String(i)] : []);
      // Shard 1 from the environment, as a Kubernetes Indexed Job gives it.
      const killed = spawnCli(shardArgs(-1), { env: { JOB_COMPLETION_INDEX: "1" } });
      expect(await writeLockTaken(db, killed)).toBe(true);
      killed.kill("SIGKILL");
      await killed.exited;
      expect(killed.signalCode).toBe("SIGKILL");
      await lockReleased(db);
      expect(runCli(shardArgs(0)).code).toBe(0);
      // Shard 1 left nothing: the finalize names it.
      const early = runCli(["pipeline", "--finalize", "--run-key", "k9", "--db", db]);
      expect([early.code, /shard 1 of 2 is missing/.test(early.err)]).toEqual([1, true]);
      expect(await rows(db)).toEqual(served);
      const rerun = runCli(shardArgs(-1), { env: { JOB_COMPLETION_INDEX: "1" } });
      expect(rerun.code).toBe(0);
      expect(rerun.out).toMatch(/shard 1 of 2 staged/);
      // The finalize, killed inside its write transaction.
      const finalize = spawnCli(["pipeline", "--finalize", "--run-key", "k9", "--db", db]);
      expect(await writeLockTaken(db, finalize)).toBe(true);
      finalize.kill("SIGKILL");
      await finalize.exited;
      expect(finalize.signalCode).toBe("SIGKILL");
      await lockReleased(db);
      expect(await rows(db)).toEqual(served);
      const done = runCli(["pipeline", "--finalize", "--run-key", "k9", "--db", db, "--json"]);
      expect(done.code).toBe(0);
      expect(JSON.parse(done.out)).toMatchObject({ swapped: true, shards: 2, users: 5000 });
      // What the unsharded pipeline ranks.
      expect(runCli(["pipeline", "--method", "similarity", "--top-n", "60", "--results-table", "whole", "--db", db]).code).toBe(0);
      expect(await rows(db)).toEqual(await rows(db, "whole"));
    }, 180_000);

    it.skipIf(backend.skip)("shards as processes at once, then two finalizes at once while serve answers under load: one swaps, one finds it done, no request fails", async () => {
      const db = await backend.fresh("race");
      await ingest(data, db);
      runCli(["pipeline", "--method", "similarity", "--db", db]);
      const args = (i: number) => ["pipeline", "--method", "factorization", "--als-iterations", "2", "--shards", "3", "--shard", String(i), "--db", db];
      const shards = [0, 1, 2].map((i) => spawnCli(args(i), { env: { RECSYS_RUN_KEY: "nightly-1" } }));
      const codes = await Promise.all(shards.map(async (p) => [await p.exited, await new Response(p.stderr).text()]));
      expect(codes.map(([c]) => c)).toEqual([0, 0, 0]);
      const load = await serveUnderLoad(db);
      let outcome;
      try {
        await load.answering(5);
        const finals = [0, 1].map(() => spawnCli(["pipeline", "--finalize", "--run-key", "nightly-1", "--db", db, "--json"]));
        const outs = await Promise.all(finals.map(async (p) => [await p.exited, await new Response(p.stdout).text(), await new Response(p.stderr).text()] as const));
        expect(outs.map(([c]) => c)).toEqual([0, 0]);
        const results = outs.map(([, out]) => JSON.parse(out));
        expect(results.map((r) => r.swapped).sort()).toEqual([false, true]);
        expect(results[0].run).toBe(results[1].run);
        await load.answering(51);
      } finally {
        outcome = await load.finish();
      }
      expect(outcome.failed).toEqual([]);
      expect(outcome.answered).toBeGreaterThan(50);
      const store = await openStore(db);
      try {
        expect((await store.runs()).map((r) => [r.method, r.params.shards])).toEqual([
          ["similarity", undefined],
          ["factorization", 3],
        ]);
      } finally {
        store.close();
      }
    }, 180_000);
  });
}

describe("recsys pipeline --shards: flags", () => {
  it("checks --shards, --shard, JOB_COMPLETION_INDEX and --run-key before touching anything", () => {
    const db = join(work, "flags.db");
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["--shards", "3", "--shard", "3", "--run-key", "a"], {}, /--shard must be an integer in 0\.\.2/],
      [["--shards", "0", "--shard", "0", "--run-key", "a"], {}, /--shards must be an integer in 1\.\.1024/],
      [["--shards", "3", "--run-key", "a"], {}, /--shards needs --shard I .*JOB_COMPLETION_INDEX/],
      [["--shards", "3", "--run-key", "a"], { JOB_COMPLETION_INDEX: "x" }, /JOB_COMPLETION_INDEX/],
      [["--shards", "3", "--shard", "1"], {}, /needs --run-key KEY \(or RECSYS_RUN_KEY\)/],
      [["--shards", "3", "--shard", "1", "--run-key", "a b"], {}, /--run-key must be 1 to 64 letters/],
      [["--shards", "3", "--shard", "1"], { RECSYS_RUN_KEY: "-x" }, /RECSYS_RUN_KEY must be/],
      [["--shard", "1", "--run-key", "a"], {}, /--shard needs --shards N/],
      [["--finalize", "--shard", "1", "--run-key", "a"], {}, /--finalize takes no --shard/],
      [["--shards", "2", "--shard", "1", "--run-key", "a", "--data-dir", "x"], {}, /--data-dir cannot be given to a sharded run/],
      [["--discard"], { RECSYS_RUN_KEY: "a" }, /--discard needs --run-key KEY, given on the command line/],
      [["--discard", "--run-key", "a b"], {}, /--run-key must be 1 to 64 letters/],
      [["--discard", "--finalize", "--run-key", "a"], {}, /--discard takes no --finalize/],
      [["--staged", "--shards", "2"], {}, /--staged takes no --shards/],
      [["--staged", "--discard", "--run-key", "a"], {}, /--staged takes no --discard/],
    ];
    for (const [args, env, message] of cases) {
      const r = runCli(["pipeline", "--db", db, ...args], { env });
      expect(`${args.join(" ")} → ${r.code} ${r.err}`).toMatch(new RegExp(`→ 2 .*${message.source}`, "s"));
    }
    expect(runCli(["pipeline", "--db", db, "--shards", "2", "--shard", "0", "--run-key", "a"]).err).toMatch(/no database at/);
    expect(runCli(["pipeline", "--db", db, "--discard", "--run-key", "a"]).err).toMatch(/no database at/);
  }, 60_000);
});
