/**
 * The item vocabularies the synthetic users draw from: the 748 real interest tags (with their
 * synonym bundles), the 54 real assessment tags, and a course catalogue that is either the
 * real course_tags.csv or an invented one of the same shape. Each item belongs to at most one
 * topic (tastes.ts), and each topic gets alias tables so a draw costs O(1).
 */
import { AliasTable, Histogram } from "./distributions.ts";
import {
  ASSESSMENT_TAGS,
  COURSE_TOPIC_COUNTS,
  INTEREST_TAGS,
  REAL_COURSE_COUNT,
  TAGS_PER_COURSE_HIST,
} from "./data.ts";
import { StreamRng as Rng } from "../random.ts";
import { classifyTag, TOPICS } from "./tastes.ts";

/**
 * Tags that are always followed together (DATA_CARD §2.5 lists the first 19; the rest are
 * further groups with identical row counts whose names are plainly synonyms, our choice).
 */
export const SYNONYM_BUNDLES: readonly (readonly string[])[] = [
  ["mvc-scaffolding", "mvc2", "mvc-html-helpers", "mvc4-ioc", "mvc-testing", "mvc3", "mvc5", "mvc4", "asp.net-mvc", "mvc"],
  ["javascript-frameworks", "javascript-libraries"],
  ["microsoft-azure", "windows-azure"],
  ["azure-deployment", "azure"],
  ["justmock", "junit"],
  ["ice-cream-sandwich", "android"],
  ["powershell", "powershell-v3"],
  ["restful-api", "rest"],
  ["tdd", "test-driven-development"],
  ["visual-c++", "c++", "cplusplus", "cpp"],
  ["ios8", "ios7", "ios"],
  ["spring-mvc", "sprig", "spring"],
  ["performance", "performance-optimization"],
  ["vmware-vsphere", "vsphere"],
  ["ux-design", "ux-design2"],
  ["webapi", "webapi-ui"],
  ["microsoft-office", "office"],
  ["visual-studio-2010", "visual-studio-2012", "visual-studio-2013", "visual-studio-2015", "visual-studio-data-tools", "visual-studio-team-system"],
  ["software-development-process", "software-engineering", "software-maintenance", "technical-debt"],
  ["developer-tools", "sublime", "vim", "webmatrix", "webstorm"],
  ["tfs", "tfs-2010", "tfs-2012", "tfs-2013"],
  ["f#", "f-sharp", "fsharp"],
  ["vb", "vb.net", "visual-basic"],
  ["routing", "routing-switching", "switching"],
  ["model-view-viewmodel", "mvvm"],
  ["generic-programming", "generics"],
  ["maintainable-code", "readable-code"],
  ["solid", "solid-principles"],
  ["object-relational-mapping", "orm"],
  ["3d-uv-mapping", "uv-mapping"],
  [".net-debugging", "debugging", "windows-debugging"],
  ["backbone.js", "backbonedotjs"],
  ["kendo", "kendo-ui"],
  ["real-time-communication", "rtc"],
  ["cad-drafting", "drafting-drawings"],
  ["geolocation", "location-services"],
  ["distributed-version-control", "source-control"],
  ["windows-7-development", "windows-8-development", "winjs"],
  ["webforms", "webforms-mobile"],
  ["cad-part", "part-modeling"],
  ["assembly-modeling", "cad-assembly"],
  ["google-big-query", "google-cloud", "google-compute"],
  [".net-distributed-systems", "distributed-systems-patterns"],
  ["universal-app-development", "universal-windows-platform"],
  ["ef", "entity-framework"],
];

/** Draws among the items of each topic, over all items, and over a subset. */
export interface TopicTables {
  /** Per topic: alias table over `members[t]` (null when the topic has none). */
  readonly byTopic: (AliasTable | null)[];
  readonly members: Int32Array[];
  readonly global: AliasTable;
}

function topicTables(topics: Int32Array, weights: Float64Array): TopicTables {
  const members: Int32Array[] = [];
  const byTopic: (AliasTable | null)[] = [];
  for (let t = 0; t < TOPICS.length; t++) {
    const m: number[] = [];
    for (let i = 0; i < topics.length; i++) if (topics[i] === t && weights[i] > 0) m.push(i);
    members.push(Int32Array.from(m));
    byTopic.push(m.length ? new AliasTable(m.map((i) => weights[i])) : null);
  }
  return { byTopic, members, global: new AliasTable(weights) };
}

