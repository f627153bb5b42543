/**
 * Recomputes the real-data constants of src/generate/data.ts from `../shared/data/pluralsight/`, so the
 * numbers pasted there can be checked (test/generate.test.ts) and regenerated instead of
 * trusted. The one-off script that first produced them was never kept; the rules below are
 * the ones that reproduce its output exactly, and each says which choice it pins down.
 *
 * Reading the files is the only I/O ({@link deriveGeneratorData}); everything else is a pure
 * function of their text ({@link deriveFromTexts}).
 *
 * A development tool, not library code: it lives outside src/ and is not published.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { counts } from "../src/generate/stats.ts";
import { classifyTag, TOPICS } from "../src/generate/tastes.ts";

/** The constants of data.ts, in the representation data.ts uses (strings, arrays, records). */
export interface GeneratorData {
  INTEREST_TAGS: string;
  INTEREST_ROWS_HIST: string;
  MULTI_EVENT_SHARE: number[];
  EXTRA_EVENTS_MEAN: number[];
  FIRST_FOLLOW_DAYS: string;
  FOLLOW_HOURS: number[];
  FOLLOW_GAP_QUANTILES: number[];
  COURSES_PER_VIEWER_HIST: string;
  ACTIVITY_MIX: number[];
  TAGS_PER_COURSE_HIST: string;
  REAL_COURSE_COUNT: number;
  ASSESSMENT_TAGS: ReadonlyArray<readonly [string, number, readonly number[]]>;
  ASSESSMENTS_PER_USER_HIST: string;
  ASSESSMENT_MONTHS: number[];
  ASSESSMENT_GAP_QUANTILES: number[];
  COURSE_TOPIC_COUNTS: Readonly<Record<string, number>>;
}

/** Names of the derived constants (every export of data.ts is one). */
export const DERIVED_CONSTANTS = [
  "INTEREST_TAGS",
  "INTEREST_ROWS_HIST",
  "MULTI_EVENT_SHARE",
  "EXTRA_EVENTS_MEAN",
  "FIRST_FOLLOW_DAYS",
  "FOLLOW_HOURS",
  "FOLLOW_GAP_QUANTILES",
  "COURSES_PER_VIEWER_HIST",
  "ACTIVITY_MIX",
  "TAGS_PER_COURSE_HIST",
  "REAL_COURSE_COUNT",
  "ASSESSMENT_TAGS",
  "ASSESSMENTS_PER_USER_HIST",
  "ASSESSMENT_MONTHS",
  "ASSESSMENT_GAP_QUANTILES",
  "COURSE_TOPIC_COUNTS",
] as const satisfies readonly (keyof GeneratorData)[];

/** The shared files the constants come from, relative to the shared data directory. */
export const SHARED_FILES = {
  interestTagCounts: "evidence/derived_interest_tag_counts.csv",
  userCounts: "evidence/derived_user_counts.csv",
  userActivity: "evidence/msharp9_useractivity_by_time.csv",
  courseTags: "course_tags.csv",
  assessmentScores: "user_assessment_scores.csv",
} as const;

/** The text of each of {@link SHARED_FILES}. */
export type SharedTexts = Record<keyof typeof SHARED_FILES, string>;

/** Tags with fewer scores than this get the pooled quantiles (too few to fit their own). */
const MIN_OWN_QUANTILE_SCORES = 20;
/** Buckets floor(log2(interest rows)) of MULTI_EVENT_SHARE; the last one is open. */
const EVENT_BUCKETS = 11;

/**
 * Reads the shared files under `sharedDir` (`../shared/data/pluralsight` from the repo root)
 * and recomputes every constant of data.ts from them.
 * @throws Error naming the file, line and column of a missing column or a malformed value.
 */
export function deriveGeneratorData(sharedDir: string): GeneratorData {
  const texts = {} as SharedTexts;
  for (const [key, file] of Object.entries(SHARED_FILES)) texts[key as keyof SharedTexts] = readFileSync(join(sharedDir, file), "utf8");
  return deriveFromTexts(texts);
}

