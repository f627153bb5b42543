/**
 * The data card's figures, measured on generated CSV text: used by the generator's tests and
 * benchmark to compare a synthetic dataset with the real one. Assumes the generator's own
 * output format (no commas inside fields).
 */

export interface GeneratedStats {
  interests: {
    rows: number;
    users: number;
    perUser: Quantiles;
    singleRowUsers: number;
    events: number;
    singleEventUserShare: number;
    maxEventsPerUser: number;
    rowsPerEventMedian: number;
    exactDuplicateRows: number;
    distinctPairs: number;
    distinctTags: number;
    distinctTagsPerUser: Quantiles;
    julyShare: number;
    firstDate: string;
    lastDate: string;
    distinctDays: number;
    /** Rows per tag, for comparison with the real counts. */
    tagRows: Map<string, number>;
  };
  views: {
    rows: number;
    users: number;
    pairs: number;
    rowsPerPair: number;
    coursesPerUser: Quantiles;
    singleCourseUsers: number;
    viewersPerCourse: Quantiles;
    singleViewerCourses: number;
    distinctCourses: number;
    levelShare: Record<string, number>;
    authors: number;
    topAuthorShare: number;
    seconds: { mean: number; std: number; max: number; p995: number; zeroRows: number; zeroPairs: number };
    firstDay: string;
    lastDay: string;
    distinctDays: number;
    duplicateRows: number;
    /** (user, course, day) keys seen more than once. */
    repeatedUserCourseDay: number;
    courseIds: Set<string>;
  };
  assessments: {
    rows: number;
    users: number;
    usersWithViews: number;
    tags: number;
    scoreMean: number;
    scoreStd: number;
    firstDate: string;
    lastDate: string;
  };
  courseTags: { rows: number; courses: number; untagged: number };
}

export interface Quantiles {
  mean: number;
  std: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  p99: number;
  max: number;
}

/** Mean, std and order statistics (nearest rank) of a list of counts. */
export function quantiles(values: ArrayLike<number>): Quantiles {
  const v = Float64Array.from(values).sort();
  const n = v.length;
  let sum = 0;
  for (const x of v) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  const at = (p: number) => v[Math.min(n - 1, Math.max(0, Math.round(p * (n - 1))))];
  return { mean, std: Math.sqrt(ss / Math.max(1, n - 1)), p25: at(0.25), median: at(0.5), p75: at(0.75), p90: at(0.9), p99: at(0.99), max: v[n - 1] };
}

function* lines(text: string): Generator<string[]> {
  let start = text.indexOf("\n") + 1;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    if (end > start) yield text.slice(start, end).split(",").map((f) => (f.startsWith('"') ? f.slice(1, -1) : f));
    start = end + 1;
  }
}

