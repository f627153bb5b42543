/**
 * One synthetic learner at a time: taste groups, follow events, course views and assessments,
 * formatted straight into CSV text. Every per-user draw comes from a generator seeded by
 * (seed, user), so a user's rows do not depend on the batch size; the only state shared
 * across users is the round-robin course cursor (deterministic as users go in order).
 */
import { AliasTable, Histogram, sampleQuantiles } from "./distributions.ts";
import {
  ACTIVITY_MIX,
  ASSESSMENT_GAP_QUANTILES,
  ASSESSMENT_MONTHS,
  ASSESSMENTS_PER_USER_HIST,
  COURSES_PER_VIEWER_HIST,
  EXTRA_EVENTS_MEAN,
  FIRST_FOLLOW_DAYS,
  FOLLOW_GAP_QUANTILES,
  FOLLOW_HOURS,
  INTEREST_ROWS_HIST,
  MULTI_EVENT_SHARE,
} from "./data.ts";
import { dayNumber, formatDateTime, formatDay } from "./csv.ts";
import { StreamRng as Rng } from "../random.ts";
import { TOPICS } from "./tastes.ts";
import type { AssessmentVocabulary, CourseVocabulary, InterestVocabulary } from "./vocabulary.ts";

/** How strongly tastes drive choices; the rest is popularity (noise). Our choice, tuned by tests. */
export const TASTE = {
  /** Share of interest draws taken from global popularity instead of the user's topics. */
  interestNoise: 0.1,
  /** Share of course picks from global popularity. */
  courseNoise: 0.07,
  /** Share of course picks from a round-robin walk over the whole catalogue (so every course gets viewers). */
  courseCycle: 0.06,
  /** Share of assessments from global popularity. */
  assessmentNoise: 0.2,
  /** Probability that a later follow event re-lists earlier tags rather than adding new ones. */
  refollow: 0.9,
  /** Per row, probability of an exact duplicate in the same event (18,209 of 297,526 rows). */
  duplicate: 0.066,
  /**
   * Probability that a user's first follow event opens with the most popular tags in
   * popularity order (DATA_CARD §1: users 1, 110 and 5537 all start "angular,
   * javascript-frameworks, javascript-libraries, javascript, c#"), by whether the user
   * follows at least STARTER_MIN_ROWS rows; and the share of the event it fills.
   */
  starter: 0.3,
  starterShare: [0.25, 0.75] as const,
};

