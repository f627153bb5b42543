/**
 * Writing the SQLite store next to other writers and on a full or read-only file: the write lock
 * is waited for with a message and then refused in words (not "database is locked"), rankings of
 * input replaced meanwhile are not published, and failures about the file name the file.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, it } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StaleInputError, StoreBusyError, StoreWriteError } from "../src/db/errors.ts";
import { SqliteStore } from "../src/db/sqlite.ts";
import { beginWrite } from "../src/db/write.ts";
import { ingest } from "../src/ingest.ts";
import { registerMethod } from "../src/methods/registry.ts";
import { similarity } from "../src/methods/similarity/index.ts";
import { runPipeline } from "../src/pipeline.ts";
import { runCli } from "./fixtures/cli.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-store-write-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (what: string) => join(work, `${what}-${++counter}`);

/** A data directory of `users` users (distinct input for distinct `users`). */
function writeData(users: number): string {
  const dir = fresh("data");
  mkdirSync(dir);
  const interests = ["user_handle,interest_tag,date_followed"];
  // Every user shares "common", so every user has neighbours.
  for (let u = 1; u <= users; u++) interests.push(`${u},common,2017-06-01 10:00:00`, `${u},tag${u % 3},2017-06-01 10:00:00`);
  writeFileSync(join(dir, "user_interests.csv"), interests.join("\n") + "\n");
  writeFileSync(join(dir, "user_course_views.csv"), "user_handle,view_date,course_id,author_handle,level,view_time_seconds\n1,2017-06-03,py-101,7,Beginner,600\n");
  writeFileSync(join(dir, "user_assessment_scores.csv"), "user_handle,assessment_tag,user_assessment_date,user_assessment_score\n1,python,2017-07-01 09:00:00,150\n");
  writeFileSync(join(dir, "course_tags.csv"), "course_id,course_tags\npy-101,python\n");
  return dir;
}

const sha = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

/** Holds the write lock of `path` on another connection until the returned function is called. */
function holdWriteLock(path: string): () => void {
  const other = new Database(path);
  other.exec("BEGIN IMMEDIATE");
  return () => {
    other.exec("ROLLBACK");
    other.close();
  };
}

describe("waiting for another writer", () => {
  it("says once that it waits, then writes when the other run finishes", async () => {
    const db = fresh("db") + ".db";
    await ingest(writeData(3), db);
    const release = holdWriteLock(db);
    const told: string[] = [];
    setTimeout(release, 300);
    const t0 = performance.now();
    await ingest(writeData(5), db, { storeOptions: { lockWaitMs: 10_000, onLockWait: (m) => told.push(m) } });
    expect(performance.now() - t0).toBeGreaterThan(250);
    expect(told).toEqual([`another recsys run is writing ${db}; waiting up to 10 s for it to finish`]);
    const d = new Database(db, { readonly: true });
    expect(d.query("SELECT COUNT(DISTINCT user_handle) FROM user_interests").values()).toEqual([[5]]);
    d.close();
  });

  it("waits through SQLite's extended busy codes (a WAL being recovered) like a held lock", async () => {
    // SQLITE_BUSY_RECOVERY cannot be provoked on demand: a connection that answers it twice stands in.
    const codes = ["SQLITE_BUSY_RECOVERY", "SQLITE_BUSY", undefined];
    const seen: string[] = [];
    const db = {
      exec(sql: string) {
        if (sql !== "BEGIN IMMEDIATE") return;
        const code = codes.shift();
        seen.push(code ?? "begun");
        if (code) throw Object.assign(new Error("database is locked"), { code });
      },
    } as unknown as Database;
    const told: string[] = [];
    await beginWrite(db, "x.db", { waitMs: 5_000, onWait: (m) => told.push(m) });
    expect(seen).toEqual(["SQLITE_BUSY_RECOVERY", "SQLITE_BUSY", "begun"]);
    expect(told).toHaveLength(1);
    const broken = { exec: (sql: string) => { if (sql === "BEGIN IMMEDIATE") throw Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }); } } as unknown as Database;
    await expect(beginWrite(broken, "x.db")).rejects.toBeInstanceOf(StoreWriteError);
  });

  it("fails in words after the wait, leaving the database as it was", async () => {
    const db = fresh("db") + ".db";
    await ingest(writeData(3), db);
    const release = holdWriteLock(db);
    try {
      const store = SqliteStore.open(db, { lockWaitMs: 200 });
      const error = await ingest(writeData(5), store).catch((e) => e);
      store.close();
      expect(error).toBeInstanceOf(StoreBusyError);
      expect(error.message).toBe(`another recsys run is writing ${db}; try again when it finishes (waited 0.2 s)`);
    } finally {
      release();
    }
    const d = new Database(db, { readonly: true });
    expect(d.query("SELECT COUNT(DISTINCT user_handle) FROM user_interests").values()).toEqual([[3]]);
    d.close();
  });

  it("the CLI prints the wait and the refusal, exit 1, never SQLite's 'database is locked'", async () => {
    const db = fresh("db") + ".db";
    await ingest(writeData(3), db);
    const release = holdWriteLock(db);
    try {
      for (const args of [
        ["ingest", "--data-dir", writeData(4), "--db", db, "--wait", "0.3"],
        ["pipeline", "--db", db, "--wait", "0.3"],
        ["pipeline", "--data-dir", writeData(4), "--db", db, "--wait", "0.3"],
      ]) {
        const r = runCli(args);
        expect(r.code).toBe(1);
        expect(r.err).toContain(`another recsys run is writing ${db}; waiting up to 0.3 s for it to finish`);
        expect(r.err).toContain(`another recsys run is writing ${db}; try again when it finishes`);
        expect(r.err).not.toContain("database is locked");
      }
    } finally {
      release();
    }
  });

  it("--wait is checked like every number flag", () => {
    const r = runCli(["ingest", "--data-dir", work, "--db", fresh("db"), "--wait", "1e9"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--wait must be a number in [0, 3600]");
  });
});