/** How many times each key occurs. */
export function counts<K>(keys: Iterable<K>): Map<K, number> {
  const m = new Map<K, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** Measures the data card's statistics on the text of the generated files. */
export function measure(files: { interests: string; views: string; assessments: string; courseTags: string }): GeneratedStats {
  // ---- interests
  const perUser = new Map<string, number>();
  const events = new Map<string, number>();
  const rowKeys = new Map<string, number>();
  const pairs = new Set<string>();
  const tagRows = new Map<string, number>();
  const days = new Set<string>();
  let rows = 0;
  let july = 0;
  let first = "9999";
  let last = "";
  for (const [u, tag, date] of lines(files.interests)) {
    rows++;
    perUser.set(u, (perUser.get(u) ?? 0) + 1);
    const ev = `${u}|${date}`;
    events.set(ev, (events.get(ev) ?? 0) + 1);
    const key = `${ev}|${tag}`;
    rowKeys.set(key, (rowKeys.get(key) ?? 0) + 1);
    pairs.add(`${u}|${tag}`);
    tagRows.set(tag, (tagRows.get(tag) ?? 0) + 1);
    days.add(date.slice(0, 10));
    if (date.startsWith("2017-07")) july++;
    if (date < first) first = date;
    if (date > last) last = date;
  }
  let dups = 0;
  for (const c of rowKeys.values()) dups += c - 1;
  const eventsPerUser = counts(Array.from(events.keys(), (k) => k.slice(0, k.indexOf("|"))));
  const tagsPerUser = counts(Array.from(pairs, (k) => k.slice(0, k.indexOf("|"))));
  const interests = {
    rows,
    users: perUser.size,
    perUser: quantiles([...perUser.values()]),
    singleRowUsers: [...perUser.values()].filter((x) => x === 1).length,
    events: events.size,
    singleEventUserShare: [...eventsPerUser.values()].filter((x) => x === 1).length / eventsPerUser.size,
    maxEventsPerUser: Math.max(...eventsPerUser.values()),
    rowsPerEventMedian: quantiles([...events.values()]).median,
    exactDuplicateRows: dups,
    distinctPairs: pairs.size,
    distinctTags: tagRows.size,
    distinctTagsPerUser: quantiles([...tagsPerUser.values()]),
    julyShare: july / rows,
    firstDate: first,
    lastDate: last,
    distinctDays: days.size,
    tagRows,
  };

  // ---- views
  const pairRows = new Map<string, number>();
  const pairSecs = new Map<string, number>();
  const viewUsers = new Set<string>();
  const levelRows = new Map<string, number>();
  const authorRows = new Map<string, number>();
  const viewDays = new Set<string>();
  const rowSet = new Set<string>();
  const ucd = new Set<string>();
  const secs: number[] = [];
  let vrows = 0;
  let dupRows = 0;
  let repeated = 0;
  let zeroRows = 0;
  let firstDay = "9999";
  let lastDay = "";
  for (const f of lines(files.views)) {
    const [u, day, course, author, level, s] = f;
    vrows++;
    viewUsers.add(u);
    const pk = `${u}|${course}`;
    pairRows.set(pk, (pairRows.get(pk) ?? 0) + 1);
    const sec = Number(s);
    pairSecs.set(pk, (pairSecs.get(pk) ?? 0) + sec);
    levelRows.set(level, (levelRows.get(level) ?? 0) + 1);
    authorRows.set(author, (authorRows.get(author) ?? 0) + 1);
    viewDays.add(day);
    const line = f.join(",");
    if (rowSet.has(line)) dupRows++;
    else rowSet.add(line);
    const k = `${pk}|${day}`;
    if (ucd.has(k)) repeated++;
    else ucd.add(k);
    secs.push(sec);
    if (sec === 0) zeroRows++;
    if (day < firstDay) firstDay = day;
    if (day > lastDay) lastDay = day;
  }
  const coursesPerUser = counts(Array.from(pairRows.keys(), (k) => k.slice(0, k.indexOf("|"))));
  const viewersPerCourse = counts(Array.from(pairRows.keys(), (k) => k.slice(k.indexOf("|") + 1)));
  const sq = quantiles(secs);
  const sortedSecs = Float64Array.from(secs).sort();
  const views = {
    rows: vrows,
    users: viewUsers.size,
    pairs: pairRows.size,
    rowsPerPair: vrows / pairRows.size,
    coursesPerUser: quantiles([...coursesPerUser.values()]),
    singleCourseUsers: [...coursesPerUser.values()].filter((x) => x === 1).length,
    viewersPerCourse: quantiles([...viewersPerCourse.values()]),
    singleViewerCourses: [...viewersPerCourse.values()].filter((x) => x === 1).length,
    distinctCourses: viewersPerCourse.size,
    levelShare: Object.fromEntries([...levelRows].map(([l, c]) => [l, c / vrows])),
    authors: authorRows.size,
    topAuthorShare: Math.max(...authorRows.values()) / vrows,
    seconds: {
      mean: sq.mean,
      std: sq.std,
      max: sq.max,
      p995: sortedSecs[Math.round(0.995 * (sortedSecs.length - 1))],
      zeroRows,
      zeroPairs: [...pairSecs.values()].filter((x) => x === 0).length,
    },
    firstDay,
    lastDay,
    distinctDays: viewDays.size,
    duplicateRows: dupRows,
    repeatedUserCourseDay: repeated,
    courseIds: new Set(viewersPerCourse.keys()),
  };

  // ---- assessments
  const aUsers = new Set<string>();
  const aTags = new Set<string>();
  const scores: number[] = [];
  let aFirst = "9999";
  let aLast = "";
  for (const [u, tag, date, score] of lines(files.assessments)) {
    aUsers.add(u);
    aTags.add(tag);
    scores.push(Number(score));
    if (date < aFirst) aFirst = date;
    if (date > aLast) aLast = date;
  }
  const scoreQ = quantiles(scores);
  const assessments = {
    rows: scores.length,
    users: aUsers.size,
    usersWithViews: [...aUsers].filter((u) => viewUsers.has(u)).length,
    tags: aTags.size,
    scoreMean: scoreQ.mean,
    scoreStd: scoreQ.std,
    firstDate: aFirst,
    lastDate: aLast,
  };

  // ---- course tags
  const ctCourses = new Map<string, number>();
  let ctRows = 0;
  for (const [c, t] of lines(files.courseTags)) {
    ctRows++;
    ctCourses.set(c, (ctCourses.get(c) ?? 0) + (t ? 1 : 0));
  }
  const courseTags = { rows: ctRows, courses: ctCourses.size, untagged: [...ctCourses.values()].filter((x) => x === 0).length };
  return { interests, views, assessments, courseTags };
}
