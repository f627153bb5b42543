/**
 * One call for either ranking method, with the figures a run summary and the runs table need.
 * Pure: a dataset in, rankings and figures out; reading and storing are the caller's.
 */
import { factorizationRun, fmParameters, type FactorizationOptions, type FactorizationStats } from "./fm/index.ts";
import { similarityRun, type SimilarityOptions, type SimilarityStats } from "./similarity/index.ts";
import type { Dataset, Rankings } from "./types.ts";

export const METHODS = ["similarity", "factorization"] as const;
export type Method = (typeof METHODS)[number];

/** Options of {@link rankUsers}: the union of both methods' options. */
export type RankOptions = SimilarityOptions & FactorizationOptions;

export type RankResult =
  | { method: "similarity"; rankings: Rankings; stats: SimilarityStats; stages: Record<string, number>; params: Record<string, unknown> }
  | { method: "factorization"; rankings: Rankings; stats: FactorizationStats; stages: Record<string, number>; params: Record<string, unknown> };

/**
 * Ranks every user of `dataset` with `method`. `params` in the result are the effective
 * parameters (defaults filled in), as recorded in the runs table.
 */
export async function rankUsers(dataset: Dataset, method: Method, options: RankOptions = {}): Promise<RankResult> {
  const topN = options.topN ?? 10;
  if (method === "similarity") {
    const { rankings, stats } = await similarityRun(dataset, options);
    return {
      method,
      rankings,
      stats,
      stages: { matrix: ms(stats.seconds.matrix), topN: ms(stats.seconds.topN) },
      params: { topN, weights: stats.weights, threads: stats.threads },
    };
  }
  const { rankings, stats } = await factorizationRun(dataset, options);
  const p = fmParameters(options);
  return {
    method,
    rankings,
    stats,
    stages: { features: ms(stats.seconds.features), train: ms(stats.seconds.train), topN: ms(stats.seconds.topN) },
    params: { topN, ...p, threads: stats.threads },
  };
}

/** Seconds to the millisecond, as every stage time is reported. */
function ms(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