/** {@link deriveGeneratorData} on the files' text. */
export function deriveFromTexts(texts: SharedTexts): GeneratorData {
  const tagCounts = rows(texts, "interestTagCounts", ["interest_tag", "rows"]);
  const users = rows(texts, "userCounts", ["interest_rows", "follow_events", "distinct_courses_viewed", "has_views", "has_assessments"]);
  const activity = rows(texts, "userActivity", ["user_handle", "date_followed", "N Rows"]);
  const courseTags = rows(texts, "courseTags", ["course_id", "course_tags"]);
  const scores = rows(texts, "assessmentScores", ["user_handle", "assessment_tag", "user_assessment_date", "user_assessment_score"]);
  return {
    INTEREST_TAGS: tagCounts
      .map((r) => [r.get("interest_tag"), r.int("rows")] as const)
      .sort((a, b) => b[1] - a[1] || byCodeUnits(a[0], b[0]))
      .map(([tag, n]) => `${tag} ${n}`)
      .join("\n"),
    INTEREST_ROWS_HIST: histogram(users.map((u) => u.int("interest_rows"))),
    ...followEvents(users),
    ...followTimes(activity),
    COURSES_PER_VIEWER_HIST: histogram(users.filter((u) => u.flag("has_views")).map((u) => u.int("distinct_courses_viewed"))),
    ACTIVITY_MIX: activityMix(users),
    ...courses(courseTags),
    ...assessments(scores),
  };
}

/** One data row, with typed getters that name file, line and column when a value is bad. */
interface Row {
  get(column: string): string;
  int(column: string): number;
  flag(column: string): boolean;
  /** An error naming this row's file, line and `column`, and what was `expected` there. */
  fail(column: string, expected: string): Error;
}

function rows(texts: SharedTexts, key: keyof SharedTexts, required: string[]): Row[] {
  const file = SHARED_FILES[key];
  const parsed = parse(texts[key], { columns: true, info: true, skip_empty_lines: true }) as {
    record: Record<string, string>;
    info: { lines: number };
  }[];
  const header = parsed.length ? Object.keys(parsed[0].record) : [];
  for (const c of required) if (!header.includes(c)) throw new Error(`${file}: missing column "${c}" (header: ${header.join(", ")})`);
  return parsed.map(({ record, info }) => {
    const bad = (column: string, expected: string) =>
      new Error(`${file}, line ${info.lines}, column "${column}": expected ${expected}, got "${record[column]}"`);
    const int = (column: string) => {
      const v = record[column];
      if (!/^\d+$/.test(v)) throw bad(column, "a non-negative integer");
      return Number(v);
    };
    return {
      get: (column) => record[column],
      int,
      flag: (column) => {
        const v = int(column);
        if (v > 1) throw bad(column, "0 or 1");
        return v === 1;
      },
      fail: bad,
    };
  });
}

/** Plain code-unit order, so the result does not depend on the machine's locale. */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** "value:count" pairs by ascending value, the format {@link Histogram} reads. */
function histogram(values: Iterable<number>): string {
  return [...counts(values)]
    .sort((a, b) => a[0] - b[0])
    .map(([v, c]) => `${v}:${c}`)
    .join(" ");
}

/**
 * The K+1 quantiles (0, 1/K, …, 1) of ascending `sorted`, as numpy.quantile(method="nearest"):
 * the element at index (n−1)·k/K rounded to the nearest integer, ties to even. Only this rule
 * reproduces ASSESSMENT_TAGS exactly (linear interpolation misses 29 of the 38 fitted tags);
 * the index is computed in integers so a tie is a tie, not a floating-point accident.
 */
export function nearestQuantiles(sorted: ArrayLike<number>, K: number): number[] {
  if (sorted.length === 0) throw new Error("quantiles of an empty list");
  const out: number[] = [];
  for (let k = 0; k <= K; k++) {
    const num = (sorted.length - 1) * k;
    const lo = Math.floor(num / K);
    const twice = 2 * (num - lo * K);
    out.push(sorted[twice > K || (twice === K && lo % 2 === 1) ? lo + 1 : lo]);
  }
  return out;
}

