/**
 * `recsys tune`: choosing a method's options by validation, without ever looking at the test items.
 *
 * 1. The evaluation split ({@link splitHoldout}, the same as `recsys evaluate` with the same seed
 *    and fraction) hides the test items. Only its training part is used from here on until step 4.
 * 2. A validation split is carved from that training part alone: the same hold-out again (seed + 1),
 *    so validation items are items users still have in training, and the test items are in neither
 *    the validation training data nor the validation items.
 * 3. A coordinate search over the method's {@link SearchSpace}: the defaults first, then each axis
 *    in turn (e.g. item weighting, normalization, shrinkage, block weights), every value of it with
 *    the best options so far; a value is kept when it beats the best validation score so far on the
 *    chosen metric. `budget` caps the number of trials (configurations fitted).
 * 4. The best options are fitted once on the evaluation split's training part and scored once on
 *    its test items: the figure `recsys evaluate` would print for them.
 */
import { toDataset, type Dataset, type InputColumns } from "./dataset.ts";
import { indexItems, scoreMethod, splitHoldout, type HoldoutSplit, type MethodResult } from "./evaluate.ts";
import { flagName, resolveOptions, type OptionSpec } from "./methods/method.ts";
import { getMethod } from "./methods/registry.ts";
import type { ProgressFn } from "./types.ts";

/** Named axes of option values to try; each value may set several options (e.g. a scheme and its parameter). */
export type SearchSpace = { axis: string; values: Record<string, unknown>[] }[];

const W = (interests: number, courses: number, assessments: number) => ({ weights: { interests, courses, assessments } });

/** The built-in search spaces (values near the defaults and the outside evaluation's findings, issue 15). */
export const SEARCH_SPACES: Record<string, SearchSpace> = {
  similarity: [
    {
      axis: "item weighting",
      values: [
        { itemWeighting: "none" },
        { itemWeighting: "idf", idfExponent: 0.25 },
        { itemWeighting: "idf", idfExponent: 0.5 },
        { itemWeighting: "idf", idfExponent: 1 },
        { itemWeighting: "bm25", bm25K1: 1.2, bm25B: 0.75 },
        { itemWeighting: "bm25", bm25K1: 1.2, bm25B: 1 },
        { itemWeighting: "bm25", bm25K1: 0.5, bm25B: 0.9 },
      ],
    },
    { axis: "normalize", values: [{ normalize: "blocks" }, { normalize: "whole" }] },
    { axis: "shrinkage", values: [{ shrinkage: 0 }, { shrinkage: 2 }, { shrinkage: 5 }, { shrinkage: 10 }, { shrinkage: 20 }, { shrinkage: 50 }] },
    { axis: "shrinkage count", values: [{ shrinkageCount: "items" }, { shrinkageCount: "columns" }] },
    { axis: "block weights", values: [W(0.5, 0.3, 0.2), W(1, 1, 1), W(0.3, 0.5, 0.2), W(0.3, 0.3, 0.4), W(0.6, 0.3, 0.1), W(0.7, 0.2, 0.1), W(0.4, 0.6, 0)] },
    // Last, so the slower SVD trials are two, not one per value of every later axis. Shrinkage
    // means nothing for embeddings (and given with a rank is refused): each value turns it off.
    // Full IDF before the SVD: with the weighting the search chose for plain cosine (none, on
    // 10k generated users) ranks 64 and 128 scored 5 points below it on validation.
    {
      axis: "rank",
      values: [{ rank: 0 }, { rank: 64, shrinkage: 0, itemWeighting: "idf", idfExponent: 1 }, { rank: 128, shrinkage: 0, itemWeighting: "idf", idfExponent: 1 }],
    },
  ],
  als: [
    { axis: "factors", values: [{ factors: 32 }, { factors: 64 }, { factors: 128 }] },
    { axis: "regularization", values: [{ regularization: 0.3 }, { regularization: 1 }, { regularization: 3 }] },
    { axis: "alpha", values: [{ alpha: 2 }, { alpha: 4 }, { alpha: 10 }, { alpha: 40 }] },
    { axis: "cgSteps", values: [{ cgSteps: 1 }, { cgSteps: 2 }] },
  ],
  factorization: [
    // The default training (als) first; BPR's own options (learning rate, epochs) only matter to it.
    { axis: "factors", values: [{ factors: 32 }, { factors: 48 }, { factors: 64 }] },
    { axis: "als iterations", values: [{ alsIterations: 5 }, { alsIterations: 10 }, { alsIterations: 15 }] },
    { axis: "training", values: [{ training: "als" }, { training: "bpr" }] },
  ],
};

