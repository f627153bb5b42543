/**
 * Sparse feature rows for the factorization machine.
 *
 * Every distinct observed (user, item) pair is one positive training example. Items live in three
 * namespaces: interest tags, courses and assessment tags. A training row for (u, i) is
 *
 *   context features  — the user u (x = 1) and, for an assessment, the band of u's best score on it
 *                       (low < 100 ≤ mid < 200 ≤ high; x = 1);
 *   item features     — the item's own id (x = 1) and its side features: a course's tags
 *                       (x = 1/#tags each, so a course's tags weigh as much as one feature) and its
 *                       level (x = 1); with `shareTags` (off by default: it over-smooths), an
 *                       interest tag or assessment tag also carries the topic feature of the same
 *                       name, so "python" the interest, the assessment and courses tagged
 *                       "python" share one latent vector.
 *
 * The score band is context, not an item property: a sampled negative item is scored with the same
 * context as its positive, so in the BPR difference the band's interactions with the user cancel and
 * only its interactions with the item remain.
 *
 * Feature ids are laid out as [users | items | topics | levels | bands] so that a user's latent
 * vector is row `u` of the factor matrix.
 */
import { compactIds, usedIds, type Dataset } from "../../dataset.ts";

/** Item namespaces, in feature-id order. */
export const NAMESPACES = ["interest", "course", "assessment"] as const;
export type Namespace = (typeof NAMESPACES)[number];

export const SCORE_BANDS = ["low", "mid", "high"] as const;

/** Score band of an assessment score: low < 100 ≤ mid < 200 ≤ high (real scores span ~0–300). */
export function scoreBand(score: number): number {
  return score < 100 ? 0 : score < 200 ? 1 : 2;
}

/** How a positive's interaction strength weighs its loss. */
export type Weighting = "none" | "log";

export interface FeatureOptions {
  /** Link interest/assessment tags to course tags of the same name (default false). */
  shareTags?: boolean;
  /**
   * `log`: a course example weighs (1 + ln(1 + minutes)) divided by that quantity's mean over all
   * course examples (mean weight 1, long views count more, a zero-second view still counts);
   * interests and assessments weigh 1 (the score enters as the band feature). `none`: all weigh 1.
   */
  weighting?: Weighting;
  /** Scale of the side features' values relative to the item id's (default 1). */
  sideWeight?: number;
}

/** Everything the trainer needs, in typed arrays. */
export interface FMData {
  /** User handles in canonical order; user u is feature u. */
  users: string[];
  nUsers: number;
  nItems: number;
  nFeatures: number;
  /** First feature id of the items; item i is feature `itemBase + i`. */
  itemBase: number;
  /** Items of namespace s are `[nsStart[s], nsStart[s+1])`. */
  nsStart: Int32Array;
  /** Item names (`namespace:key`), for debugging and tests. */
  itemNames: string[];
  /** Item feature rows (CSR over items): the item id feature first, then its side features. */
  itemOffsets: Int32Array;
  itemFeatures: Int32Array;
  itemValues: Float64Array;
  /** Positive examples: user, item, context feature (-1 if none), weight. */
  posUser: Int32Array;
  posItem: Int32Array;
  posContext: Int32Array;
  posWeight: Float64Array;
  /**
   * The items of namespace s's positives, one entry per positive (`nsItems[s]`): a uniform draw
   * from it is a popularity-proportional draw of an item.
   */
  nsItems: Int32Array[];
  /** Each user's items, sorted (CSR over users), to reject observed items as negatives. */
  userOffsets: Int32Array;
  userItems: Int32Array;
  /** The mean raw course weight the course positives' weights were divided by (1 without `log` weighting). */
  courseWeightMean: number;
}

interface Raw {
  user: Int32Array;
  item: Int32Array;
  value: Float64Array;
}