export interface InterestVocabulary {
  /** Per item (a tag or a synonym bundle): its tags, each already quoted for CSV. */
  readonly quotedTags: string[][];
  readonly tags: string[][];
  readonly topic: Int32Array;
  /** Real rows of one member tag: the popularity weight. */
  readonly weight: Float64Array;
  readonly tables: TopicTables;
  /** Items no topic claims, drawn by popularity only. */
  readonly general: AliasTable | null;
  readonly generalItems: Int32Array;
  /** Single-tag items, for a user whose remaining row budget is smaller than a bundle. */
  readonly singles: AliasTable;
  readonly singleItems: Int32Array;
  /** Items by decreasing popularity (the order of the real tag counts). */
  readonly byPopularity: Int32Array;
  /** Interest rows per topic (index TOPICS.length: general): the taste prior. */
  readonly topicMass: Float64Array;
}

/** The 748 real interest tags grouped into items (bundles followed together). */
export function interestVocabulary(): InterestVocabulary {
  const count = new Map<string, number>();
  const order: string[] = [];
  for (const line of INTEREST_TAGS.split("\n")) {
    const [tag, n] = line.split(" ");
    count.set(tag, Number(n));
    order.push(tag);
  }
  const bundleOf = new Map<string, readonly string[]>();
  for (const b of SYNONYM_BUNDLES) for (const t of b) if (count.has(t)) bundleOf.set(t, b);
  const tags: string[][] = [];
  const seen = new Set<string>();
  for (const t of order) {
    if (seen.has(t)) continue;
    const bundle = (bundleOf.get(t) ?? [t]).filter((x) => count.has(x));
    for (const x of bundle) seen.add(x);
    tags.push([...bundle]);
  }
  const n = tags.length;
  const topic = new Int32Array(n);
  const weight = new Float64Array(n);
  const topicMass = new Float64Array(TOPICS.length + 1);
  for (let i = 0; i < n; i++) {
    topic[i] = classifyTag(tags[i][0]);
    // Members of a bundle share one count; a bundle draw emits every member.
    weight[i] = Math.max(...tags[i].map((t) => count.get(t)!));
    topicMass[topic[i] < 0 ? TOPICS.length : topic[i]] += weight[i] * tags[i].length;
  }
  const generalItems = Int32Array.from(tags.keys()).filter((i) => topic[i] < 0);
  const singleItems = Int32Array.from(tags.keys()).filter((i) => tags[i].length === 1);
  return {
    tags,
    quotedTags: tags.map((b) => b.map(quote)),
    topic,
    weight,
    tables: topicTables(topic, weight),
    general: generalItems.length ? new AliasTable(Array.from(generalItems, (i) => weight[i])) : null,
    generalItems,
    singles: new AliasTable(Array.from(singleItems, (i) => weight[i])),
    singleItems,
    byPopularity: Int32Array.from(tags.keys()),
    topicMass,
  };
}

export interface AssessmentVocabulary {
  readonly tags: string[];
  readonly quoted: string[];
  readonly quantiles: (readonly number[])[];
  readonly topic: Int32Array;
  readonly tables: TopicTables;
}

/** The 54 real assessment tags, their popularity and score distributions. */
export function assessmentVocabulary(): AssessmentVocabulary {
  const tags = ASSESSMENT_TAGS.map((a) => a[0]);
  const topic = Int32Array.from(tags, classifyTag);
  const weight = Float64Array.from(ASSESSMENT_TAGS, (a) => a[1]);
  return {
    tags,
    quoted: tags.map(quote),
    quantiles: ASSESSMENT_TAGS.map((a) => a[2]),
    topic,
    tables: topicTables(topic, weight),
  };
}

export const LEVELS = ["Beginner", "Intermediate", "Advanced"] as const;
/**
 * Course levels by share of (user, course) pairs with time > 0 (DATA_CARD §3.2: 47,893 /
 * 50,224 / 7,207). Level is a course attribute.
 */
const LEVEL_SHARE = [0.4547, 0.4767, 0.0686];
/** 1,412 distinct authors (DATA_CARD §3.6). */
export const AUTHOR_COUNT = 1412;
/**
 * Zipf exponent of author popularity within a topic: courses per author are unknown; this
 * makes the top author carry a few percent of all rows, as the real one does (5.2%).
 */
const AUTHOR_ZIPF = 1.4;

export interface CourseVocabulary {
  readonly ids: string[];
  /** Tags of each course as written to course_tags.csv (may be empty). */
  readonly tags: string[][];
  readonly topic: Int32Array;
  readonly level: Uint8Array;
  readonly author: Int32Array;
  /** Target viewers: the popularity weight. */
  readonly weight: Float64Array;
  /** `"id",author,"Level",` — the constant middle of a view row. */
  readonly rowPrefix: string[];
  readonly tables: TopicTables;
  /** Every course in a seeded order: walked round-robin so each course gets viewers. */
  readonly cycle: Int32Array;
}

