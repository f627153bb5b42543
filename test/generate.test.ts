import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ASSESSMENT_TAGS, INTEREST_TAGS } from "../src/generate/data.ts";
import * as data from "../src/generate/data.ts";
import { DERIVED_CONSTANTS, deriveGeneratorData, nearestQuantiles, type GeneratorData } from "../tools/derive.ts";
import { generate, HEADERS, readCourseTags, type GenerateSummary } from "../src/generate/index.ts";
import { measure, type GeneratedStats } from "../src/generate/stats.ts";
import { SYNONYM_BUNDLES } from "../src/generate/vocabulary.ts";
import { runCli } from "./fixtures/cli.ts";

const REAL = join(import.meta.dir, "../../shared/data/pluralsight");
const FILES = ["user_interests.csv", "user_course_views.csv", "user_assessment_scores.csv", "course_tags.csv", "taste_groups.csv"];

const dir = mkdtempSync(join(tmpdir(), "recsys-generate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (d: string, f: string) => readFileSync(join(d, f), "utf8");
const sha = (d: string, f: string) => createHash("sha256").update(readFileSync(join(d, f))).digest("hex");
/**
 * The items failing `ok`: how many, and the first few. A check over every row is then one
 * `expect(…).toEqual(NONE)` instead of an expect() call per row.
 */
function violations<T>(items: Iterable<T>, ok: (item: T) => boolean, keep = 5): { count: number; first: T[] } {
  const first: T[] = [];
  let count = 0;
  for (const item of items) {
    if (ok(item)) continue;
    if (count++ < keep) first.push(item);
  }
  return { count, first };
}
const NONE = { count: 0, first: [] };
const within = (actual: number, expected: number, rel: number) => {
  expect(actual).toBeGreaterThanOrEqual(expected * (1 - rel));
  expect(actual).toBeLessThanOrEqual(expected * (1 + rel));
};

/** 10,000 users (the data card's scale), generated once. */
const big = join(dir, "10k");
let summary: GenerateSummary;
let stats: GeneratedStats;
let groups: Map<string, string[]>;

beforeAll(async () => {
  summary = await generate({ users: 10_000, seed: 42, outDir: big });
  stats = measure({
    interests: read(big, "user_interests.csv"),
    views: read(big, "user_course_views.csv"),
    assessments: read(big, "user_assessment_scores.csv"),
    courseTags: read(big, "course_tags.csv"),
  });
  groups = new Map(
    read(big, "taste_groups.csv")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => {
        const [u, g] = l.split(",");
        return [u, g.slice(1, -1).split(";")];
      }),
  );
}, 120_000);

describe("generate: reproducibility", () => {
  it("writes byte-identical files for the same seed, and different ones for another seed", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    const c = join(dir, "c");
    await generate({ users: 1500, seed: 7, outDir: a });
    await generate({ users: 1500, seed: 7, outDir: b });
    await generate({ users: 1500, seed: 8, outDir: c });
    for (const f of FILES) expect(sha(b, f)).toBe(sha(a, f));
    for (const f of ["user_interests.csv", "user_course_views.csv", "user_assessment_scores.csv", "taste_groups.csv"]) {
      expect(sha(c, f)).not.toBe(sha(a, f));
    }
  }, 60_000);

  it("overwrites a previous, larger output completely", async () => {
    const d = join(dir, "shrink");
    await generate({ users: 300, seed: 1, outDir: d });
    const small = await generate({ users: 20, seed: 1, outDir: d });
    const lines = read(d, "user_interests.csv").trim().split("\n").length - 1;
    expect(lines).toBe(small.rows.user_interests);
    expect(new Set(read(d, "taste_groups.csv").trim().split("\n").slice(1).map((l) => l.split(",")[0])).size).toBe(20);
  });

  it("rejects a non-positive user count", async () => {
    await expect(generate({ users: 0, outDir: join(dir, "zero") })).rejects.toThrow(/users must be a positive integer/);
  });
});