const SECONDS = (y: number, m: number, d: number, hh = 0, mm = 0, ss = 0) => dayNumber(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
/** date_followed range (DATA_CARD §2.1). */
const FOLLOW_START = SECONDS(2017, 5, 3, 12, 8, 33);
const FOLLOW_END = SECONDS(2017, 11, 28, 10, 2, 6);
const FOLLOW_DAY0 = dayNumber(2017, 5, 3);
/** view_date: every day 2017-05-01 … 2017-11-28 (212 days). */
const VIEW_DAY0 = dayNumber(2017, 5, 1);
const VIEW_DAYS = 212;
/**
 * Relative view volume by month May … Nov: unknown beyond "lower in May–June" (the JMP
 * density plot); our choice.
 */
const VIEW_MONTH_WEIGHT = [0.55, 0.8, 1.05, 1.1, 1.15, 1.15, 1.1];
/** Assessment dates: 2016-07-13 15:30:44 … 2017-11-28 19:34:32 (real file). */
const ASSESS_START = SECONDS(2016, 7, 13, 15, 30, 44);
const ASSESS_END = SECONDS(2017, 11, 28, 19, 34, 32);
/** Rows per (user, course) pair by level (DATA_CARD §3.4: 2.43, 2.38, 1.90). */
const ROWS_PER_PAIR = [2.43, 2.38, 1.9];
/** Mean view_time_seconds by level (DATA_CARD §3.2). */
const LEVEL_MEAN_SECONDS = [1830.3, 1774.3, 1543.8];
/** Overall view-time shape: log-normal with this sigma, cut at the largest real value. */
const VIEW_SIGMA = 1.0;
const VIEW_MAX = 44_410;
/** A row of zero seconds (count unknown, ≥ 29 zero-time pairs): our choice. */
const ZERO_ROW = 0.0004;
const ZERO_PAIR = 0.0001;
/** Rows lost when repeat views would run past 2017-11-28, compensated (measured). */
const REPEAT_BOOST = 1.03;
/** Users following fewer rows than this never get the popular starter sequence. */
const STARTER_MIN_ROWS = 5;

/** Everything the per-user synthesis reads; built once per `generate` call. */
export interface Model {
  readonly interests: InterestVocabulary;
  readonly courses: CourseVocabulary;
  readonly assessments: AssessmentVocabulary;
}

/** The CSV text produced for one user. */
export interface UserRows {
  interests: string;
  interestRows: number;
  views: string;
  viewRows: number;
  assessments: string;
  assessmentRows: number;
  groups: string;
}

export class UserSynthesizer {
  private readonly interestRows = new Histogram(INTEREST_ROWS_HIST);
  private readonly coursesPerViewer = new Histogram(COURSES_PER_VIEWER_HIST);
  private readonly assessmentsPerUser = new Histogram(ASSESSMENTS_PER_USER_HIST);
  private readonly firstFollowDay = new Histogram(FIRST_FOLLOW_DAYS);
  private readonly followHour = new AliasTable(FOLLOW_HOURS);
  private readonly activity = new AliasTable(ACTIVITY_MIX);
  private readonly assessMonth = new AliasTable(ASSESSMENT_MONTHS);
  private readonly viewDay: AliasTable;
  private readonly groupPrior: AliasTable;
  /** Per item: the last user (index + 1) that took it; avoids a Set per user. */
  private readonly itemMark: Int32Array;
  private readonly courseMark: Int32Array;
  private readonly assessMark: Int32Array;
  private cursor = 0;
  private stamp = 0;

  constructor(
    private readonly model: Model,
    private readonly seed: number,
  ) {
    const mass = model.interests.topicMass.subarray(0, TOPICS.length);
    this.groupPrior = new AliasTable(mass);
    const dayW = new Float64Array(VIEW_DAYS);
    for (let d = 0; d < VIEW_DAYS; d++) {
      const month = new Date((VIEW_DAY0 + d) * 86_400_000).getUTCMonth() - 4;
      dayW[d] = VIEW_MONTH_WEIGHT[month];
    }
    this.viewDay = new AliasTable(dayW);
    this.itemMark = new Int32Array(model.interests.tags.length);
    this.courseMark = new Int32Array(model.courses.ids.length);
    this.assessMark = new Int32Array(model.assessments.tags.length);
  }

  /** Synthesizes user `index` (0-based) with the given handle. */
  user(index: number, handle: string): UserRows {
    const rng = new Rng(this.seed, index + 1);
    this.stamp = index + 1;
    const interestRows = this.interestRows.draw(rng);
    const groups = this.drawGroups(rng, interestRows);
    const weights = GROUP_WEIGHTS[groups.length - 1];
    const out: UserRows = {
      interests: "",
      interestRows: 0,
      views: "",
      viewRows: 0,
      assessments: "",
      assessmentRows: 0,
      groups: `${handle},"${groups.map((g) => TOPICS[g].name).join(";")}"\n`,
    };
    this.interests(rng, handle, interestRows, groups, weights, out);
    // [neither, assessments only, views only, both] (DATA_CARD §4).
    const act = this.activity.draw(rng);
    if (act >= 2) this.views(rng, handle, groups, weights, out);
    if (act === 1 || act === 3) this.assessments(rng, handle, groups, weights, out);
    return out;
  }

  /**
   * 1–3 taste groups, drawn in proportion to each topic's share of real interest rows.
   * Heavy followers get more groups (their hundreds of tags span several topics).
   */
  private drawGroups(rng: Rng, rows: number): number[] {
    const u = rng.float();
    const n = rows >= 64 ? (u < 0.3 ? 1 : u < 0.7 ? 2 : 3) : u < 0.55 ? 1 : u < 0.88 ? 2 : 3;
    const groups: number[] = [];
    for (let tries = 0; groups.length < n && tries < 50; tries++) {
      const g = this.groupPrior.draw(rng);
      if (!groups.includes(g)) groups.push(g);
    }
    return groups;
  }

  private pickGroup(rng: Rng, groups: number[], weights: readonly number[]): number {
    const u = rng.float();
    let acc = 0;
    for (let i = 0; i < groups.length; i++) {
      acc += weights[i];
      if (u < acc) return groups[i];
    }
    return groups[groups.length - 1];
  }

  // ---- user_interests -------------------------------------------------------------------

  private interests(rng: Rng, handle: string, rows: number, groups: number[], weights: readonly number[], out: UserRows): void {
    const iv = this.model.interests;
    const bucket = rows === 1 ? 0 : Math.min(Math.floor(Math.log2(rows)), 10);
    let events = 1;
    if (rng.chance(MULTI_EVENT_SHARE[bucket])) events = 2 + rng.geometric(Math.max(0, EXTRA_EVENTS_MEAN[bucket] - 1));
    events = Math.min(events, rows, 46);
    const sizes = splitRows(rng, rows, events);
    // First event: a real first-follow day and hour; later ones after real inter-event gaps.
    let t = (FOLLOW_DAY0 + this.firstFollowDay.draw(rng)) * 86400 + this.followHour.draw(rng) * 3600 + rng.int(3600);
    t = Math.min(Math.max(t, FOLLOW_START), FOLLOW_END);
    const followed: number[] = [];
    const parts: string[] = [];
    let written = 0;
    for (let e = 0; e < events; e++) {
      if (e > 0) {
        const gap = Math.max(1, Math.round(sampleQuantiles(FOLLOW_GAP_QUANTILES, rng, true)));
        // Past the end of the range, squeeze the event in seconds after the previous one.
        t = t + gap <= FOLLOW_END ? t + gap : Math.min(t + 1 + rng.int(30), FOLLOW_END);
      }
      const when = `,"${formatDateTime(t)}"\n`;
      const prefix = `${handle},`;
      let budget = sizes[e];
      const refollow = e > 0 && followed.length > 0 && rng.chance(TASTE.refollow);
      let prior = refollow ? followed.slice() : [];
      if (refollow) rng.shuffle(prior);
      else if (e === 0 && rows >= STARTER_MIN_ROWS && rng.chance(TASTE.starter)) {
        prior = this.starter(rng, Math.round(budget * (TASTE.starterShare[0] + rng.float() * (TASTE.starterShare[1] - TASTE.starterShare[0]))));
        for (const item of prior) {
          followed.push(item);
          this.itemMark[item] = this.stamp;
        }
        prior.reverse();
      }
      while (budget > 0) {
        let item: number;
        if (prior.length > 0) {
          item = prior.pop()!;
        } else {
          item = this.drawInterest(rng, groups, weights, budget);
          if (item < 0) {
            budget--;
            continue;
          }
          followed.push(item);
          this.itemMark[item] = this.stamp;
        }
        const tags = iv.quotedTags[item];
        // A duplicate repeats the whole bundle, so bundle members keep identical counts.
        const dup = budget > tags.length && rng.chance(TASTE.duplicate);
        for (const q of tags) {
          const row = prefix + q + when;
          parts.push(row);
          if (dup) parts.push(row);
        }
        const n = dup ? 2 * tags.length : tags.length;
        budget -= n;
        written += n;
      }
      prior = [];
    }
    out.interests = parts.join("");
    out.interestRows = written;
  }

  /** The most popular items in popularity order, each kept with probability 0.7, filling `rows`. */
  private starter(rng: Rng, rows: number): number[] {
    const iv = this.model.interests;
    const items: number[] = [];
    for (let i = 0; i < iv.byPopularity.length && rows > 0; i++) {
      const item = iv.byPopularity[i];
      if (iv.tags[item].length > rows || !rng.chance(0.7)) continue;
      items.push(item);
      rows -= iv.tags[item].length;
    }
    return items;
  }

  /** A new interest item for this user that fits `budget` rows, or -1. */
  private drawInterest(rng: Rng, groups: number[], weights: readonly number[], budget: number): number {
    const iv = this.model.interests;
    for (let tries = 0; tries < 12; tries++) {
      const u = rng.float();
      let item: number;
      // A user who has exhausted a topic's popular tags spills over to global popularity
      // rather than scraping the topic's rare tags (which would flatten their counts).
      if (u < TASTE.interestNoise || tries >= 2) item = iv.tables.global.draw(rng);
      else if (iv.general && u < TASTE.interestNoise + iv.topicMass[TOPICS.length] / totalOf(iv.topicMass)) {
        item = iv.generalItems[iv.general.draw(rng)];
      } else {
        const g = this.pickGroup(rng, groups, weights);
        const table = iv.tables.byTopic[g];
        item = table ? iv.tables.members[g][table.draw(rng)] : iv.tables.global.draw(rng);
      }
      if (this.itemMark[item] === this.stamp) continue;
      if (iv.tags[item].length > budget && tries < 11) continue;
      if (iv.tags[item].length > budget) break;
      return item;
    }
    for (let tries = 0; tries < 20; tries++) {
      const item = iv.singleItems[iv.singles.draw(rng)];
      if (this.itemMark[item] !== this.stamp) return item;
    }
    return -1;
  }

  // ---- user_course_views ----------------------------------------------------------------

  private views(rng: Rng, handle: string, groups: number[], weights: readonly number[], out: UserRows): void {
    const cv = this.model.courses;
    const k = Math.min(this.coursesPerViewer.draw(rng), cv.ids.length);
    // The user's activity clusters around one day with a user-specific spread (unknown in
    // the real data; our choice).
    const centre = this.viewDay.draw(rng);
    const spread = 3 + 45 * rng.float() * rng.float();
    const days: number[] = [];
    const rowsText: string[] = [];
    for (let i = 0; i < k; i++) {
      const c = this.drawCourse(rng, groups, weights);
      const lvl = cv.level[c];
      const prefix = cv.rowPrefix[c];
      let repeats = 1 + rng.geometric(ROWS_PER_PAIR[lvl] * REPEAT_BOOST - 1);
      let day = Math.round(centre + rng.normal() * spread);
      day = Math.min(Math.max(day, 0), VIEW_DAYS - 1);
      const zeroPair = rng.chance(ZERO_PAIR);
      while (repeats-- > 0 && day < VIEW_DAYS) {
        const secs = zeroPair || rng.chance(ZERO_ROW) ? 0 : viewSeconds(rng, LEVEL_MEAN_SECONDS[lvl]);
        days.push(day);
        rowsText.push(`${prefix}${secs}\n`);
        day += 1 + rng.geometric(1.5);
      }
    }
    // Sorted by view_date; same-day rows keep their generation order (not by course id).
    const order = Array.from(days.keys()).sort((a, b) => days[a] - days[b] || a - b);
    const parts: string[] = new Array(order.length);
    for (let i = 0; i < order.length; i++) {
      const r = order[i];
      parts[i] = `${handle},"${formatDay(VIEW_DAY0 + days[r])}",${rowsText[r]}`;
    }
    out.views = parts.join("");
    out.viewRows = parts.length;
  }

  private drawCourse(rng: Rng, groups: number[], weights: readonly number[]): number {
    const cv = this.model.courses;
    for (let tries = 0; tries < 30; tries++) {
      const u = rng.float();
      let c: number;
      const g = this.pickGroup(rng, groups, weights);
      const table = cv.tables.byTopic[g];
      if (u < TASTE.courseCycle) {
        c = cv.cycle[this.cursor++ % cv.cycle.length];
      } else if (u < TASTE.courseCycle + TASTE.courseNoise || !table) {
        c = cv.tables.global.draw(rng);
      } else {
        c = cv.tables.members[g][table.draw(rng)];
      }
      if (this.courseMark[c] !== this.stamp) {
        this.courseMark[c] = this.stamp;
        return c;
      }
    }
    // Saturated (a heavy viewer in a small topic): the next unseen course from a random start.
    const n = cv.ids.length;
    let c = rng.int(n);
    while (this.courseMark[c] === this.stamp) c = (c + 1) % n;
    this.courseMark[c] = this.stamp;
    return c;
  }

  // ---- user_assessment_scores -----------------------------------------------------------

  private assessments(rng: Rng, handle: string, groups: number[], weights: readonly number[], out: UserRows): void {
    const av = this.model.assessments;
    const k = Math.min(this.assessmentsPerUser.draw(rng), av.tags.length);
    const taken: number[] = [];
    for (let i = 0; i < k; i++) {
      let a = -1;
      for (let tries = 0; tries < 40 && a < 0; tries++) {
        const g = this.pickGroup(rng, groups, weights);
        const table = av.tables.byTopic[g];
        const x = !table || rng.chance(TASTE.assessmentNoise) ? av.tables.global.draw(rng) : av.tables.members[g][table.draw(rng)];
        if (this.assessMark[x] !== this.stamp) a = x;
      }
      if (a < 0) break;
      this.assessMark[a] = this.stamp;
      taken.push(a);
    }
    // Dates: a real month for the first, then real gaps between a user's assessments.
    const month = this.assessMonth.draw(rng);
    const firstDay = dayNumber(2016, 7 + month, 1) + rng.int(daysInMonth(2016, 7 + month));
    let t = Math.min(Math.max(firstDay * 86400 + rng.int(86400), ASSESS_START), ASSESS_END);
    const times = taken.map((_, i) => {
      if (i > 0) {
        const gap = Math.max(1, Math.round(sampleQuantiles(ASSESSMENT_GAP_QUANTILES, rng, true)));
        t = t + gap <= ASSESS_END ? t + gap : Math.min(t + 60 + rng.int(600), ASSESS_END);
      }
      return t;
    });
    // The real file lists a user's assessments by tag.
    const order = taken.map((_, i) => i).sort((x, y) => (av.tags[taken[x]] < av.tags[taken[y]] ? -1 : 1));
    const parts: string[] = [];
    for (const i of order) {
      const a = taken[i];
      const score = Math.round(sampleQuantiles(av.quantiles[a], rng));
      parts.push(`${handle},${av.quoted[a]},"${formatDateTime(times[i])}",${score}\n`);
    }
    out.assessments = parts.join("");
    out.assessmentRows = parts.length;
  }
}

/** How a user's attention splits over 1, 2 or 3 taste groups (our choice). */
const GROUP_WEIGHTS: readonly (readonly number[])[] = [[1], [0.65, 0.35], [0.5, 0.3, 0.2]];

const totals = new WeakMap<Float64Array, number>();
function totalOf(a: Float64Array): number {
  let t = totals.get(a);
  if (t === undefined) {
    t = a.reduce((x, y) => x + y, 0);
    totals.set(a, t);
  }
  return t;
}

/** Splits `rows` into `events` positive parts with random proportions, largest first. */
function splitRows(rng: Rng, rows: number, events: number): number[] {
  if (events === 1) return [rows];
  // Largest first: later events mostly re-list the first one's tags (user 1: 70 then the same 70).
  // Gamma(4) proportions: events of one user have similar sizes (re-follows re-list a lot).
  const w = Array.from({ length: events }, () => {
    let g = 0;
    for (let k = 0; k < 4; k++) g -= Math.log(1 - rng.float());
    return g;
  });
  const sum = w.reduce((a, b) => a + b, 0);
  const extra = rows - events;
  const sizes = w.map((x) => 1 + Math.floor((x / sum) * extra));
  let left = rows - sizes.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % events, left--) sizes[i]++;
  return sizes.sort((a, b) => b - a);
}

function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * View seconds: log-normal with the level's mean, cut at the real maximum (44,410). The real
 * quartiles are unknown; the real mean (1,788) and standard deviation (≈2,208) fix sigma.
 */
function viewSeconds(rng: Rng, mean: number): number {
  const mu = Math.log(mean) - (VIEW_SIGMA * VIEW_SIGMA) / 2;
  for (;;) {
    const x = Math.round(Math.exp(mu + VIEW_SIGMA * rng.normal()));
    if (x <= VIEW_MAX) return x;
  }
}
