/**
 * Shared shapes. Tables are columnar (one array per column) so that half a million rows cost a
 * handful of arrays rather than half a million objects; numeric columns are Float64Arrays.
 * Column names are the CSV header names, so readers, the database and the generator agree.
 */

/** `user_interests.csv`: one row per follow event and tag (re-follows repeat rows). */
export interface UserInterests {
  user_handle: string[];
  interest_tag: string[];
  /** `YYYY-MM-DD HH:MM:SS` */
  date_followed: string[];
}

/** `user_assessment_scores.csv`: one row per assessment taken. */
export interface UserAssessmentScores {
  user_handle: string[];
  assessment_tag: string[];
  /** `YYYY-MM-DD HH:MM:SS` */
  user_assessment_date: string[];
  user_assessment_score: Float64Array;
}

/** `user_course_views.csv`: seconds a user spent on a course on one day. */
export interface UserCourseViews {
  user_handle: string[];
  /** `YYYY-MM-DD` */
  view_date: string[];
  course_id: string[];
  author_handle: string[];
  /** `Beginner` | `Intermediate` | `Advanced` in the real data; kept as given. */
  level: string[];
  view_time_seconds: Float64Array;
}

/** `course_tags.csv`: one row per (course, tag). */
export interface CourseTags {
  course_id: string[];
  course_tags: string[];
}

/** The four input tables, validated and normalized (tags trimmed and lower-cased). */
export interface Tables {
  user_interests: UserInterests;
  user_assessment_scores: UserAssessmentScores;
  user_course_views: UserCourseViews;
  course_tags: CourseTags;
}

export type TableName = keyof Tables;
export const TABLE_NAMES: readonly TableName[] = [
  "user_interests",
  "user_assessment_scores",
  "user_course_views",
  "course_tags",
] as const;

/**
 * What the ranking methods read: the columns of {@link Tables} that carry signal. A full
 * {@link Tables} is a Dataset; loading from the database may fetch only these columns.
 */
export interface Dataset {
  user_interests: Pick<UserInterests, "user_handle" | "interest_tag">;
  user_assessment_scores: Pick<UserAssessmentScores, "user_handle" | "assessment_tag" | "user_assessment_score">;
  user_course_views: Pick<UserCourseViews, "user_handle" | "course_id" | "level" | "view_time_seconds">;
  course_tags: CourseTags;
}

/**
 * Top-n neighbours of every ranked user, in CSR form: user `i`'s neighbours are
 * `neighbors[offsets[i] .. offsets[i+1])`, best first, with `scores` alongside.
 * Neighbour entries are indices into `users`.
 */
export interface Rankings {
  /** Handles of the ranked users, in canonical handle order (see `compareHandles`). */
  users: string[];
  offsets: Int32Array;
  neighbors: Int32Array;
  scores: Float64Array;
}

/** Reports progress of long work: `done` of `total` units of `stage`. Must be cheap. */
export type ProgressFn = (stage: string, done: number, total: number) => void;