describe("generate: schema and value formats (the real files' style)", () => {
  const patterns: Record<string, RegExp> = {
    "user_interests.csv": /^\d+,"[^",]+","2017-\d\d-\d\d \d\d:\d\d:\d\d"$/,
    "user_course_views.csv": /^\d+,"2017-\d\d-\d\d","[a-z0-9-]+",\d+,"(Beginner|Intermediate|Advanced)",\d+$/,
    "user_assessment_scores.csv": /^\d+,"[a-z0-9-]+","20\d\d-\d\d-\d\d \d\d:\d\d:\d\d",\d+$/,
    "course_tags.csv": /^"[a-z0-9-]+","[^",]*"$/,
    "taste_groups.csv": /^\d+,"[a-z0-9-]+(;[a-z0-9-]+){0,2}"$/,
  };

  it("writes quoted headers in the real column order, LF line endings, a final newline", () => {
    const names: Record<string, readonly string[]> = {
      "user_interests.csv": HEADERS.user_interests,
      "user_course_views.csv": HEADERS.user_course_views,
      "user_assessment_scores.csv": HEADERS.user_assessment_scores,
      "course_tags.csv": HEADERS.course_tags,
      "taste_groups.csv": HEADERS.taste_groups,
    };
    expect(names["user_course_views.csv"]).toEqual(["user_handle", "view_date", "course_id", "author_handle", "level", "view_time_seconds"]);
    expect(names["user_interests.csv"]).toEqual(["user_handle", "interest_tag", "date_followed"]);
    for (const f of FILES) {
      const text = read(big, f);
      expect(text.includes("\r")).toBe(false);
      expect(text.endsWith("\n")).toBe(true);
      expect(text.slice(0, text.indexOf("\n"))).toBe(names[f].map((h) => `"${h}"`).join(","));
    }
  });

  const haveReal = existsSync(REAL);
  if (!haveReal) console.warn(`SKIPPED: header lines against the real files (no ${REAL})`);
  it.skipIf(!haveReal)("matches the header lines of the real files when ../shared is present", () => {
    for (const f of ["user_assessment_scores.csv", "course_tags.csv"]) {
      const real = readFileSync(join(REAL, f), "utf8");
      expect(read(big, f).slice(0, read(big, f).indexOf("\n"))).toBe(real.slice(0, real.indexOf("\n")));
    }
  });

  it("quotes strings and leaves integers bare on every row", () => {
    for (const f of FILES) {
      const lines = read(big, f).trim().split("\n").slice(1);
      const bad = lines.filter((l) => !patterns[f].test(l));
      expect(bad.slice(0, 3)).toEqual([]);
    }
  });

  it("sorts interests and views by user, then date; users are 1..N", () => {
    for (const [f, dateCol] of [
      ["user_interests.csv", 2],
      ["user_course_views.csv", 1],
    ] as const) {
      let prevUser = 0;
      let prevDate = "";
      const unordered: string[] = [];
      for (const l of read(big, f).trim().split("\n").slice(1)) {
        const cols = l.split(",");
        const u = Number(cols[0]);
        const date = cols[dateCol];
        if (u < prevUser || (u === prevUser && date < prevDate)) unordered.push(l);
        prevUser = u;
        prevDate = date;
      }
      expect(unordered.slice(0, 3)).toEqual([]);
    }
    expect(stats.interests.users).toBe(10_000);
    expect(groups.size).toBe(10_000);
    expect(groups.has("1") && groups.has("10000") && groups.has("110")).toBe(true);
  });

  it("reports the rows it wrote", () => {
    expect(summary.rows.user_interests).toBe(stats.interests.rows);
    expect(summary.rows.user_course_views).toBe(stats.views.rows);
    expect(summary.rows.user_assessment_scores).toBe(stats.assessments.rows);
    expect(summary.rows.taste_groups).toBe(10_000);
  });
});

