/**
 * A learner's profile: what one person follows, watched and scored, in the input tables' terms.
 * It is how someone who is not in the data is described to a fitted model (fold-in, see
 * `Model.foldIn`), and how a user of the data is shown (the explorer, `recsys similar --profile`).
 *
 * Values are spelled as the input tables spell them and normalized the way ingest normalizes
 * them: interest and assessment tags trimmed and lower-cased, course ids trimmed.
 */
import type { Dataset } from "./dataset.ts";
import { normalizeTag } from "./read/values.ts";

/**
 * What one learner has.
 *
 * @example
 * const profile: Profile = { interests: ["python", "docker"], courses: { "python-fundamentals": 5400 }, assessments: { python: 182 } };
 */
export interface Profile {
  /** Interest tags followed. */
  interests?: string[];
  /** Total view time in seconds per course id (≥ 0). */
  courses?: Record<string, number>;
  /** Best score per assessment tag (≥ 0). */
  assessments?: Record<string, number>;
}

/** Items of a profile that a model does not know (reported, not fatal). */
export interface UnknownItems {
  interests: string[];
  courses: string[];
  assessments: string[];
}

/** No unknown items. */
export function noUnknownItems(): UnknownItems {
  return { interests: [], courses: [], assessments: [] };
}

/** Most items a profile may list (per block): a person, not a catalogue. */
export const MAX_PROFILE_ITEMS = 10_000;

/** A profile that is not valid: the message names the field. */
export class ProfileError extends RangeError {
  override name = "ProfileError";
}

/**
 * Checks a profile given as JSON (an API body, a `--profile` file) and normalizes it: tags trimmed
 * and lower-cased, course ids trimmed, duplicates merged (courses add their seconds, assessments
 * keep the best score). At least one item is required.
 * @throws {ProfileError} naming the field at fault, e.g. `profile.courses["c1"] must be a number ≥ 0`.
 */
export function parseProfile(value: unknown, name = "profile"): Required<Profile> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProfileError(`${name} must be an object like {"interests":["python"],"courses":{"c1":600},"assessments":{"python":180}}`);
  }
  for (const key of Object.keys(value)) {
    if (key !== "interests" && key !== "courses" && key !== "assessments") throw new ProfileError(`${name} has an unknown field ${JSON.stringify(key)} (expected interests, courses, assessments)`);
  }
  const v = value as Record<string, unknown>;
  const interests: string[] = [];
  if (v.interests !== undefined) {
    if (!Array.isArray(v.interests)) throw new ProfileError(`${name}.interests must be an array of tags`);
    if (v.interests.length > MAX_PROFILE_ITEMS) throw new ProfileError(`${name}.interests has more than ${MAX_PROFILE_ITEMS} tags`);
    const seen = new Set<string>();
    v.interests.forEach((t, i) => {
      if (typeof t !== "string") throw new ProfileError(`${name}.interests[${i}] must be a string`);
      const tag = normalizeTag(t);
      if (tag === "") throw new ProfileError(`${name}.interests[${i}] is empty`);
      if (!seen.has(tag)) interests.push(tag);
      seen.add(tag);
    });
  }
  const numbers = (field: "courses" | "assessments", key: (k: string) => string, merge: (a: number, b: number) => number): Record<string, number> => {
    const out: Record<string, number> = {};
    const given = v[field];
    if (given === undefined) return out;
    if (typeof given !== "object" || given === null || Array.isArray(given)) {
      throw new ProfileError(`${name}.${field} must be an object like {${field === "courses" ? '"c1":600' : '"python":180'}}`);
    }
    const entries = Object.entries(given);
    if (entries.length > MAX_PROFILE_ITEMS) throw new ProfileError(`${name}.${field} has more than ${MAX_PROFILE_ITEMS} entries`);
    for (const [k, x] of entries) {
      if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
        throw new ProfileError(`${name}.${field}[${JSON.stringify(k)}] must be a number ≥ 0 (${field === "courses" ? "seconds viewed" : "the best score"}), got ${JSON.stringify(x)}`);
      }
      const id = key(k);
      if (id === "") throw new ProfileError(`${name}.${field} has an empty ${field === "courses" ? "course id" : "tag"}`);
      out[id] = id in out ? merge(out[id], x) : x;
    }
    return out;
  };
  const courses = numbers("courses", (k) => k.trim(), (a, b) => a + b);
  const assessments = numbers("assessments", normalizeTag, Math.max);
  if (interests.length === 0 && Object.keys(courses).length === 0 && Object.keys(assessments).length === 0) {
    throw new ProfileError(`${name} is empty: give at least one interest, course or assessment`);
  }
  return { interests, courses, assessments };
}

/**
 * A user's profile as the dataset holds it: distinct interests, total seconds per course (summed
 * in row order, as the methods sum them), best score per assessment. Keys in vocabulary order.
 */
export function profileOf(dataset: Dataset, user: number): Required<Profile> {
  const ir = dataset.interestRows;
  const vr = dataset.viewRows;
  const ar = dataset.assessmentRows;
  const interests = new Set<number>();
  for (let r = 0; r < ir.user.length; r++) if (ir.user[r] === user) interests.add(ir.interest[r]);
  const seconds = new Map<number, number>();
  for (let r = 0; r < vr.user.length; r++) if (vr.user[r] === user) seconds.set(vr.course[r], (seconds.get(vr.course[r]) ?? 0) + vr.seconds[r]);
  const best = new Map<number, number>();
  for (let r = 0; r < ar.user.length; r++) {
    if (ar.user[r] !== user) continue;
    const a = ar.assessment[r];
    const prev = best.get(a);
    if (prev === undefined || ar.score[r] > prev) best.set(a, ar.score[r]);
  }
  const byId = (a: number, b: number) => a - b;
  return {
    interests: [...interests].sort(byId).map((i) => dataset.interests[i]),
    courses: Object.fromEntries([...seconds.keys()].sort(byId).map((c) => [dataset.courses[c], seconds.get(c)!])),
    assessments: Object.fromEntries([...best.keys()].sort(byId).map((a) => [dataset.assessments[a], best.get(a)!])),
  };
}
