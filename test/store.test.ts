import { afterAll, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, tableExists } from "../src/db/open.ts";
import { lastRun, writeRankings } from "../src/db/rankings.ts";
import type { RunRecord } from "../src/db/store.ts";
import { readNeighbors, readRankings, storedTopN } from "./fixtures/rankings.ts";
import { validateTableName } from "../src/names.ts";
import type { Rankings } from "../src/types.ts";

const dir = mkdtempSync(join(tmpdir(), "recsys-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (method = "similarity"): RunRecord => ({
  method,
  params: { topN: 2 },
  input: { rows: 3 },
  startedAt: new Date("2026-01-01T00:00:00Z"),
  stages: { rank: 0.5 },
});

/** Users 1..3: 1 → [2 (0.9), 3 (0.5)], 2 → [1 (0.9)], 3 → none. */
const small: Rankings = {
  users: ["1", "2", "3"],
  offsets: Int32Array.from([0, 2, 3, 3]),
  neighbors: Int32Array.from([1, 2, 0]),
  scores: Float64Array.from([0.9, 0.5, 0.9]),
};

describe("rankings table names", () => {
  it("accepts identifiers up to 64 characters", () => {
    expect(validateTableName("user_ranking")).toBe("user_ranking");
    expect(validateTableName("_" + "a".repeat(63))).toHaveLength(64);
  });

  for (const bad of ["", "1abc", "a-b", "x;DROP TABLE user_interests", 'a"b', "a b", "_" + "a".repeat(64), "user_interests", "sqlite_master", "recsys_runs"]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 30))}`, () => {
      expect(() => validateTableName(bad)).toThrow(/invalid results table name/);
    });
  }

  // The next run for user_ranking would drop a results table of that name as its scratch table.
  for (const scratch of ["user_ranking__recsys_next", "USER_RANKING__RECSYS_NEXT", "x__recsys_other"]) {
    it(`refuses the scratch name ${scratch}, saying why`, () => {
      expect(() => validateTableName(scratch)).toThrow(/reserved for the scratch tables recsys swaps in/);
    });
  }
});

describe("writeRankings", () => {
  it("writes 1-based ranks in score order and records the run", () => {
    const db = openDatabase(join(dir, "a.db"));
    const row = writeRankings(db, "user_ranking", small, run());
    expect(readNeighbors(db, "user_ranking", "1", 10)).toEqual([
      { similar: "2", score: 0.9 },
      { similar: "3", score: 0.5 },
    ]);
    expect(readNeighbors(db, "user_ranking", "1", 1)).toEqual([{ similar: "2", score: 0.9 }]);
    expect(readNeighbors(db, "user_ranking", "3", 10)).toEqual([]);
    expect(storedTopN(db, "user_ranking")).toBe(2);
    expect(row.users_ranked).toBe(2);
    expect(row.rows_written).toBe(3);
    const last = lastRun(db, "user_ranking")!;
    expect(last.method).toBe("similarity");
    expect(last.params).toEqual({ topN: 2 });
    expect(last.stages.rank).toBe(0.5);
    expect(last.stages.store).toBeGreaterThanOrEqual(0);
    db.close();
  });

  it("round-trips through readRankings", () => {
    const db = openDatabase(join(dir, "a.db"));
    const back = readRankings(db, "user_ranking");
    expect(back.users).toEqual(["1", "2", "3"]);
    expect([...back.offsets]).toEqual([0, 2, 3, 3]);
    expect([...back.neighbors]).toEqual([1, 2, 0]);
    db.close();
  });

  it("replaces the previous table completely and leaves no scratch table", () => {
    const db = openDatabase(join(dir, "a.db"));
    const next: Rankings = { users: ["7", "8"], offsets: Int32Array.from([0, 1, 2]), neighbors: Int32Array.from([1, 0]), scores: Float64Array.from([0.1, 0.1]) };
    writeRankings(db, "user_ranking", next, run("factorization"));
    expect(readNeighbors(db, "user_ranking", "1", 10)).toEqual([]);
    expect(readNeighbors(db, "user_ranking", "7", 10)).toEqual([{ similar: "8", score: 0.1 }]);
    const names = db.query("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").values().flat();
    expect(names).toEqual(["recsys_runs", "user_ranking"]);
    expect(lastRun(db, "user_ranking")!.method).toBe("factorization");
    db.close();
  });

  it("survives views over the rankings table, and the views then read the new table", () => {
    const db = openDatabase(join(dir, "views.db"));
    writeRankings(db, "user_ranking", small, run());
    db.exec("CREATE VIEW user_ranking_v AS SELECT * FROM user_ranking");
    db.exec("CREATE VIEW best AS SELECT user_handle, similar FROM user_ranking_v WHERE rank = 1");
    const next: Rankings = { users: ["7", "8"], offsets: Int32Array.from([0, 1, 2]), neighbors: Int32Array.from([1, 0]), scores: Float64Array.from([0.1, 0.2]) };
    writeRankings(db, "user_ranking", next, run("factorization"));
    expect(db.query("SELECT user_handle, similar FROM best ORDER BY user_handle").values()).toEqual([
      ["7", "8"],
      ["8", "7"],
    ]);
    // The views are kept as the user wrote them, and the swap can run again.
    expect(db.query("SELECT sql FROM sqlite_master WHERE name = 'user_ranking_v'").values()).toEqual([["CREATE VIEW user_ranking_v AS SELECT * FROM user_ranking"]]);
    writeRankings(db, "user_ranking", small, run());
    expect(db.query("SELECT COUNT(*) FROM user_ranking_v").values()).toEqual([[3]]);
    expect(db.query("PRAGMA integrity_check").values()).toEqual([["ok"]]);
    // The rename mode is the connection's own setting: back to SQLite's default afterwards.
    expect(db.query("PRAGMA legacy_alter_table").values()).toEqual([[0]]);
    db.close();
  });

  it("refuses to replace a view of the results table's name, before writing any row", () => {
    const db = openDatabase(join(dir, "view-named.db"));
    writeRankings(db, "user_ranking", small, run());
    db.exec("CREATE VIEW mine AS SELECT * FROM user_ranking");
    expect(() => writeRankings(db, "mine", small, run())).toThrow('cannot replace "mine" with rankings: it is a view, not a table');
    expect(db.query("SELECT type FROM sqlite_master WHERE name = 'mine'").values()).toEqual([["view"]]);
    expect(lastRun(db, "mine")).toBeNull();
    db.close();
  });

  it("never touches the database for an invalid table name", () => {
    const db = openDatabase(join(dir, "b.db"));
    expect(() => writeRankings(db, "x; DROP TABLE y", small, run())).toThrow(/invalid results table name/);
    expect(tableExists(db, "recsys_runs")).toBe(false);
    db.close();
  });

  it("a writer killed with SIGKILL mid-transaction leaves the previous table and its rows", async () => {
    const path = join(dir, "crash.db");
    const db = openDatabase(path);
    writeRankings(db, "user_ranking", small, run());
    db.close();
    const child = Bun.spawn(["bun", join(import.meta.dir, "fixtures/write-rankings.ts"), path, "user_ranking", "400000"], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("writing");
    // Kill only once the transaction has spilled pages into the WAL: then it is surely mid-write.
    const wal = `${path}-wal`;
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0);
    const before = walSize();
    for (let i = 0; i < 400 && walSize() < before + (4 << 20); i++) await Bun.sleep(25);
    expect(walSize()).toBeGreaterThan(before + (4 << 20));
    expect(child.exitCode).toBeNull();
    child.kill("SIGKILL");
    expect(await child.exited).not.toBe(0);
    const after = openDatabase(path);
    expect(after.query("PRAGMA integrity_check").values()).toEqual([["ok"]]);
    expect(readNeighbors(after, "user_ranking", "1", 10)).toEqual([
      { similar: "2", score: 0.9 },
      { similar: "3", score: 0.5 },
    ]);
    expect(after.query('SELECT COUNT(*) FROM "user_ranking"').values()).toEqual([[3]]);
    expect(tableExists(after, "user_ranking__recsys_next")).toBe(false);
    expect(lastRun(after, "user_ranking")!.method).toBe("similarity");
    after.close();
    // Its own wait for the WAL allows 10 s (a busy machine): bun's 5 s default cut it short.
  }, 20_000);

  it("readers see the old table or the whole new one while a writer swaps", async () => {
    const path = join(dir, "swap.db");
    const db = openDatabase(path);
    writeRankings(db, "user_ranking", small, run());
    const child = Bun.spawn(["bun", join(import.meta.dir, "fixtures/write-rankings.ts"), path, "user_ranking", "50000"], { stdout: "pipe" });
    const seen = new Set<number>();
    let failures = 0;
    const reads = (async () => {
      while (child.exitCode === null) {
        try {
          const count = (db.query('SELECT COUNT(*) AS c FROM "user_ranking"').get() as { c: number }).c;
          seen.add(count);
        } catch {
          failures++;
        }
        await Bun.sleep(1);
      }
    })();
    expect(await child.exited).toBe(0);
    await reads;
    expect(failures).toBe(0);
    for (const count of seen) expect([3, 500000]).toContain(count);
    expect((db.query('SELECT COUNT(*) AS c FROM "user_ranking"').get() as { c: number }).c).toBe(500000);
    db.close();
  });
});

describe("a replaced database's side files", () => {
  it("removes the -wal and -shm recorded for the old file, and leaves ones made since alone", async () => {
    const { removeStaleSideFiles, sideFilesOf } = await import("../src/db/file-identity.ts");
    const { closeSync, openSync, unlinkSync, writeFileSync } = await import("node:fs");
    const path = join(dir, "side.db");
    writeFileSync(`${path}-wal`, "old log");
    writeFileSync(`${path}-shm`, "old index");
    const recorded = sideFilesOf(path);
    // The -shm was remade meanwhile (another database's) while the old one was still open, as the
    // server's connection holds it (so its inode is not reused): only the old -wal goes.
    const held = openSync(`${path}-shm`, "r");
    unlinkSync(`${path}-shm`);
    writeFileSync(`${path}-shm`, "new index");
    closeSync(held);
    expect(removeStaleSideFiles(path, recorded)).toEqual([`${path}-wal`]);
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(existsSync(`${path}-shm`)).toBe(true);
    expect(removeStaleSideFiles(path, { wal: null, shm: null })).toEqual([]);
  });
});