/**
 * Viewers per course quantiles (DATA_CARD §3.5: 725 of 5,942 courses have one viewer, p25 3,
 * median 7, p75 17, p90 39, p95 68, p99 190, max 1,009; p99.9 is our interpolation).
 */
const VIEWER_KNOTS: readonly (readonly [number, number])[] = [
  [0, 1], [0.122, 1], [0.25, 3], [0.5, 7], [0.75, 17], [0.9, 39], [0.95, 68], [0.99, 190], [0.999, 550], [1, 1009],
];

function viewerQuantile(p: number): number {
  for (let k = 1; k < VIEWER_KNOTS.length; k++) {
    const [p1, v1] = VIEWER_KNOTS[k];
    if (p <= p1) {
      const [p0, v0] = VIEWER_KNOTS[k - 1];
      return Math.exp(Math.log(v0) + ((p - p0) / (p1 - p0)) * (Math.log(v1) - Math.log(v0)));
    }
  }
  return VIEWER_KNOTS[VIEWER_KNOTS.length - 1][1];
}

/** Rows of a course_tags file: course ids in first-appearance order and their tags. */
export interface CourseTagRows {
  ids: string[];
  tags: string[][];
}

/**
 * Builds the course catalogue: the given real rows, or (when `real` is undefined) an invented
 * catalogue with the real course count, tags-per-course histogram and topic mix.
 */
export function courseVocabulary(rng: Rng, interests: InterestVocabulary, real?: CourseTagRows): CourseVocabulary {
  const topicShare = Float64Array.from(TOPICS, (t) => COURSE_TOPIC_COUNTS[t.name] ?? 1);
  const topicDraw = new AliasTable(topicShare);
  const n = real ? real.ids.length : REAL_COURSE_COUNT;
  // Popularity: the real viewers-per-course quantiles, assigned in a seeded order.
  const order = Int32Array.from({ length: n }, (_, i) => i);
  rng.shuffle(order);
  let weight = new Float64Array(n);
  for (let r = 0; r < n; r++) weight[order[r]] = viewerQuantile((r + 0.5) / n);
  let ids: string[];
  let tags: string[][];
  let topic: Int32Array;
  let level: Uint8Array;
  if (real) {
    ids = real.ids;
    tags = real.tags;
    topic = new Int32Array(ids.length);
    level = assignLevels(weight, (c) => levelHint(ids[c]));
    const votes = new Int32Array(TOPICS.length);
    for (let c = 0; c < ids.length; c++) {
      votes.fill(0);
      let best = -1;
      for (const t of tags[c]) {
        const k = classifyTag(t);
        if (k < 0) continue;
        votes[k]++;
        if (best < 0 || votes[k] > votes[best]) best = k;
      }
      topic[c] = best >= 0 ? best : topicDraw.draw(rng);
    }
  } else {
    ({ ids, tags, topic, level, weight } = inventCourses(rng, interests, topicDraw, weight, assignLevels(weight, () => -1)));
  }
  const author = assignAuthors(rng, topic);
  const rowPrefix = ids.map((id, c) => `${quote(id)},${author[c]},"${LEVELS[level[c]]}",`);
  const tables = topicTables(topic, weight);
  const cycle = Int32Array.from(ids.keys());
  rng.shuffle(cycle);
  return { ids, tags, topic, level, author, weight, rowPrefix, tables, cycle };
}

/** The level a real course's name suggests, or -1. */
function levelHint(id: string): number {
  if (/(^|-)(advanced|mastering|expert)(-|$)/.test(id)) return 2;
  if (/getting-started|fundamentals|(^|-)intro|beginner|basics|first-look|quick-start/.test(id)) return 0;
  return -1;
}

/**
 * Levels so that popularity-weighted shares match the real pair shares exactly: courses in
 * decreasing popularity take their hinted level unless it is already over its share, else
 * the level furthest below its share. (Random levels let a few hit courses skew the mix.)
 */
function assignLevels(weight: Float64Array, hint: (c: number) => number): Uint8Array {
  const n = weight.length;
  const byWeight = Array.from(weight.keys()).sort((a, b) => weight[b] - weight[a] || a - b);
  const level = new Uint8Array(n);
  const got = [0, 0, 0];
  let total = 0;
  for (const c of byWeight) {
    total += weight[c];
    const deficit = LEVEL_SHARE.map((s, l) => s * total - got[l]);
    const h = hint(c);
    let l = h >= 0 && deficit[h] > -0.5 * weight[c] ? h : deficit.indexOf(Math.max(...deficit));
    level[c] = l;
    got[l] += weight[c];
  }
  return level;
}

const PHRASES: readonly (readonly string[])[] = [
  ["getting-started", "fundamentals", "introduction", "first-look", "quick-start", "basics"],
  ["in-practice", "building-applications", "deep-dive", "playbook", "working-with", "patterns"],
  ["advanced", "mastering", "internals", "expert-techniques", "performance-tuning"],
];

