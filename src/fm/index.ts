/**
 * Method 2: a factorization machine trained on implicit feedback; users ranked by the cosine of
 * their latent factors.
 *
 * Training (see `buildFeatures` and `trainFMParams`): every distinct observed (user, item) pair,
 * over interest tags, courses and assessment tags, is a positive example whose row holds the user,
 * the item and the item's side features (a course's tags and level; an assessment's score band).
 * BPR pushes it above sampled items of the same namespace the user does not have. In the BPR
 * difference ŷ(u,i) − ŷ(u,j) every user-only term (w0, the user's bias, its interactions with
 * shared context) cancels, so the user enters only through ⟨v_u, item side⟩: v_u is exactly the
 * user's taste direction, and two users are alike when their v_u point the same way.
 */
import { factorTopN, type FactorTopNOptions } from "../rank/factors.ts";
import { autoThreads } from "../parallel.ts";
import { usersWithNeighbors } from "../rank/selections.ts";
import type { Dataset, ProgressFn, Rankings } from "../types.ts";
import { buildFeatures, NAMESPACES, type FMData, type Weighting } from "./features.ts";
import type { FMParams } from "./model.ts";
import { trainFMParams, type EpochStats } from "./train.ts";

export { buildFeatures, scoreBand, type FMData, type Weighting } from "./features.ts";
export { gradient, predict, type FMParams } from "./model.ts";
export { trainFMParams, type EpochStats, type TrainOptions } from "./train.ts";

/**
 * Defaults, chosen with `recsys evaluate` on generated 10k-user data (held-out recall@10 / NDCG@10
 * of neighbour votes, split seed 7; the README reports seed 42): each value below was varied alone
 * around the others and kept where the held-out figures peaked. Most were tuned on an earlier
 * version of the generator and re-checked on the current one (negative sampling was re-tuned).
 */
export const FM_DEFAULTS = {
  /** Latent dimension k (the value; 64 gained < 0.5 points of recall at twice the time). */
  factors: 32,
  /**
   * Passes over the shuffled positives. 5 at the step size below keeps training + ranking of 10k
   * users inside the 10 s budget; it costs 0.2 point of recall@10 against 6 epochs at 0.045 on the
   * tuning split (0.3026 vs 0.3050) and nothing measurable on the reporting split. 8 epochs at 0.03
   * scored as 6 at 0.045; 15–20 epochs over-fit (−0.5–1 point).
   */
  epochs: 5,
  /**
   * First epoch's SGD step; decays linearly to a tenth of it by the last epoch. 0.055 for 5
   * epochs (0.05 scored the same; with 6 epochs, 0.01 learned too slowly and 0.06–0.1 over-shot).
   */
  learningRate: 0.055,
  /** L2 penalty on the parameters each step touches (0.0005–0.002 overfit; 0.01–0.03 best). */
  regularization: 0.03,
  /** Sampled negatives per positive (4 gave nothing over 2 at twice the sampling cost). */
  negatives: 2,
  /**
   * Share of negatives drawn in proportion to item popularity rather than uniformly. On the
   * current generator's data 1 beat 0.5 by 1.3 points of recall and 0 lost 4 points: negatives a
   * user plausibly skipped teach taste; uniform ones mostly teach popularity.
   */
  popularNegatives: 1,
  /** Standard deviation of the initial item and side factors (0.05 and 0.5 were worse). */
  initStd: 0.2,
  /**
   * Initial user factors: 0, so a user's factor is learned signal only. Random starting noise
   * survives in the factors of users with few interactions and blurs their cosines (−1 point).
   */
  userInitStd: 0,
  /** Scale of side-feature values relative to the item id's (0 lost 0.5 point: side features help). */
  sideWeight: 1,
  /**
   * Whether an interest/assessment tag shares a latent vector with course tags of the same name.
   * Off: sharing over-smooths (−2 points of recall).
   */
  shareTags: false,
  /** Course examples weigh by log view minutes (made no measurable difference; kept as documented). */
  weighting: "log" as Weighting,
  seed: 42,
  topN: 10,
} as const;