/** Builds the FM's feature rows and positive examples from a dataset. */
export function buildFeatures(dataset: Dataset, opts: FeatureOptions = {}): FMData {
  const shareTags = opts.shareTags ?? false;
  const weighting = opts.weighting ?? "log";
  const side = opts.sideWeight ?? 1;
  const ir = dataset.interestRows;
  const ar = dataset.assessmentRows;
  const vr = dataset.viewRows;
  const cr = dataset.courseTagRows;

  const users = [...dataset.users];
  const nUsers = users.length;

  // Items are the dataset's items that occur, in its sorted order.
  const interest = compactIds(usedIds(ir.interest, dataset.interests.length));
  const course = compactIds(usedIds(vr.course, dataset.courses.length));
  const assessment = compactIds(usedIds(ar.assessment, dataset.assessments.length));
  const pick = (vocab: readonly string[], map: Int32Array) => vocab.filter((_, i) => map[i] >= 0);
  const interestTags = pick(dataset.interests, interest.map);
  const courses = pick(dataset.courses, course.map);
  const assessmentTags = pick(dataset.assessments, assessment.map);
  const nsStart = new Int32Array([0, interestTags.length, interestTags.length + courses.length, interestTags.length + courses.length + assessmentTags.length]);
  const nItems = nsStart[3];
  const itemBase = nUsers;
  const itemNames = [
    ...interestTags.map((t) => `interest:${t}`),
    ...courses.map((c) => `course:${c}`),
    ...assessmentTags.map((t) => `assessment:${t}`),
  ];

  // Course side information: tags from course_tags (in row order, once each), level from the
  // first view row naming it.
  const courseTagLists: string[][] = courses.map(() => []);
  for (let r = 0; r < cr.course.length; r++) {
    const c = course.map[cr.course[r]];
    if (c < 0) continue;
    const list = courseTagLists[c];
    const t = dataset.tags[cr.tag[r]];
    if (t && !list.includes(t)) list.push(t);
  }
  const courseLevel: string[] = new Array(courses.length).fill("");
  for (let r = 0; r < vr.course.length; r++) {
    const c = course.map[vr.course[r]];
    const level = dataset.levels[vr.level[r]];
    if (c >= 0 && courseLevel[c] === "" && level) courseLevel[c] = level;
  }

  const topicSet = new Set<string>();
  for (const list of courseTagLists) for (const t of list) topicSet.add(t);
  if (shareTags) {
    for (const t of interestTags) topicSet.add(t);
    for (const t of assessmentTags) topicSet.add(t);
  }
  const topics = [...topicSet].sort();
  const topicBase = itemBase + nItems;
  const topicIndex = new Map<string, number>();
  topics.forEach((t, i) => topicIndex.set(t, topicBase + i));
  const levels = [...new Set(courseLevel.filter((l) => l !== ""))].sort();
  const levelBase = topicBase + topics.length;
  const levelIndex = new Map<string, number>();
  levels.forEach((l, i) => levelIndex.set(l, levelBase + i));
  const bandBase = levelBase + levels.length;
  const nFeatures = bandBase + SCORE_BANDS.length;

  // Item feature rows.
  const itemOffsets = new Int32Array(nItems + 1);
  const feats: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < nItems; i++) {
    feats.push(itemBase + i);
    vals.push(1);
    if (i >= nsStart[1] && i < nsStart[2]) {
      const c = i - nsStart[1];
      const list = courseTagLists[c];
      for (const t of list) {
        feats.push(topicIndex.get(t)!);
        vals.push(side / list.length);
      }
      if (courseLevel[c]) {
        feats.push(levelIndex.get(courseLevel[c])!);
        vals.push(side);
      }
    } else if (shareTags) {
      const name = i < nsStart[1] ? interestTags[i] : assessmentTags[i - nsStart[2]];
      feats.push(topicIndex.get(name)!);
      vals.push(side);
    }
    itemOffsets[i + 1] = feats.length;
  }

  // Raw rows → distinct (user, item) pairs, aggregated per namespace.
  const nRaw = ir.user.length + vr.user.length + ar.user.length;
  const raw: Raw = { user: new Int32Array(nRaw), item: new Int32Array(nRaw), value: new Float64Array(nRaw) };
  let r = 0;
  for (let k = 0; k < ir.user.length; k++) {
    raw.user[r] = ir.user[k];
    raw.item[r++] = nsStart[0] + interest.map[ir.interest[k]];
  }
  for (let k = 0; k < vr.user.length; k++) {
    raw.user[r] = vr.user[k];
    raw.item[r] = nsStart[1] + course.map[vr.course[k]];
    // Seconds, summed per pair and turned into minutes once, as a profile's seconds are (fold-in
    // then weighs an existing user's courses to the same bits).
    raw.value[r++] = vr.seconds[k];
  }
  for (let k = 0; k < ar.user.length; k++) {
    raw.user[r] = ar.user[k];
    raw.item[r] = nsStart[2] + assessment.map[ar.assessment[k]];
    raw.value[r++] = ar.score[k];
  }
  const nKept = r;

  // Bucket raw rows by user (counting sort), then merge duplicates with a per-item stamp.
  const rowStart = new Int32Array(nUsers + 1);
  for (let k = 0; k < nKept; k++) rowStart[raw.user[k] + 1]++;
  for (let u = 0; u < nUsers; u++) rowStart[u + 1] += rowStart[u];
  const fill = rowStart.slice(0, nUsers);
  const byUser = new Int32Array(nKept);
  for (let k = 0; k < nKept; k++) byUser[fill[raw.user[k]]++] = k;

  const stamp = new Int32Array(nItems).fill(-1);
  const slot = new Int32Array(nItems);
  const pairUser = new Int32Array(nRaw);
  const pairItem = new Int32Array(nRaw);
  const pairValue = new Float64Array(nRaw);
  const userOffsets = new Int32Array(nUsers + 1);
  let nPairs = 0;
  for (let u = 0; u < nUsers; u++) {
    for (let q = rowStart[u]; q < rowStart[u + 1]; q++) {
      const k = byUser[q];
      const item = raw.item[k];
      const v = raw.value[k];
      if (stamp[item] !== u) {
        stamp[item] = u;
        slot[item] = nPairs;
        pairUser[nPairs] = u;
        pairItem[nPairs] = item;
        pairValue[nPairs] = v;
        nPairs++;
      } else if (item >= nsStart[2]) {
        // Assessments: the best score; courses: total seconds.
        const p = slot[item];
        if (v > pairValue[p]) pairValue[p] = v;
      } else if (item >= nsStart[1]) {
        pairValue[slot[item]] += v;
      }
    }
    userOffsets[u + 1] = nPairs;
  }

  const posUser = pairUser.slice(0, nPairs);
  const posItem = pairItem.slice(0, nPairs);
  const posContext = new Int32Array(nPairs).fill(-1);
  const posWeight = new Float64Array(nPairs).fill(1);
  let logSum = 0;
  let nCourse = 0;
  for (let p = 0; p < nPairs; p++) {
    const item = posItem[p];
    if (item >= nsStart[2]) posContext[p] = bandBase + scoreBand(pairValue[p]);
    else if (item >= nsStart[1] && weighting === "log") {
      posWeight[p] = 1 + Math.log1p(pairValue[p] / 60);
      logSum += posWeight[p];
      nCourse++;
    }
  }
  const courseWeightMean = nCourse > 0 ? logSum / nCourse : 1;
  if (nCourse > 0) {
    for (let p = 0; p < nPairs; p++) if (posItem[p] >= nsStart[1] && posItem[p] < nsStart[2]) posWeight[p] /= courseWeightMean;
  }

  const userItems = posItem.slice();
  for (let u = 0; u < nUsers; u++) userItems.subarray(userOffsets[u], userOffsets[u + 1]).sort();

  const nsCount = [0, 0, 0];
  for (let p = 0; p < nPairs; p++) nsCount[namespaceOf(nsStart, posItem[p])]++;
  const nsItems = nsCount.map((n) => new Int32Array(n));
  const nsFill = [0, 0, 0];
  for (let p = 0; p < nPairs; p++) {
    const s = namespaceOf(nsStart, posItem[p]);
    nsItems[s][nsFill[s]++] = posItem[p];
  }

  return {
    users,
    nUsers,
    nItems,
    nFeatures,
    itemBase,
    nsStart,
    itemNames,
    itemOffsets,
    itemFeatures: Int32Array.from(feats),
    itemValues: Float64Array.from(vals),
    posUser,
    posItem,
    posContext,
    posWeight,
    nsItems,
    userOffsets,
    userItems,
    courseWeightMean,
  };
}

/** Namespace index (0 interest, 1 course, 2 assessment) of an item. */
export function namespaceOf(nsStart: Int32Array, item: number): number {
  return item < nsStart[1] ? 0 : item < nsStart[2] ? 1 : 2;
}

/** True if user `u` has item `item` (binary search in its sorted items). */
export function hasItem(data: FMData, u: number, item: number): boolean {
  let lo = data.userOffsets[u];
  let hi = data.userOffsets[u + 1] - 1;
  const a = data.userItems;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = a[mid];
    if (x === item) return true;
    if (x < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
