/** startRowPool / serveRowPool: workers kept across runs (the ALS half-steps' pool). */
import { describe, expect, it } from "bun:test";
import { sharedArray, startRowPool, WorkersUnavailableError } from "../src/parallel.ts";
import type { PoolArgs, PoolPayload } from "./fixtures/pool-worker.ts";

const worker = new URL("./fixtures/pool-worker.ts", import.meta.url);
const payload = (mode: PoolPayload["mode"], rows: number): PoolPayload => ({ mode, out: sharedArray(Int32Array, rows), setups: sharedArray(Int32Array, 1) });

describe("startRowPool", () => {
  it("sets each worker up once and runs every row of every run exactly once, reporting progress to the total", async () => {
    const p = payload("ok", 1001);
    const pool = await startRowPool<PoolPayload, PoolArgs>(worker, p, 3);
    expect(pool).toBeDefined();
    try {
      const progress: number[] = [];
      await pool!.run(1001, 17, { add: 1 }, (done, total) => progress.push(done / total));
      expect(progress.at(-1)).toBe(1);
      await pool!.run(1001, 64, { add: 10 });
      await pool!.run(500, 7, { add: 100 });
      await pool!.run(0, 7, { add: 1000 });
      expect(Array.from(p.out).every((v, r) => v === (r < 500 ? 111 : 11))).toBe(true);
      expect(p.setups[0]).toBe(3);
      expect(pool!.threads).toBe(3);
    } finally {
      pool!.close();
      pool!.close();
    }
    await expect(pool!.run(10, 1, { add: 1 })).rejects.toThrow("the worker pool is closed");
  });

  it("rejects a run whose kernel throws, and every run after it (the pool is broken)", async () => {
    const pool = await startRowPool<PoolPayload, PoolArgs>(worker, payload("ok", 100), 2);
    try {
      const error = await pool!.run(100, 10, { add: 1, throwAt: 50 }).catch((e) => e);
      expect(error.message).toBe("kernel failed on rows 50..60");
      await expect(pool!.run(100, 10, { add: 1 })).rejects.toThrow("kernel failed on rows 50..60");
    } finally {
      pool!.close();
    }
  });

  it("allows one run at a time", async () => {
    const pool = await startRowPool<PoolPayload, PoolArgs>(worker, payload("ok", 100), 2);
    try {
      const first = pool!.run(100, 1, { add: 1 });
      await expect(pool!.run(100, 1, { add: 1 })).rejects.toThrow("one run at a time");
      await first;
    } finally {
      pool!.close();
    }
  });

  it("rejects when setting up throws, and when a worker exits during a run", async () => {
    await expect(startRowPool(worker, payload("setup-throws", 10), 2)).rejects.toThrow("setup refused the payload");
    const pool = await startRowPool<PoolPayload, PoolArgs>(worker, payload("exit-on-run", 10), 1);
    try {
      await expect(pool!.run(10, 1, { add: 1 })).rejects.toThrow(/exited/);
    } finally {
      pool!.close();
    }
  });

  it("is undefined when the worker module does not exist (the caller runs the rows), and a failure when it throws while loading", async () => {
    expect(await startRowPool(new URL("./fixtures/no-such-worker.ts", import.meta.url), payload("ok", 10), 2)).toBeUndefined();
    const error = await startRowPool(new URL("./fixtures/throwing-worker.ts", import.meta.url), payload("ok", 10), 2).catch((e) => e);
    expect(error.message).toMatch(/worker module failed to load/);
    expect(error).not.toBeInstanceOf(WorkersUnavailableError);
    await expect(startRowPool(worker, payload("ok", 10), 0)).rejects.toThrow("threads must be a positive integer, got 0");
  });
});
