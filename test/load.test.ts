import type { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dataset, type InputColumns } from "../src/dataset.ts";
import { loadInput } from "../src/db/load.ts";
import { openDatabase } from "../src/db/open.ts";
import { generate } from "../src/generate/index.ts";
import { ingest } from "../src/ingest.ts";

const scratch = mkdtempSync(join(tmpdir(), "recsys-load-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const stored = join(scratch, "store.db");
let copies = 0;

beforeAll(async () => {
  const dir = join(scratch, "data");
  await generate({ users: 300, seed: 5, outDir: dir });
  await ingest(dir, stored);
});

/** A fresh copy of the generated store, changed by `sql` (empty tables, rowid gaps). */
function storeWith(sql: string): Database {
  const path = join(scratch, `copy-${++copies}.db`);
  const src = openDatabase(stored, { readonly: true });
  src.exec(`VACUUM INTO '${path}'`);
  src.close();
  const db = openDatabase(path);
  db.exec(sql);
  return db;
}

/** The oracle: every row at once in rowid order, as plain strings and numbers, through fromColumns. */
function definitional(db: Database): Dataset {
  const rows = (sql: string) => db.query(sql).values() as (string | number)[][];
  const str = (r: (string | number)[][], j: number) => r.map((x) => String(x[j]));
  const num = (r: (string | number)[][], j: number) => Float64Array.from(r, (x) => Number(x[j]));
  const ui = rows("SELECT user_handle, interest_tag FROM user_interests ORDER BY rowid");
  const ua = rows("SELECT user_handle, assessment_tag, user_assessment_score FROM user_assessment_scores ORDER BY rowid");
  const uv = rows("SELECT user_handle, course_id, level, view_time_seconds FROM user_course_views ORDER BY rowid");
  const ct = rows("SELECT course_id, course_tags FROM course_tags ORDER BY rowid");
  const columns: InputColumns = {
    user_interests: { user_handle: str(ui, 0), interest_tag: str(ui, 1) },
    user_assessment_scores: { user_handle: str(ua, 0), assessment_tag: str(ua, 1), user_assessment_score: num(ua, 2) },
    user_course_views: { user_handle: str(uv, 0), course_id: str(uv, 1), level: str(uv, 2), view_time_seconds: num(uv, 3) },
    course_tags: { course_id: str(ct, 0), course_tags: str(ct, 1) },
  };
  return Dataset.fromColumns(columns);
}

function expectSame(actual: Dataset, expected: Dataset): void {
  for (const key of ["users", "interests", "courses", "assessments", "tags", "levels"] as const) expect(actual[key]).toEqual(expected[key]);
  for (const key of ["interestRows", "assessmentRows", "viewRows", "courseTagRows"] as const) expect(actual[key]).toEqual(expected[key]);
}

function count(db: Database, table: string): number {
  return (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

describe("loadInput", () => {
  it("gives the Dataset of the plain rows, for chunk sizes that split the tables anywhere", () => {
    const db = openDatabase(stored, { readonly: true });
    try {
      const expected = definitional(db);
      expect(expected.users.length).toBeGreaterThan(250);
      expect(expected.viewRows.user.length).toBeGreaterThan(1000);
      const courseTags = count(db, "course_tags");
      // 1 and 7: many boundaries; the table's own size: a full last chunk, then an empty one.
      for (const chunk of [1, 7, 4096, courseTags, courseTags - 1, 1 << 20]) {
        const { columns, ingest } = loadInput(db, chunk);
        expect(ingest).toBe(1);
        expectSame(Dataset.fromEncoded(columns), expected);
      }
    } finally {
      db.close();
    }
  });

  it("reads empty tables and tables with rowid gaps", () => {
    const db = storeWith("DELETE FROM course_tags; DELETE FROM user_assessment_scores; DELETE FROM user_course_views WHERE rowid % 3 = 0 OR rowid < 50");
    try {
      expect(count(db, "course_tags")).toBe(0);
      const expected = definitional(db);
      for (const chunk of [1, 5, 1 << 20]) {
        const { columns } = loadInput(db, chunk);
        expect(columns.course_tags.course_id.codes).toHaveLength(0);
        expect(columns.user_assessment_scores.user_assessment_score).toHaveLength(0);
        expect(columns.user_course_views.course_id.codes).toHaveLength(count(db, "user_course_views"));
        expectSame(Dataset.fromEncoded(columns), expected);
      }
    } finally {
      db.close();
    }
  });

  it("keeps rows in rowid order when rowids are not insertion order", () => {
    // A row moved to the front by its rowid (negative rowids are allowed).
    const db = storeWith("UPDATE user_interests SET rowid = -5 WHERE rowid = (SELECT max(rowid) FROM user_interests)");
    try {
      const expected = definitional(db);
      const { columns } = loadInput(db, 3);
      expectSame(Dataset.fromEncoded(columns), expected);
      const first = db.query("SELECT user_handle FROM user_interests ORDER BY rowid LIMIT 1").values()[0][0];
      expect(columns.user_interests.user_handle.dict[columns.user_interests.user_handle.codes[0]]).toBe(String(first));
    } finally {
      db.close();
    }
  });

  it("rejects a chunk size that is not a positive integer", () => {
    const db = openDatabase(stored, { readonly: true });
    try {
      expect(() => loadInput(db, 0)).toThrow(RangeError);
    } finally {
      db.close();
    }
  });
});