describe("generate: user_interests statistics at 10k users (DATA_CARD §2)", () => {
  it("rows: 297,526 ± 8%; per user mean 29.75 ± 10%, median 13 ± 3, p25 6 ± 2, p90 64 ± 15%, max ≥ 500", () => {
    within(stats.interests.rows, 297_526, 0.08);
    within(stats.interests.perUser.mean, 29.75, 0.1);
    expect(Math.abs(stats.interests.perUser.median - 13)).toBeLessThanOrEqual(3);
    expect(Math.abs(stats.interests.perUser.p25 - 6)).toBeLessThanOrEqual(2);
    within(stats.interests.perUser.p90, 64, 0.15);
    expect(stats.interests.perUser.max).toBeGreaterThanOrEqual(500);
  });

  it("users with exactly one row: 1,050 ± 20%", () => within(stats.interests.singleRowUsers, 1050, 0.2));

  it("follow events: 12,881 ± 10%; 81.8% ± 5 pts of users follow once; median rows per event 12 ± 3", () => {
    within(stats.interests.events, 12_881, 0.1);
    expect(Math.abs(stats.interests.singleEventUserShare - 0.818)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(stats.interests.rowsPerEventMedian - 12)).toBeLessThanOrEqual(3);
  });

  it("re-follows and duplicates: exact duplicate rows 18,209 ± 25%; distinct (user, tag) pairs within [185k, 235k] (real: 201,001 … 215,654)", () => {
    within(stats.interests.exactDuplicateRows, 18_209, 0.25);
    expect(stats.interests.distinctPairs).toBeGreaterThanOrEqual(185_000);
    expect(stats.interests.distinctPairs).toBeLessThanOrEqual(235_000);
  });

  it("uses the 748 real tags with their popularity skew (Spearman ≥ 0.95 against the real counts; top-10 tags all in the real top 25)", () => {
    const real = INTEREST_TAGS.split("\n").map((l) => l.split(" ")[0]);
    expect(stats.interests.distinctTags).toBeGreaterThanOrEqual(740);
    expect(violations(stats.interests.tagRows.keys(), (t) => real.includes(t))).toEqual(NONE);
    const rank = (xs: number[]) => {
      const idx = xs.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
      const r = new Array<number>(xs.length);
      idx.forEach(([, i], k) => (r[i] = k));
      return r;
    };
    const counts = INTEREST_TAGS.split("\n").map((l) => Number(l.split(" ")[1]));
    const a = rank(counts);
    const b = rank(real.map((t) => stats.interests.tagRows.get(t) ?? 0));
    const n = a.length;
    let d2 = 0;
    for (let i = 0; i < n; i++) d2 += (a[i] - b[i]) ** 2;
    expect(1 - (6 * d2) / (n * (n * n - 1))).toBeGreaterThanOrEqual(0.95);
    const top = [...stats.interests.tagRows].sort((x, y) => y[1] - x[1]).slice(0, 10).map(([t]) => t);
    for (const t of top) expect(real.slice(0, 25)).toContain(t);
  });

  it("follows synonym bundles together: members have identical row counts", () => {
    for (const bundle of SYNONYM_BUNDLES) {
      const c = bundle.map((t) => stats.interests.tagRows.get(t) ?? 0);
      expect(new Set(c).size).toBe(1);
    }
  });

  it("dates: within 2017-05-03 12:08:33 … 2017-11-28 10:02:06, July 35.6% ± 5 pts of rows", () => {
    expect(stats.interests.firstDate >= "2017-05-03 12:08:33").toBe(true);
    expect(stats.interests.lastDate <= "2017-11-28 10:02:06").toBe(true);
    expect(Math.abs(stats.interests.julyShare - 0.356)).toBeLessThanOrEqual(0.05);
  });
});