/** Options of {@link trainFM}. Every field has a default in {@link FM_DEFAULTS}. */
export interface FMOptions {
  factors?: number;
  epochs?: number;
  learningRate?: number;
  regularization?: number;
  negatives?: number;
  seed?: number;
  popularNegatives?: number;
  /** Link interest/assessment tags to course tags of the same name (default false). */
  shareTags?: boolean;
  /** How interaction strength weighs examples (default `log`: longer course views weigh more). */
  weighting?: Weighting;
  /** Standard deviation of the initial factors. */
  initStd?: number;
  /** Scale of side-feature values (course tags and level, shared tags) relative to the item id. */
  sideWeight?: number;
  /** Standard deviation of the initial user factors (default: `initStd`). */
  userInitStd?: number;
  /** Step size of user factors relative to the learning rate. */
  userRate?: number;
  /** Last epoch's step size as a fraction of the first. */
  finalRate?: number;
  onEpoch?: (stats: EpochStats) => void;
  onProgress?: ProgressFn;
}

/** A trained model. */
export interface FMModel {
  /** User handles in canonical order; user u's factors are `params.v[u*k .. u*k+k)`. */
  users: string[];
  k: number;
  params: FMParams;
  data: FMData;
  epochs: EpochStats[];
}

function checkOptions(o: Required<Pick<FMOptions, "factors" | "epochs" | "learningRate" | "regularization" | "negatives" | "seed" | "popularNegatives">>): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  int("factors", o.factors, 1);
  int("epochs", o.epochs, 0);
  int("negatives", o.negatives, 1);
  if (!Number.isFinite(o.seed)) throw new RangeError(`seed must be a number, got ${o.seed}`);
  if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate)) throw new RangeError(`learningRate must be a positive number, got ${o.learningRate}`);
  if (!(o.regularization >= 0) || !Number.isFinite(o.regularization)) throw new RangeError(`regularization must be a non-negative number, got ${o.regularization}`);
  if (!(o.popularNegatives >= 0 && o.popularNegatives <= 1)) throw new RangeError(`popularNegatives must lie in [0, 1], got ${o.popularNegatives}`);
}

/** Resolves options against {@link FM_DEFAULTS}. */
export function fmParameters(opts: FMOptions = {}) {
  const p = {
    factors: opts.factors ?? FM_DEFAULTS.factors,
    epochs: opts.epochs ?? FM_DEFAULTS.epochs,
    learningRate: opts.learningRate ?? FM_DEFAULTS.learningRate,
    regularization: opts.regularization ?? FM_DEFAULTS.regularization,
    negatives: opts.negatives ?? FM_DEFAULTS.negatives,
    seed: opts.seed ?? FM_DEFAULTS.seed,
    popularNegatives: opts.popularNegatives ?? FM_DEFAULTS.popularNegatives,
    shareTags: opts.shareTags ?? FM_DEFAULTS.shareTags,
    weighting: opts.weighting ?? FM_DEFAULTS.weighting,
    initStd: opts.initStd ?? FM_DEFAULTS.initStd,
    sideWeight: opts.sideWeight ?? FM_DEFAULTS.sideWeight,
    userInitStd: opts.userInitStd ?? FM_DEFAULTS.userInitStd,
    userRate: opts.userRate ?? 1,
    finalRate: opts.finalRate ?? 0.1,
  };
  checkOptions(p);
  return p;
}

/** Trains a factorization machine on a dataset (deterministic for a seed). */
export function trainFM(dataset: Dataset, opts: FMOptions = {}): FMModel {
  return fit(dataset, opts).model;
}