function slug(tag: string): string {
  return tag
    .replace(/c#/g, "c-sharp")
    .replace(/\+\+/g, "pp")
    .replace(/\+/g, "-plus")
    .replace(/^\./, "dot")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

function inventCourses(rng: Rng, interests: InterestVocabulary, topicDraw: AliasTable, weight: Float64Array, level: Uint8Array) {
  const n = weight.length;
  const tagsPerCourse = new Histogram(TAGS_PER_COURSE_HIST);
  // Course tags come from the topic's interest tags, flattened (bundle members are separate
  // course tags), weighted by the square root of popularity so niche tags also get courses.
  const pool: { tags: string[]; table: AliasTable }[] = TOPICS.map((_, t) => {
    const ts: string[] = [];
    const w: number[] = [];
    for (const i of interests.tables.members[t]) {
      for (const tag of interests.tags[i]) {
        ts.push(tag);
        w.push(Math.sqrt(interests.weight[i]));
      }
    }
    return { tags: ts, table: new AliasTable(w) };
  });
  const ids: string[] = [];
  const tags: string[][] = [];
  const topic = new Int32Array(n);
  const used = new Set<string>();
  for (let c = 0; c < n; c++) {
    const t = topicDraw.draw(rng);
    topic[c] = t;
    const k = tagsPerCourse.draw(rng);
    const mine: string[] = [];
    const p = pool[t];
    for (let tries = 0; mine.length < Math.min(k, p.tags.length) && tries < 50; tries++) {
      const tag = p.tags[p.table.draw(rng)];
      if (!mine.includes(tag)) mine.push(tag);
    }
    const head = slug(mine[0] ?? p.tags[p.table.draw(rng)]);
    const phrases = PHRASES[level[c]];
    let id: string;
    do id = `${head}-${phrases[rng.int(phrases.length)]}-${1 + rng.int(9999)}`;
    while (used.has(id));
    used.add(id);
    ids.push(id);
    tags.push(mine);
  }
  // The real file is sorted by course id; so is ours.
  const perm = Array.from(ids.keys()).sort((a, b) => (ids[a] < ids[b] ? -1 : ids[a] > ids[b] ? 1 : 0));
  return {
    ids: perm.map((i) => ids[i]),
    tags: perm.map((i) => tags[i]),
    topic: Int32Array.from(perm, (i) => topic[i]),
    level: Uint8Array.from(perm, (i) => level[i]),
    weight: Float64Array.from(perm, (i) => weight[i]),
  };
}

/**
 * Authors teach within one topic; topics get authors in proportion to their courses, and
 * within a topic, courses go to authors by a Zipf law. Handles are 1..1412 in seeded order.
 */
function assignAuthors(rng: Rng, topic: Int32Array): Int32Array {
  const perTopic = new Float64Array(TOPICS.length);
  for (const t of topic) perTopic[t]++;
  const handles = Array.from({ length: AUTHOR_COUNT }, (_, i) => i + 1);
  rng.shuffle(handles);
  const pools: { handles: number[]; table: AliasTable }[] = [];
  let next = 0;
  const active = perTopic.reduce((a, b) => a + (b > 0 ? 1 : 0), 0);
  for (let t = 0; t < TOPICS.length; t++) {
    const share = perTopic[t] > 0 ? Math.max(1, Math.round(((AUTHOR_COUNT - active) * perTopic[t]) / topic.length)) : 0;
    const k = t === TOPICS.length - 1 ? Math.max(0, AUTHOR_COUNT - next) : Math.min(share, AUTHOR_COUNT - next);
    const mine = handles.slice(next, next + k);
    next += k;
    pools.push({
      handles: mine,
      table: mine.length ? new AliasTable(mine.map((_, r) => 1 / Math.pow(r + 1, AUTHOR_ZIPF))) : new AliasTable([1]),
    });
  }
  // Every author gets one course first (all 1,412 appear), the rest follow the Zipf law.
  const author = new Int32Array(topic.length);
  const courses = Int32Array.from(topic.keys());
  rng.shuffle(courses);
  const given = new Int32Array(TOPICS.length);
  for (const c of courses) {
    const p = pools[topic[c]];
    const g = given[topic[c]]++;
    author[c] = g < p.handles.length ? p.handles[g] : p.handles.length ? p.handles[p.table.draw(rng)] : handles[0];
  }
  return author;
}

/** A CSV string field: always quoted, inner quotes doubled (the real files' style). */
export function quote(s: string): string {
  return `"${s.includes('"') ? s.replaceAll('"', '""') : s}"`;
}
