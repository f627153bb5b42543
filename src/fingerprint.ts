import { toDataset, type Dataset, type InputColumns } from "./dataset.ts";

/** Row counts and a content hash of the method inputs, recorded with every run. */
export interface Fingerprint {
  rows: Record<keyof InputColumns, number>;
  /** sha256 over every column of the method inputs, hex. */
  sha256: string;
}

/**
 * Fingerprints exactly what the ranking methods read, so two runs on equal input agree: the hash
 * covers the dataset's rows in order, spelled as the input tables spell them (each value looked
 * up in its vocabulary as it is hashed, so no column is rebuilt for it).
 */
export function fingerprintDataset(input: Dataset | InputColumns): Fingerprint {
  const d = toDataset(input);
  const hasher = new Bun.CryptoHasher("sha256");
  /** Hashes `length` values, `value(i)` each, in chunks: peak memory stays small on large inputs. */
  const put = (length: number, value: (i: number) => string | number) => {
    const CHUNK = 65536;
    for (let i = 0; i < length; i += CHUNK) {
      const end = Math.min(length, i + CHUNK);
      const parts: string[] = [];
      for (let j = i; j < end; j++) parts.push(String(value(j)));
      hasher.update(parts.join("\x1f"));
      hasher.update("\x1e");
    }
    hasher.update("\x1d");
  };
  const ids = (column: Int32Array, vocab: readonly string[]) => put(column.length, (i) => vocab[column[i]]);
  const numbers = (column: Float64Array) => put(column.length, (i) => column[i]);
  const { interestRows: ir, assessmentRows: ar, viewRows: vr, courseTagRows: cr } = d;
  ids(ir.user, d.users);
  ids(ir.interest, d.interests);
  ids(ar.user, d.users);
  ids(ar.assessment, d.assessments);
  numbers(ar.score);
  ids(vr.user, d.users);
  ids(vr.course, d.courses);
  ids(vr.level, d.levels);
  numbers(vr.seconds);
  ids(cr.course, d.courses);
  ids(cr.tag, d.tags);
  return {
    rows: {
      user_interests: ir.user.length,
      user_assessment_scores: ar.user.length,
      user_course_views: vr.user.length,
      course_tags: cr.course.length,
    },
    sha256: hasher.digest("hex"),
  };
}