describe("generate: user_course_views statistics at 10k users (DATA_CARD §3)", () => {
  it("viewers: 8,760 ± 3% of 10,000 users; rows 249,238 ± 8%; no exact duplicate rows; (user, course, day) unique", () => {
    within(stats.views.users, 8760, 0.03);
    within(stats.views.rows, 249_238, 0.08);
    expect(stats.views.duplicateRows).toBe(0);
    expect(stats.views.repeatedUserCourseDay).toBe(0);
  });

  it("pairs: 105,353 ± 10% distinct (user, course) pairs with 2.366 ± 0.1 rows each", () => {
    within(stats.views.pairs, 105_353, 0.1);
    expect(Math.abs(stats.views.rowsPerPair - 2.366)).toBeLessThanOrEqual(0.1);
  });

  it("courses per viewer: median 5 ± 1, mean 12.03 ± 15%, p90 28 ± 20%, 1,468 ± 20% single-course users", () => {
    expect(Math.abs(stats.views.coursesPerUser.median - 5)).toBeLessThanOrEqual(1);
    within(stats.views.coursesPerUser.mean, 12.03, 0.15);
    within(stats.views.coursesPerUser.p90, 28, 0.2);
    within(stats.views.singleCourseUsers, 1468, 0.2);
  });

  it("viewers per course: median 7 ± 2, mean 17.73 ± 15%, max ≥ 300; all 5,942 courses viewed", () => {
    expect(Math.abs(stats.views.viewersPerCourse.median - 7)).toBeLessThanOrEqual(2);
    within(stats.views.viewersPerCourse.mean, 17.73, 0.15);
    expect(stats.views.viewersPerCourse.max).toBeGreaterThanOrEqual(300);
    expect(stats.views.distinctCourses).toBe(5942);
  });

  it("levels by row: Beginner 46.6%, Intermediate 47.9%, Advanced 5.5% (± 3 pts each); level is a course attribute", () => {
    expect(Math.abs(stats.views.levelShare.Beginner - 0.466)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(stats.views.levelShare.Intermediate - 0.479)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(stats.views.levelShare.Advanced - 0.055)).toBeLessThanOrEqual(0.03);
    const levelOf = new Map<string, string>();
    const authorOf = new Map<string, string>();
    // Each row against the previous row of its course (rows are read in file order).
    const rows = read(big, "user_course_views.csv").trim().split("\n").slice(1);
    const sameLevel = violations(rows, (l) => {
      const [, , course, , level] = l.split(",");
      const ok = (levelOf.get(course) ?? level) === level;
      levelOf.set(course, level);
      return ok;
    });
    const sameAuthor = violations(rows, (l) => {
      const [, , course, author] = l.split(",");
      const ok = (authorOf.get(course) ?? author) === author;
      authorOf.set(course, author);
      return ok;
    });
    expect(sameLevel).toEqual(NONE);
    expect(sameAuthor).toEqual(NONE);
  }, 30_000);

  it("authors: 1,412 ± 2%, skewed (top author 2%–8% of rows)", () => {
    within(stats.views.authors, 1412, 0.02);
    expect(stats.views.topAuthorShare).toBeGreaterThanOrEqual(0.02);
    expect(stats.views.topAuthorShare).toBeLessThanOrEqual(0.08);
  });

  it("view seconds: mean 1,788 ± 5%, std 2,208 ± 10%, zero-time pairs ≥ 10, max in (20,000, 44,410]", () => {
    within(stats.views.seconds.mean, 1787.7, 0.05);
    within(stats.views.seconds.std, 2208.4, 0.1);
    expect(stats.views.seconds.zeroPairs).toBeGreaterThanOrEqual(10);
    expect(stats.views.seconds.max).toBeGreaterThan(20_000);
    expect(stats.views.seconds.max).toBeLessThanOrEqual(44_410);
  });

  it("view dates: all 212 days 2017-05-01 … 2017-11-28", () => {
    expect(stats.views.firstDay).toBe("2017-05-01");
    expect(stats.views.lastDay).toBe("2017-11-28");
    expect(stats.views.distinctDays).toBe(212);
  });
});

