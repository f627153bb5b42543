/**
 * `generate` speed, and how close the generated data is to the data card.
 *   bun bench/generate.ts                       # 10k users, median of 3, plus the statistics table
 *   bun bench/generate.ts --users 100000 --runs 1 --no-stats
 * Baseline in the same run: writing the same bytes with Bun.write (pure I/O), so a noisy machine
 * shows up in both figures. Target: 10k users in ≤ 2 s.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generate, type GenerateSummary } from "../src/generate/index.ts";
import { measure } from "../src/generate/stats.ts";
import { median, OUT } from "./lib.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "3" },
    seed: { type: "string", default: "42" },
    "no-stats": { type: "boolean", default: false },
  },
});
const users = Number(values.users);
const runs = Number(values.runs);
const seed = Number(values.seed);
const dir = join(OUT, `generate-${users}`);
mkdirSync(dir, { recursive: true });
const FILES = ["user_interests.csv", "user_course_views.csv", "user_assessment_scores.csv", "course_tags.csv", "taste_groups.csv"];

const secs: number[] = [];
let summary!: GenerateSummary;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  summary = await generate({ users, seed, outDir: dir });
  secs.push((performance.now() - t0) / 1000);
}
const rows = Object.values(summary.rows).reduce((a, b) => a + b, 0);
const texts = FILES.map((f) => readFileSync(join(dir, f), "utf8"));
const bytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);
const copy = join(dir, "copy");
mkdirSync(copy, { recursive: true });
const io: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  await Promise.all(FILES.map((f, k) => Bun.write(join(copy, f), texts[k])));
  io.push((performance.now() - t0) / 1000);
}
rmSync(copy, { recursive: true, force: true });
const g = median(secs);
console.log(`generate ${users.toLocaleString("en-US")} users (seed ${seed}): median ${g.toFixed(3)} s over ${runs} run(s) (min ${Math.min(...secs).toFixed(3)} s)`);
console.log(`  ${rows.toLocaleString("en-US")} rows, ${(bytes / 1e6).toFixed(1)} MB: ${Math.round(rows / g).toLocaleString("en-US")} rows/s, ${(bytes / 1e6 / g).toFixed(1)} MB/s`);
console.log(`baseline: writing the same bytes with Bun.write, median ${median(io).toFixed(3)} s (generation costs ${(g / median(io)).toFixed(1)}× pure I/O)`);
console.log(`target 10k users ≤ 2 s: ${users === 10_000 ? (g <= 2 ? "met" : "MISSED") : "n/a at this size"}`);

if (!values["no-stats"]) {
  const s = measure({ interests: texts[0], views: texts[1], assessments: texts[2], courseTags: texts[3] });
  const k = users / 10_000;
  const f = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const table: [string, string, string][] = [
    ["interest rows", f(297_526 * k), f(s.interests.rows)],
    ["interest rows/user mean · median · p90 · max", "29.75 · 13 · 64 · 2,851", `${f(s.interests.perUser.mean, 2)} · ${s.interests.perUser.median} · ${s.interests.perUser.p90} · ${f(s.interests.perUser.max)}`],
    ["users with 1 interest row", f(1050 * k), f(s.interests.singleRowUsers)],
    ["follow events · single-event users", `${f(12_881 * k)} · 81.8%`, `${f(s.interests.events)} · ${(100 * s.interests.singleEventUserShare).toFixed(1)}%`],
    ["exact duplicate interest rows", f(18_209 * k), f(s.interests.exactDuplicateRows)],
    ["distinct (user, tag) pairs", `${f(201_001 * k)}–${f(215_654 * k)}`, f(s.interests.distinctPairs)],
    ["distinct interest tags", "748", f(s.interests.distinctTags)],
    ["July share of interest rows", "35.6%", `${(100 * s.interests.julyShare).toFixed(1)}%`],
    ["users with views", f(8760 * k), f(s.views.users)],
    ["view rows", f(249_238 * k), f(s.views.rows)],
    ["(user, course) pairs · rows per pair", `${f(105_353 * k)} · 2.366`, `${f(s.views.pairs)} · ${s.views.rowsPerPair.toFixed(3)}`],
    ["courses/viewer median · mean · max", "5 · 12.03 · 533", `${s.views.coursesPerUser.median} · ${s.views.coursesPerUser.mean.toFixed(2)} · ${s.views.coursesPerUser.max}`],
    ["viewers/course median · mean · max", "7 · 17.73 · 1,009", `${s.views.viewersPerCourse.median} · ${s.views.viewersPerCourse.mean.toFixed(2)} · ${s.views.viewersPerCourse.max}`],
    ["courses viewed · single-viewer courses", "5,942 · 725", `${f(s.views.distinctCourses)} · ${f(s.views.singleViewerCourses)}`],
    ["level rows B / I / A", "46.6 / 47.9 / 5.5%", ["Beginner", "Intermediate", "Advanced"].map((l) => (100 * (s.views.levelShare[l] ?? 0)).toFixed(1)).join(" / ") + "%"],
    ["authors · top author share", "1,412 · 5.2%", `${f(s.views.authors)} · ${(100 * s.views.topAuthorShare).toFixed(1)}%`],
    ["view seconds mean · std · p99.5 · max", "1,788 · 2,208 · 11,992 · 44,410", `${f(s.views.seconds.mean)} · ${f(s.views.seconds.std)} · ${f(s.views.seconds.p995)} · ${f(s.views.seconds.max)}`],
    ["zero-second rows · zero-time pairs", "≥29 · 29", `${f(s.views.seconds.zeroRows)} · ${f(s.views.seconds.zeroPairs)}`],
    ["view days", "212", f(s.views.distinctDays)],
    ["users with assessments · also viewing", `${f(3114 * k)} · ${f(2909 * k)}`, `${f(s.assessments.users)} · ${f(s.assessments.usersWithViews)}`],
    ["assessment rows · tags", `${f(6571 * k)} · 54`, `${f(s.assessments.rows)} · ${s.assessments.tags}`],
    ["score mean · std", "142.5 · 55.6", `${s.assessments.scoreMean.toFixed(1)} · ${s.assessments.scoreStd.toFixed(1)}`],
    ["catalogue courses · untagged", "5,942 · 112", `${f(s.courseTags.courses)} · ${s.courseTags.untagged}`],
  ];
  console.log(`\n| statistic | data card (×${k}) | generated |\n|---|---|---|`);
  for (const [a, b, c] of table) console.log(`| ${a} | ${b} | ${c} |`);
}