describe("rankings of input replaced while ranking", () => {
  /** Set by the test: what the method's ranking does before it answers. */
  let meanwhile: () => Promise<void> = async () => {};
  const unregister = registerMethod({
    ...similarity,
    name: "slow-similarity",
    async fit(dataset, options, context) {
      const model = await similarity.fit(dataset, options, context);
      const rankAll = model.rankAll.bind(model);
      return Object.assign(Object.create(Object.getPrototypeOf(model)), model, {
        async rankAll(o: Parameters<typeof rankAll>[0]) {
          const r = await rankAll(o);
          await meanwhile();
          return r;
        },
      });
    },
  });
  afterAll(() => unregister());

  it("are not published: the pipeline fails naming both ingests, and nothing changes", async () => {
    const db = fresh("db") + ".db";
    await runPipeline({ input: { dataDir: writeData(3) }, store: db, method: "similarity" });
    const newer = writeData(7);
    meanwhile = async () => {
      await ingest(newer, db);
    };
    const error = await runPipeline({ input: "store", store: db, method: "slow-similarity" }).catch((e) => e);
    expect(error).toBeInstanceOf(StaleInputError);
    expect(error.message).toBe(
      `the input tables of ${db} were replaced (now ingest 2) while this run ranked ingest 1; nothing was stored: run the pipeline again to rank the new input`,
    );
    const d = new Database(db, { readonly: true });
    expect(d.query("SELECT COUNT(*) FROM recsys_runs").values()).toEqual([[1]]);
    expect(d.query("SELECT COUNT(DISTINCT user_handle) FROM user_ranking").values()).toEqual([[3]]);
    expect(d.query("SELECT COUNT(DISTINCT user_handle) FROM user_interests").values()).toEqual([[7]]);
    d.close();
    // Run again, it ranks the new input.
    meanwhile = async () => {};
    const again = await runPipeline({ input: "store", store: db, method: "slow-similarity" });
    expect(again.run.users_ranked).toBe(7);
  });

  it("are published when nothing was ingested meanwhile (a write of another table does not count)", async () => {
    const db = fresh("db") + ".db";
    await runPipeline({ input: { dataDir: writeData(3) }, store: db, method: "similarity" });
    meanwhile = async () => {
      await runPipeline({ input: "store", store: db, method: "similarity", table: "other_ranking" });
    };
    const r = await runPipeline({ input: "store", store: db, method: "slow-similarity" });
    expect(r.run.users_ranked).toBe(3);
    meanwhile = async () => {};
  });
});

describe("failures about the file name it", () => {
  it("a full disk: 'cannot write FILE: database or disk is full', nothing changed", async () => {
    const db = fresh("db") + ".db";
    await ingest(writeData(3), db);
    const before = sha(db);
    const store = SqliteStore.open(db);
    // SQLite's own cap on the file's pages is the disk filling up, as SQLite reports it.
    const pages = (store.db.query("PRAGMA page_count").values() as number[][])[0][0];
    store.db.exec(`PRAGMA max_page_count = ${pages + 1}`);
    const error = await ingest(writeData(2000), store).catch((e) => e);
    store.close();
    expect(error).toBeInstanceOf(StoreWriteError);
    expect(error.message).toBe(`cannot write ${db}: database or disk is full`);
    expect(sha(db)).toBe(before);
  });

  it("a read-only database: 'cannot write FILE: attempt to write a readonly database'", async () => {
    const db = fresh("db") + ".db";
    await ingest(writeData(3), db);
    const store = SqliteStore.open(db);
    store.db.exec("PRAGMA query_only = ON");
    const error = await runPipeline({ input: "store", store, method: "similarity" }).catch((e) => e);
    store.close();
    expect(error).toBeInstanceOf(StoreWriteError);
    expect(error.message).toBe(`cannot write ${db}: attempt to write a readonly database`);
  });
});