describe("generate: assessments and courses at 10k users", () => {
  it("assessed users: 3,114 ± 8%, of whom 2,909 ± 8% also view; 6,571 ± 10% rows over ≥ 50 of the 54 real tags", () => {
    within(stats.assessments.users, 3114, 0.08);
    within(stats.assessments.usersWithViews, 2909, 0.08);
    within(stats.assessments.rows, 6571, 0.1);
    // The rarest real tags have 1–3 takers in 10,000 users; a sample may miss one.
    expect(stats.assessments.tags).toBeGreaterThanOrEqual(50);
    const real = new Set(ASSESSMENT_TAGS.map((a) => a[0]));
    const rows = read(big, "user_assessment_scores.csv").trim().split("\n").slice(1);
    expect(violations(rows, (l) => real.has(l.split(",")[1].slice(1, -1)))).toEqual(NONE);
  });

  it("scores: mean 142.5 ± 5, std 55.6 ± 5 (the real per-tag distributions); dates within the real range", () => {
    expect(Math.abs(stats.assessments.scoreMean - 142.5)).toBeLessThanOrEqual(5);
    expect(Math.abs(stats.assessments.scoreStd - 55.6)).toBeLessThanOrEqual(5);
    expect(stats.assessments.firstDate >= "2016-07-13 15:30:44").toBe(true);
    expect(stats.assessments.lastDate <= "2017-11-28 19:34:32").toBe(true);
  });

  it("invented catalogue: 5,942 courses, 112 ± 40 untagged, 11,337 ± 10% tag rows", () => {
    expect(stats.courseTags.courses).toBe(5942);
    expect(Math.abs(stats.courseTags.untagged - 112)).toBeLessThanOrEqual(40);
    within(stats.courseTags.rows, 11_337, 0.1);
  });
});

describe("generate: coherent tastes", () => {
  /** Each user's distinct interest tags and viewed courses, as one item set. */
  function itemSets(): Map<string, Set<string>> {
    const sets = new Map<string, Set<string>>();
    const add = (u: string, item: string) => {
      let s = sets.get(u);
      if (!s) sets.set(u, (s = new Set()));
      s.add(item);
    };
    for (const l of read(big, "user_interests.csv").trim().split("\n").slice(1)) {
      const [u, t] = l.split(",");
      add(u, t);
    }
    for (const l of read(big, "user_course_views.csv").trim().split("\n").slice(1)) {
      const [u, , c] = l.split(",");
      add(u, c);
    }
    return sets;
  }

  const share = (a: string[], b: string[]) => a.some((g) => b.includes(g));

  it("users of a common taste group share ≥ 2× more items (mean Jaccard) than users with none in common", () => {
    const sets = itemSets();
    const users = [...sets.keys()];
    let same = 0;
    let sameN = 0;
    let diff = 0;
    let diffN = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = users[(i * 7919) % users.length];
      const b = users[(i * 104_729 + 13) % users.length];
      if (a === b) continue;
      const sa = sets.get(a)!;
      const sb = sets.get(b)!;
      let inter = 0;
      for (const x of sa) if (sb.has(x)) inter++;
      const j = inter / (sa.size + sb.size - inter);
      if (share(groups.get(a)!, groups.get(b)!)) {
        same += j;
        sameN++;
      } else {
        diff += j;
        diffN++;
      }
    }
    expect(same / sameN).toBeGreaterThanOrEqual(2 * (diff / diffN));
  }, 60_000);

  it("a user's nearest neighbour (cosine over tags and courses) shares a taste group ≥ 60% of the time and ≥ 3× as often as a random user", () => {
    const sets = itemSets();
    const users = [...sets.keys()];
    const ids = new Map<string, number>();
    const postings: number[][] = [];
    const userItems = users.map((u, ui) =>
      Array.from(sets.get(u)!, (x) => {
        let id = ids.get(x);
        if (id === undefined) {
          ids.set(x, (id = postings.length));
          postings.push([]);
        }
        postings[id].push(ui);
        return id;
      }),
    );
    const overlap = new Int32Array(users.length);
    let nnShare = 0;
    let randShare = 0;
    const probes = 300;
    for (let p = 0; p < probes; p++) {
      const ui = (p * 7919 + 11) % users.length;
      overlap.fill(0);
      for (const x of userItems[ui]) for (const v of postings[x]) overlap[v]++;
      overlap[ui] = 0;
      let best = -1;
      let bestScore = 0;
      for (let v = 0; v < users.length; v++) {
        if (overlap[v] === 0) continue;
        const s = overlap[v] / Math.sqrt(userItems[ui].length * userItems[v].length);
        if (s > bestScore) {
          bestScore = s;
          best = v;
        }
      }
      const mine = groups.get(users[ui])!;
      if (best >= 0 && share(mine, groups.get(users[best])!)) nnShare++;
      if (share(mine, groups.get(users[(p * 104_729 + 5) % users.length])!)) randShare++;
    }
    expect(nnShare / probes).toBeGreaterThanOrEqual(0.6);
    expect(nnShare / probes).toBeGreaterThanOrEqual(3 * (randShare / probes));
  }, 60_000);
});

