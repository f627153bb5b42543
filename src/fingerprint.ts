import { toDataset, type Dataset, type InputColumns } from "./dataset.ts";

/** Row counts and a content hash of the method inputs, recorded with every run. */
export interface Fingerprint {
  rows: Record<keyof InputColumns, number>;
  /** sha256 over every column of the method inputs, hex. */
  sha256: string;
}

/**
 * Fingerprints exactly what the ranking methods read, so two runs on equal input agree: the hash
 * covers the dataset's rows in order, spelled as the input tables spell them.
 */
export function fingerprintDataset(dataset: Dataset | InputColumns): Fingerprint {
  const data = toDataset(dataset).columns();
  const hasher = new Bun.CryptoHasher("sha256");
  const put = (column: ArrayLike<string | number>) => {
    // Chunked joins keep peak memory small on large inputs.
    const CHUNK = 65536;
    for (let i = 0; i < column.length; i += CHUNK) {
      const end = Math.min(column.length, i + CHUNK);
      const parts: string[] = [];
      for (let j = i; j < end; j++) parts.push(String(column[j]));
      hasher.update(parts.join("\x1f"));
      hasher.update("\x1e");
    }
    hasher.update("\x1d");
  };
  const { user_interests: ui, user_assessment_scores: ua, user_course_views: uv, course_tags: ct } = data;
  put(ui.user_handle);
  put(ui.interest_tag);
  put(ua.user_handle);
  put(ua.assessment_tag);
  put(ua.user_assessment_score);
  put(uv.user_handle);
  put(uv.course_id);
  put(uv.level);
  put(uv.view_time_seconds);
  put(ct.course_id);
  put(ct.course_tags);
  return {
    rows: {
      user_interests: ui.user_handle.length,
      user_assessment_scores: ua.user_handle.length,
      user_course_views: uv.user_handle.length,
      course_tags: ct.course_id.length,
    },
    sha256: hasher.digest("hex"),
  };
}