export type TuneMetric = "recall" | "ndcg";

export interface TuneOptions {
  method: string;
  metric?: TuneMetric;
  /** Most configurations fitted in the search (default: every value of every axis once). */
  budget?: number;
  /** The search space (default {@link SEARCH_SPACES}[method]). */
  space?: SearchSpace;
  /** Options fixed for every trial (e.g. from flags); axes that set any of them are not searched. */
  fixed?: Record<string, unknown>;
  /** Hold-out share of both splits (default 0.2). */
  fraction?: number;
  /** Seed of the evaluation split (the validation split uses seed + 1) and of seeded methods (default 42). */
  seed?: number;
  neighbors?: number;
  k?: number;
  threads?: number;
  onProgress?: ProgressFn;
  /** Told each trial as it finishes. */
  onTrial?: (trial: Trial, index: number) => void;
}

/** One configuration tried on the validation split. */
export interface Trial {
  /** The axis being searched ("defaults" for the first trial). */
  axis: string;
  /** Effective options (defaults filled in). */
  options: Record<string, unknown>;
  /** The options that differ from the defaults, as CLI flags (see {@link optionFlags}). */
  flags: string;
  recall: number;
  ndcg: number;
  /** Seconds to fit and rank. */
  seconds: number;
}

export interface TuneReport {
  method: string;
  metric: TuneMetric;
  /** The validation split: users scored and items hidden (carved from the test split's training part). */
  validation: { scoredUsers: number; hiddenItems: number };
  /** The evaluation split's test part. */
  test: { scoredUsers: number; hiddenItems: number; result: MethodResult };
  trials: Trial[];
  best: Trial;
  seconds: number;
}

/**
 * The options of `options` that differ from the method's defaults, as CLI flags (`--name value`),
 * numbers rounded to 12 significant digits (normalized weights like 0.7000000000000001); options
 * without a flag are written `name=value`. Empty when every option is at its default.
 */
export function optionFlags(method: string, options: Record<string, unknown>): string {
  const specs: Record<string, OptionSpec<unknown>> = getMethod(method).options;
  const tidy = (text: string) => text.replace(/\d+\.\d{13,}/g, (m) => String(Number(Number(m).toPrecision(12))));
  const out: string[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    const text = tidy(spec.format(options[key]));
    if (text === tidy(spec.format(spec.default))) continue;
    out.push(spec.cli === false ? `${key}=${text}` : `--${flagName(key)} ${text}`);
  }
  return out.join(" ");
}

/** The validation split of an evaluation split: the same hold-out, drawn again from its training part only. */
export function validationSplit(test: HoldoutSplit, opts: { fraction?: number; seed?: number } = {}): HoldoutSplit {
  return splitHoldout(test.train, { fraction: opts.fraction ?? 0.2, seed: (opts.seed ?? 42) + 1 });
}