/**
 * Rounds as the one-off script did: to the nearest `digits`-decimal number on the double's
 * exact value (toFixed). Not Math.round(x·10^d)/10^d: 394/160 is stored just below 2.4625 and
 * data.ts has 2.462, but the product rounds up to 2462.5 and would give 2.463.
 */
const fixed = (x: number, digits: number) => Number(x.toFixed(digits));

/** MULTI_EVENT_SHARE and EXTRA_EVENTS_MEAN from each user's interest rows and follow events. */
function followEvents(users: Row[]): Pick<GeneratorData, "MULTI_EVENT_SHARE" | "EXTRA_EVENTS_MEAN"> {
  const n = new Array<number>(EVENT_BUCKETS).fill(0);
  const multi = new Array<number>(EVENT_BUCKETS).fill(0);
  const extra = new Array<number>(EVENT_BUCKETS).fill(0);
  for (const u of users) {
    const rowsOf = u.int("interest_rows");
    const events = u.int("follow_events");
    // floor(log2) in integers; every user has ≥ 1 row, and the top bucket holds all above.
    const b = Math.min(EVENT_BUCKETS - 1, 31 - Math.clz32(Math.max(1, rowsOf)));
    n[b]++;
    if (events > 1) {
      multi[b]++;
      extra[b] += events - 1;
    }
  }
  return {
    MULTI_EVENT_SHARE: n.map((c, b) => (c ? fixed(multi[b] / c, 4) : 0)),
    EXTRA_EVENTS_MEAN: multi.map((c, b) => (c ? fixed(extra[b] / c, 3) : 0)),
  };
}

/** Seconds since 1970 of a JMP timestamp "2017/06/27 4:26:52 PM" (timezone unknown, kept naive). */
function jmpSeconds(r: Row, column: string): number {
  const m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d?):(\d\d):(\d\d) (AM|PM)$/.exec(r.get(column));
  if (!m) throw r.fail(column, "a JMP time YYYY/MM/DD h:mm:ss AM|PM");
  const hour = (Number(m[4]) % 12) + (m[7] === "PM" ? 12 : 0);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], hour, +m[5], +m[6]) / 1000;
}

/** Seconds since 1970 of "YYYY-MM-DD HH:MM:SS" (naive, like the generator's own dates). */
function isoSeconds(r: Row, column: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(r.get(column));
  if (!m) throw r.fail(column, "a time YYYY-MM-DD HH:MM:SS");
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
}

/** Ascending gaps between consecutive times of each key (times need not arrive sorted). */
function sortedGaps(timesByKey: Map<string, number[]>): number[] {
  const gaps: number[] = [];
  for (const times of timesByKey.values()) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) gaps.push(times[i] - times[i - 1]);
  }
  return gaps.sort((a, b) => a - b);
}

function push(map: Map<string, number[]>, key: string, value: number) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** FIRST_FOLLOW_DAYS, FOLLOW_HOURS and FOLLOW_GAP_QUANTILES from the (user, timestamp) follow events. */
function followTimes(events: Row[]): Pick<GeneratorData, "FIRST_FOLLOW_DAYS" | "FOLLOW_HOURS" | "FOLLOW_GAP_QUANTILES"> {
  const hours = new Array<number>(24).fill(0);
  const byUser = new Map<string, number[]>();
  for (const e of events) {
    const t = jmpSeconds(e, "date_followed");
    hours[Math.floor((t % 86_400) / 3600)]++;
    push(byUser, e.get("user_handle"), t);
  }
  const firsts = [...byUser.values()].map((ts) => ts.reduce((a, b) => Math.min(a, b)));
  // Day 0 is the calendar day of the earliest follow (2017-05-03), the generator's FOLLOW_DAY0.
  const day0 = Math.floor(firsts.reduce((a, b) => Math.min(a, b)) / 86_400);
  return {
    FIRST_FOLLOW_DAYS: histogram(firsts.map((t) => Math.floor(t / 86_400) - day0)),
    FOLLOW_HOURS: hours,
    FOLLOW_GAP_QUANTILES: nearestQuantiles(sortedGaps(byUser), 40),
  };
}