describe("generate: real course catalogue (--course-tags)", () => {
  const file = join(REAL, "course_tags.csv");
  const haveFile = existsSync(file);
  if (!haveFile) console.warn(`SKIPPED: generating over the real catalogue (no ${file})`);
  it.skipIf(!haveFile)("views only real course ids and writes the real catalogue back (needs ../shared)", async () => {
    const out = join(dir, "real");
    const s = await generate({ users: 1000, seed: 3, outDir: out, courseTagsFile: file });
    const realIds = new Set(
      readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(",")[0]),
    );
    expect(s.courses).toBe(5942);
    const viewed = new Set(
      read(out, "user_course_views.csv")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => `"${l.split(",")[2].slice(1, -1)}"`),
    );
    expect(viewed.size).toBeGreaterThan(1000);
    expect(violations(viewed, (c) => realIds.has(c))).toEqual(NONE);
    const written = new Set(read(out, "course_tags.csv").trim().split("\n").slice(1).map((l) => l.split(",")[0]));
    expect(written).toEqual(realIds);
  }, 60_000);
});

describe("generate --course-tags: checked by ingest's reader", () => {
  // Each bad course_tags.csv must be refused by `generate` exactly as `ingest` refuses it (the
  // oracle): exit 2 and the same message, naming the file as given, the line and the column.
  const bad: [string, Uint8Array | string, RegExp][] = [
    ["missing column", "course_id,tags\na,b\n", /line 1, column course_tags: expected a column named "course_tags"/],
    ["empty course id", "course_id,course_tags\na,b\n  ,c\n", /line 3, column course_id: expected a non-empty course id, got "  "/],
    ["invalid UTF-8", Buffer.concat([Buffer.from("course_id,course_tags\na,caf"), Buffer.from([0xe9]), Buffer.from("\n")]), /line 2, column course_tags: expected UTF-8 text/],
    ["ragged row", "course_id,course_tags\na,b\nc,d,e\n", /line 3, column #3 \(beyond the header\): expected 2 fields/],
    ["empty file", "", /line 1: expected a header line/],
  ];
  let good: string;
  beforeAll(async () => {
    good = join(dir, "tags-good");
    await generate({ users: 20, seed: 1, outDir: good });
  });
  for (const [what, content, message] of bad) {
    it(`${what}: exit 2, the message ingest gives, naming the file and line`, () => {
      const file = join(dir, `tags-${what.replace(/ /g, "-")}.csv`);
      writeFileSync(file, content);
      const out = join(dir, `tags-out-${what.replace(/ /g, "-")}`);
      const gen = runCli(["generate", "--users", "5", "--out", out, "--course-tags", file]);
      expect(gen.code).toBe(2);
      expect(gen.err).toMatch(message);
      expect(existsSync(out)).toBe(false);
      const data = join(dir, `tags-ingest-${what.replace(/ /g, "-")}`);
      mkdirSync(data);
      for (const f of ["user_interests.csv", "user_course_views.csv", "user_assessment_scores.csv"]) copyFileSync(join(good, f), join(data, f));
      copyFileSync(file, join(data, "course_tags.csv"));
      const ing = runCli(["ingest", "--data-dir", data, "--db", join(dir, `tags-${what.replace(/ /g, "-")}.db`)]);
      expect(ing.code).toBe(2);
      const line = (text: string) => text.split("\n").find((l) => message.test(l))?.replace(/^.*ERROR\s+/, "");
      expect(line(gen.err)).toBe(line(ing.err)!.replace("course_tags.csv", file));
    });
  }

  it("a good file: ids in first-appearance order, tags normalized as ingest stores them, untagged courses kept", async () => {
    const file = join(dir, "tags-ok.csv");
    writeFileSync(file, '\ufeffcourse_tags,course_id,extra\n" Cloud ",b,x\ncloud,b,y\n,a,z\nGo,c,\nrust,b,\n');
    expect(await readCourseTags(file)).toEqual({ ids: ["b", "a", "c"], tags: [["cloud", "rust"], [], ["go"]] });
    const out = join(dir, "tags-ok-out");
    const r = runCli(["generate", "--users", "30", "--out", out, "--course-tags", file, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).courses).toBe(3);
  });

  it("a header-only file: no course to generate against, named", async () => {
    const file = join(dir, "tags-header.csv");
    writeFileSync(file, "course_id,course_tags\n");
    await expect(readCourseTags(file)).rejects.toThrow(`${file}: expected at least one course row, got none`);
  });

  const real = join(REAL, "course_tags.csv");
  it.skipIf(!existsSync(real))("the real course_tags.csv passes, with all 5,942 courses (needs ../shared/data/pluralsight)", async () => {
    const rows = await readCourseTags(real);
    expect(rows.ids.length).toBe(5942);
    expect(rows.tags.filter((t) => t.length === 0).length).toBe(112);
  });
});

describe("recsys generate (CLI)", () => {
  const cli = (...args: string[]) => runCli(["generate", ...args]);

  it("writes the five files and prints a JSON summary", () => {
    const out = join(dir, "cli");
    const r = cli("--users", "40", "--out", out, "--seed", "5", "--json");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.users).toBe(40);
    expect(json.seed).toBe(5);
    for (const f of FILES) expect(existsSync(join(out, f))).toBe(true);
  });

  it("fails with exit code 2 and names the flag on a bad --users", () => {
    const r = cli("--users", "abc", "--out", join(dir, "bad"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("--users");
  });

  it("lists its flags with --help", () => {
    const r = cli("--help");
    expect(r.code).toBe(0);
    const text = r.out + r.err;
    for (const flag of ["--users", "--out", "--seed", "--course-tags"]) expect(text).toContain(flag);
  });
});

describe("generate: data.ts constants recomputed from the real files (derive.ts)", () => {
  const haveShared = existsSync(join(REAL, "evidence"));
  if (!haveShared) console.warn(`SKIPPED: checking data.ts against the real files (no ${REAL})`);
  let derived: GeneratorData;
  beforeAll(() => {
    if (haveShared) derived = deriveGeneratorData(REAL);
  });

  it("covers every constant data.ts exports (each is a statistic of the real files)", () => {
    const names: string[] = [...DERIVED_CONSTANTS];
    expect(names.sort()).toEqual(Object.keys(data).sort());
  });

  it("takes quantiles as numpy's method=\"nearest\": index (n-1)k/K rounded, ties to even", () => {
    // n = 5, K = 8: indices 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4.
    expect(nearestQuantiles([10, 20, 30, 40, 50], 8)).toEqual([10, 10, 20, 30, 30, 30, 40, 50, 50]);
  });

  for (const name of DERIVED_CONSTANTS) {
    it.skipIf(!haveShared)(`${name} equals its recomputation from ../shared/data/pluralsight`, () => {
      expect(derived[name]).toEqual(data[name]);
    });
  }
});