/** Runs the search (see the module comment). */
export async function tune(input: Dataset | InputColumns, opts: TuneOptions): Promise<TuneReport> {
  const t0 = performance.now();
  const method = getMethod(opts.method);
  const full = opts.space ?? SEARCH_SPACES[method.name];
  if (!full) throw new RangeError(`no search space for method ${method.name}; give one (library: tune's \`space\`)`);
  // An option fixed by the caller is not searched: axes that set it are left out.
  const fixedKeys = Object.keys(opts.fixed ?? {}).filter((key) => opts.fixed![key] !== undefined);
  // Values the method refuses only together with the fixed options (e.g. similarity's shrinkage
  // with a fixed --rank) are left out too, and an axis left with none.
  const refusedWithFixed = (v: Record<string, unknown>): boolean => {
    if (fixedKeys.length === 0) return false;
    try {
      resolveOptions(method, { ...opts.fixed, ...v });
      return false;
    } catch (e) {
      resolveOptions(method, v); // a value bad on its own is still an error, below
      return e instanceof RangeError;
    }
  };
  const space = full
    .filter((a) => !a.values.some((v) => Object.keys(v).some((key) => fixedKeys.includes(key))))
    .map((a) => ({ ...a, values: a.values.filter((v) => !refusedWithFixed(v)) }))
    .filter((a) => a.values.length > 0);
  const metric = opts.metric ?? "recall";
  const budget = opts.budget ?? Infinity;
  if (!(budget >= 1)) throw new RangeError(`budget must be at least 1 trial, got ${budget}`);
  const seed = opts.seed ?? 42;
  const fraction = opts.fraction ?? 0.2;
  const neighbors = opts.neighbors ?? 20;
  const k = opts.k ?? 10;
  const resolve = (given: Record<string, unknown>): Record<string, unknown> => {
    const o: Record<string, unknown> = { ...opts.fixed, ...given };
    if ("seed" in method.options && o.seed === undefined) o.seed = seed;
    return resolveOptions(method, o) as Record<string, unknown>;
  };
  // Every value of the space is checked before any work.
  for (const a of space) for (const v of a.values) resolve(v);

  const test = splitHoldout(toDataset(input), { fraction, seed });
  const validation = validationSplit(test, { fraction, seed });
  const index = indexItems(validation.train, validation.space);
  const trials: Trial[] = [];
  const tried = new Map<string, Trial>();
  const run = async (axis: string, given: Record<string, unknown>): Promise<Trial> => {
    const options = resolve(given);
    const key = JSON.stringify(options);
    const seen = tried.get(key);
    if (seen) return seen;
    const { rows } = await scoreMethod(validation, index, method.name, options, { neighbors, k, threads: opts.threads, onProgress: opts.onProgress, ownScores: false });
    const r = rows[0];
    const trial: Trial = { axis, options, flags: optionFlags(method.name, options), recall: r.recall, ndcg: r.ndcg, seconds: r.seconds };
    tried.set(key, trial);
    trials.push(trial);
    opts.onTrial?.(trial, trials.length - 1);
    return trial;
  };

  let chosen: Record<string, unknown> = {};
  let best = await run("defaults", chosen);
  search: for (const a of space) {
    let bestHere: Record<string, unknown> | undefined;
    for (const v of a.values) {
      if (trials.length >= budget && !tried.has(JSON.stringify(resolve({ ...chosen, ...v })))) break search;
      const t = await run(a.axis, { ...chosen, ...v });
      if (t[metric] > best[metric]) {
        best = t;
        bestHere = v;
      }
    }
    if (bestHere) chosen = { ...chosen, ...bestHere };
  }

  const testIndex = indexItems(test.train, test.space);
  const { rows } = await scoreMethod(test, testIndex, method.name, best.options, { neighbors, k, threads: opts.threads, onProgress: opts.onProgress, ownScores: false });
  return {
    method: method.name,
    metric,
    validation: { scoredUsers: validation.scoredUsers, hiddenItems: validation.hidden.length },
    test: { scoredUsers: test.scoredUsers, hiddenItems: test.hidden.length, result: rows[0] },
    trials,
    best,
    seconds: (performance.now() - t0) / 1000,
  };
}
