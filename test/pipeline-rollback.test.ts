/**
 * `recsys pipeline --data-dir` stages the input tables while the ranking is still running on
 * workers, without holding the store's write lock (another writer must not wait for a whole
 * top-n); a ranking that fails after that must still leave the database exactly as it was. The
 * ranking here is a method registered by this test whose `rankAll` fails once the staging has
 * had its turn (the command runs in-process).
 */
import { afterAll, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "citty";
import { registerMethod } from "../src/methods/registry.ts";
import { similarity } from "../src/methods/similarity/index.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-rollback-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function writeData(dir: string, users: number) {
  mkdirSync(dir, { recursive: true });
  const interests = ["user_handle,interest_tag,date_followed"];
  for (let u = 1; u <= users; u++) interests.push(`${u},tag${u % 3},2017-06-01 10:00:00`);
  writeFileSync(join(dir, "user_interests.csv"), interests.join("\n") + "\n");
  writeFileSync(join(dir, "user_course_views.csv"), "user_handle,view_date,course_id,author_handle,level,view_time_seconds\n1,2017-06-03,py-101,7,Beginner,600\n");
  writeFileSync(join(dir, "user_assessment_scores.csv"), "user_handle,assessment_tag,user_assessment_date,user_assessment_score\n1,python,2017-07-01 09:00:00,150\n");
  writeFileSync(join(dir, "course_tags.csv"), "course_id,course_tags\npy-101,python\n");
}

const sha = (path: string) => new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");

/** The database the failing run writes to. */
let failFor: string | undefined;
/** What the ranking saw just before failing: could another connection take the write lock? */
let otherCouldWrite: boolean | undefined;
// Similarity's model, except that ranking every user fails after yielding.
const unregister = registerMethod({
  ...similarity,
  name: "failing",
  async fit(dataset, options, context) {
    const model = await similarity.fit(dataset, options, context);
    return Object.assign(Object.create(Object.getPrototypeOf(model)), model, {
      async rankAll() {
        // Yield, as the real ranking does while its workers run: the command stages the input
        // tables meanwhile. Then check that it does not hold the write lock.
        await new Promise((resolve) => setTimeout(resolve, 20));
        const other = new Database(failFor!);
        try {
          other.exec("PRAGMA busy_timeout = 0");
          other.exec("BEGIN IMMEDIATE");
          other.exec("ROLLBACK");
          otherCouldWrite = true;
        } catch (e) {
          if (/locked|busy/i.test((e as Error).message)) otherCouldWrite = false;
        } finally {
          other.close();
        }
        throw new Error("ranking failed after the input tables were staged");
      },
    });
  },
});
afterAll(() => unregister());
const { default: pipeline } = await import("../bin/commands/pipeline.ts");

describe("recsys pipeline --data-dir, when the ranking fails after the input tables are staged", () => {
  it("leaves the write lock free while ranking, and the database file byte-for-byte as it was", async () => {
    const db = join(work, "r.db");
    const before = join(work, "before");
    const after = join(work, "after");
    writeData(before, 4);
    writeData(after, 9);
    await runCommand(pipeline, { rawArgs: ["--data-dir", before, "--db", db, "--json"] });
    const original = sha(db);

    failFor = db;
    const error = await runCommand(pipeline, { rawArgs: ["--method", "failing", "--data-dir", after, "--db", db, "--json"] }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain("ranking failed after the input tables were staged");
    expect(otherCouldWrite).toBe(true);

    expect(sha(db)).toBe(original);
    const d = new Database(db, { readonly: true });
    try {
      expect(d.query("SELECT COUNT(*) FROM user_interests").values()).toEqual([[4]]);
      expect(d.query("SELECT COUNT(*) FROM recsys_runs").values()).toEqual([[1]]);
      expect(d.query("SELECT name FROM sqlite_master WHERE name LIKE '%recsys_next%'").values()).toEqual([]);
    } finally {
      d.close();
    }
  });
});