/** {@link trainFM} with seconds spent building features and training. */
function fit(dataset: Dataset, opts: FMOptions): { model: FMModel; seconds: { features: number; train: number } } {
  const p = fmParameters(opts);
  const t0 = performance.now();
  opts.onProgress?.("features", 0, 1);
  const data = buildFeatures(dataset, { shareTags: p.shareTags, weighting: p.weighting, sideWeight: p.sideWeight });
  opts.onProgress?.("features", 1, 1);
  const t1 = performance.now();
  const { params, epochs } = trainFMParams(data, { ...p, onEpoch: opts.onEpoch, onProgress: opts.onProgress });
  const t2 = performance.now();
  return { model: { users: data.users, k: p.factors, params, data, epochs }, seconds: { features: (t1 - t0) / 1000, train: (t2 - t1) / 1000 } };
}

/**
 * The users × k matrix of the model's user factors (a copy). A user without any training example
 * (e.g. only rows with empty tags) was never trained: its row is zero, so it gets no neighbours.
 */
export function userFactors(model: FMModel): Float64Array {
  const { k } = model;
  const out = model.params.v.slice(0, model.users.length * k);
  const offsets = model.data.userOffsets;
  for (let u = 0; u < model.users.length; u++) if (offsets[u + 1] === offsets[u]) out.fill(0, u * k, u * k + k);
  return out;
}

/**
 * Ranks users by the cosine of their factor rows (`factors`: users × k, row-major, rows in the
 * order of `users`): every user's `topN` others, best first, ties by lower index, self excluded; a
 * user with an all-zero row gets no neighbours and is nobody's neighbour.
 */
export async function rankByFactors(
  users: string[],
  factors: Float64Array,
  k: number,
  opts: FactorTopNOptions = {},
): Promise<Rankings> {
  const { offsets, neighbors, scores } = await factorTopN(factors, users.length, k, opts);
  return { users, offsets, neighbors, scores };
}

/** Options of {@link rankByFactorization}. */
export interface FactorizationOptions extends FMOptions {
  topN?: number;
  threads?: number;
}

/** Figures of a factorization run, for summaries and the runs table. */
export interface FactorizationStats {
  users: number;
  usersWithNeighbors: number;
  /** Distinct items per namespace. */
  items: Record<(typeof NAMESPACES)[number], number>;
  features: number;
  positives: number;
  epochs: EpochStats[];
  threads: number;
  /** Wall-clock seconds per stage. */
  seconds: { features: number; train: number; topN: number };
}

/** {@link rankByFactorization} with the run's figures and the model. */
export async function factorizationRun(dataset: Dataset, opts: FactorizationOptions = {}): Promise<{ rankings: Rankings; stats: FactorizationStats; model: FMModel }> {
  const { model, seconds } = fit(dataset, opts);
  const { data, epochs } = model;
  const t2 = performance.now();
  let threads = autoThreads(data.nUsers, opts.threads);
  const rankings = await rankByFactors(data.users, userFactors(model), model.k, {
    topN: opts.topN ?? FM_DEFAULTS.topN,
    threads,
    onProgress: opts.onProgress,
    onThreads: (used) => (threads = used),
  });
  const t3 = performance.now();
  const ns = data.nsStart;
  return {
    rankings,
    model,
    stats: {
      users: data.nUsers,
      usersWithNeighbors: usersWithNeighbors(rankings),
      items: { interest: ns[1] - ns[0], course: ns[2] - ns[1], assessment: ns[3] - ns[2] },
      features: data.nFeatures,
      positives: data.posUser.length,
      epochs,
      threads,
      seconds: { ...seconds, topN: (t3 - t2) / 1000 },
    },
  };
}

/**
 * Method 2: trains a factorization machine on `dataset` and ranks every user by the cosine of the
 * latent user factors (see {@link FM_DEFAULTS} for the defaults). Deterministic for a seed, for
 * any thread count.
 */
export async function rankByFactorization(dataset: Dataset, opts: FactorizationOptions = {}): Promise<Rankings> {
  return (await factorizationRun(dataset, opts)).rankings;
}
