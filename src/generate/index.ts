/**
 * Faithful synthetic Pluralsight-style data: the four challenge tables for N users, with the
 * statistics of the real data (DATA_CARD.md) and coherent per-user tastes, plus
 * taste_groups.csv recording each user's taste groups (the ground truth for similarity tests).
 */
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ProgressFn } from "../types.ts";
import { parseEncodedTable, type EncodedStrings } from "../read/csv.ts";
import { InputError } from "../read/errors.ts";
import { columnNames } from "../read/schema.ts";
import { CsvSink } from "./csv.ts";
import { StreamRng as Rng } from "../random.ts";
import { UserSynthesizer, type Model } from "./users.ts";
import { assessmentVocabulary, courseVocabulary, interestVocabulary, quote, type CourseTagRows } from "./vocabulary.ts";

export { TOPICS, classifyTag } from "./tastes.ts";
export { StreamRng } from "../random.ts";

export interface GenerateOptions {
  /** Number of users; handles are "1" … "N". */
  users: number;
  /** Same seed, same bytes. Default 42. */
  seed?: number;
  outDir: string;
  /** A real course_tags.csv to take course ids and tags from; otherwise a catalogue is invented. */
  courseTagsFile?: string;
  onProgress?: ProgressFn;
}

export interface GenerateSummary {
  users: number;
  seed: number;
  outDir: string;
  /** Data rows written per file (header excluded). */
  rows: {
    user_interests: number;
    user_course_views: number;
    user_assessment_scores: number;
    course_tags: number;
    taste_groups: number;
  };
  courses: number;
  courseSource: "invented" | string;
}

/** Column order of each file: the input schema's (DATA_CARD §1 and the real files), and the taste groups'. */
export const HEADERS = {
  user_interests: columnNames("user_interests"),
  user_course_views: columnNames("user_course_views"),
  user_assessment_scores: columnNames("user_assessment_scores"),
  course_tags: columnNames("course_tags"),
  taste_groups: ["user_handle", "groups"],
} as const;

/** Users per write batch: the unit of backpressure and progress reporting. */
const BATCH = 1000;

/**
 * Reads course ids and tags from a course_tags.csv with ingest's own reader (`parseEncodedTable`):
 * the same byte, header, column and value checks, and the same messages naming file, line and
 * column, so a file `generate` accepts is one `ingest` accepts. Tags are normalized as ingest
 * stores them. A course whose only rows have an empty tag stays in the catalogue, untagged (112 of
 * the real 5,942 courses): ingest drops those rows, but the reader has learned their course id.
 *
 * @throws {InputError} for a file ingest would refuse, or one without any course.
 */
export async function readCourseTags(path: string): Promise<CourseTagRows> {
  // Bad input (the file is the user's): an InputError, as the reader's, so the CLI exits 2.
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InputError({ file: path, path, expected: "a course_tags.csv file", got: "no such file" });
  }
  if (!st.isFile()) throw new InputError({ file: path, path, expected: "a course_tags.csv file", got: st.isDirectory() ? "a directory" : "not a regular file" });
  const encoded = await parseEncodedTable("course_tags", Bun.file(path).stream(), { file: path, path });
  const [courses, tagColumn] = encoded.columns as EncodedStrings[];
  // Every id the reader saw, in first-appearance order: dropped rows' ids included (see above).
  const ids = courses.dict;
  if (ids.length === 0) throw new InputError({ file: path, path, expected: "at least one course row", got: "none" });
  const tags: string[][] = ids.map(() => []);
  for (let i = 0; i < courses.codes.length; i++) {
    const own = tags[courses.codes[i]];
    const tag = tagColumn.dict[tagColumn.codes[i]];
    if (!own.includes(tag)) own.push(tag);
  }
  return { ids, tags };
}

/** Builds the vocabularies (deterministic for a seed). */
export function buildModel(seed: number, realCourses?: CourseTagRows): Model {
  const interests = interestVocabulary();
  const courses = courseVocabulary(new Rng(seed, -1), interests, realCourses);
  return { interests, courses, assessments: assessmentVocabulary() };
}

/**
 * Writes user_interests.csv, user_course_views.csv, user_assessment_scores.csv,
 * course_tags.csv and taste_groups.csv for `users` users into `outDir`. Rows stream to disk
 * in batches: memory does not grow with the number of users. Same seed → identical bytes.
 */
export async function generate(opts: GenerateOptions): Promise<GenerateSummary> {
  const { users, outDir, onProgress } = opts;
  const seed = opts.seed ?? 42;
  if (!Number.isInteger(users) || users < 1) throw new Error(`users must be a positive integer, got ${users}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const model = buildModel(seed, opts.courseTagsFile ? await readCourseTags(opts.courseTagsFile) : undefined);
  mkdirSync(outDir, { recursive: true });
  const sinks = {
    user_interests: new CsvSink(join(outDir, "user_interests.csv"), HEADERS.user_interests),
    user_course_views: new CsvSink(join(outDir, "user_course_views.csv"), HEADERS.user_course_views),
    user_assessment_scores: new CsvSink(join(outDir, "user_assessment_scores.csv"), HEADERS.user_assessment_scores),
    taste_groups: new CsvSink(join(outDir, "taste_groups.csv"), HEADERS.taste_groups),
  };
  const synth = new UserSynthesizer(model, seed);
  for (let start = 0; start < users; start += BATCH) {
    const end = Math.min(users, start + BATCH);
    const ints: string[] = [];
    const views: string[] = [];
    const assess: string[] = [];
    const groups: string[] = [];
    for (let i = start; i < end; i++) {
      const u = synth.user(i, String(i + 1));
      ints.push(u.interests);
      views.push(u.views);
      assess.push(u.assessments);
      groups.push(u.groups);
      sinks.user_interests.rows += u.interestRows;
      sinks.user_course_views.rows += u.viewRows;
      sinks.user_assessment_scores.rows += u.assessmentRows;
      sinks.taste_groups.rows++;
    }
    sinks.user_interests.push(ints.join(""));
    sinks.user_course_views.push(views.join(""));
    sinks.user_assessment_scores.push(assess.join(""));
    sinks.taste_groups.push(groups.join(""));
    await Promise.all(Object.values(sinks).map((s) => s.drain()));
    onProgress?.("generate", end, users);
  }
  const courseSink = new CsvSink(join(outDir, "course_tags.csv"), HEADERS.course_tags);
  const { ids, tags } = model.courses;
  for (let c = 0; c < ids.length; c++) {
    const id = quote(ids[c]);
    if (tags[c].length === 0) {
      courseSink.push(`${id},""\n`);
      courseSink.rows++;
    }
    for (const t of tags[c]) {
      courseSink.push(`${id},${quote(t)}\n`);
      courseSink.rows++;
    }
  }
  await Promise.all([...Object.values(sinks), courseSink].map((s) => s.close()));
  return {
    users,
    seed,
    outDir,
    rows: {
      user_interests: sinks.user_interests.rows,
      user_course_views: sinks.user_course_views.rows,
      user_assessment_scores: sinks.user_assessment_scores.rows,
      course_tags: courseSink.rows,
      taste_groups: sinks.taste_groups.rows,
    },
    courses: ids.length,
    courseSource: opts.courseTagsFile ?? "invented",
  };
}