/** ACTIVITY_MIX: users by (has views, has assessments), index 2·views + assessments. */
function activityMix(users: Row[]): number[] {
  const mix = [0, 0, 0, 0];
  for (const u of users) mix[2 * Number(u.flag("has_views")) + Number(u.flag("has_assessments"))]++;
  return mix;
}

/** TAGS_PER_COURSE_HIST, REAL_COURSE_COUNT and COURSE_TOPIC_COUNTS from course_tags.csv. */
function courses(courseTags: Row[]): Pick<GeneratorData, "TAGS_PER_COURSE_HIST" | "REAL_COURSE_COUNT" | "COURSE_TOPIC_COUNTS"> {
  // Tags per course in file order (the topic vote below depends on it); an untagged course is
  // one row with an empty tag, so it is kept with no tags.
  const tags = new Map<string, string[]>();
  for (const r of courseTags) {
    const id = r.get("course_id");
    const list = tags.get(id) ?? [];
    tags.set(id, list);
    if (r.get("course_tags").trim() !== "") list.push(r.get("course_tags"));
  }
  // The majority vote of vocabulary.ts (courseVocabulary): a topic takes the lead only by
  // passing the leader, so a tie goes to the topic that reached the count first in file
  // order. Breaking ties by topic order instead moves at least 190 courses (3d-art 1,516, not 1,437).
  // Unclassifiable courses are not counted here: the generator spreads them by these shares.
  const perTopic = new Array<number>(TOPICS.length).fill(0);
  const votes = new Int32Array(TOPICS.length);
  for (const list of tags.values()) {
    votes.fill(0);
    let best = -1;
    for (const t of list) {
      const k = classifyTag(t);
      if (k < 0) continue;
      votes[k]++;
      if (best < 0 || votes[k] > votes[best]) best = k;
    }
    if (best >= 0) perTopic[best]++;
  }
  return {
    TAGS_PER_COURSE_HIST: histogram([...tags.values()].map((l) => l.length)),
    REAL_COURSE_COUNT: tags.size,
    COURSE_TOPIC_COUNTS: Object.fromEntries(TOPICS.map((t, i) => [t.name, perTopic[i]])),
  };
}

/** The assessment constants from user_assessment_scores.csv. */
function assessments(
  scores: Row[],
): Pick<GeneratorData, "ASSESSMENT_TAGS" | "ASSESSMENTS_PER_USER_HIST" | "ASSESSMENT_MONTHS" | "ASSESSMENT_GAP_QUANTILES"> {
  const byTag = new Map<string, number[]>();
  const byUser = new Map<string, number[]>();
  const months: number[] = [];
  for (const r of scores) {
    push(byTag, r.get("assessment_tag"), r.int("user_assessment_score"));
    const t = isoSeconds(r, "user_assessment_date");
    push(byUser, r.get("user_handle"), t);
    const d = new Date(t * 1000);
    months.push(d.getUTCFullYear() * 12 + d.getUTCMonth());
  }
  const pooled = nearestQuantiles(
    scores.map((r) => r.int("user_assessment_score")).sort((a, b) => a - b),
    20,
  );
  // Every month from the first assessment's to the last's (2016-07 … 2017-11), empty ones too.
  const firstMonth = months.reduce((a, b) => Math.min(a, b));
  const byMonth = new Array<number>(months.reduce((a, b) => Math.max(a, b)) - firstMonth + 1).fill(0);
  for (const m of months) byMonth[m - firstMonth]++;
  return {
    ASSESSMENT_TAGS: [...byTag]
      .sort((a, b) => b[1].length - a[1].length || byCodeUnits(a[0], b[0]))
      .map(([tag, s]) => {
        const own = s.length >= MIN_OWN_QUANTILE_SCORES ? nearestQuantiles(s.sort((a, b) => a - b), 20) : [...pooled];
        return [tag, s.length, own] as const;
      }),
    ASSESSMENTS_PER_USER_HIST: histogram([...byUser.values()].map((ts) => ts.length)),
    ASSESSMENT_MONTHS: byMonth,
    ASSESSMENT_GAP_QUANTILES: nearestQuantiles(sortedGaps(byUser), 40),
  };
}
