/**
 * Method 2: a factorization machine trained on implicit feedback; users ranked by the cosine of
 * their latent factors.
 *
 * Training (see `buildFeatures`): every distinct observed (user, item) pair, over interest tags,
 * courses and assessment tags, is a positive; an item's feature row holds its id and side features
 * (a course's tags and level; an assessment's score band is context). The user enters a score only
 * through ⟨v_u, S_i⟩, S_i = Σ_j x_j v_j over the item's features: v_u is the user's taste
 * direction, and two users are alike when their v_u point the same way. By default (`training:
 * "als"`, `als.ts`) every parameter is fitted under the implicit weighted squared loss over all
 * (user, item) pairs by alternating least squares over the FM's features (iCD, Bayer et al. 2017);
 * `training: "bpr"` (`trainFMParams`) pushes each positive above sampled negatives by SGD. Both end
 * with a user pass (`user.ts`) that re-fits every v_u exactly against the final item side, as
 * fold-in fits a profile.
 */
import { toDataset, type Dataset, type InputColumns } from "../../dataset.ts";
import { usersWithNeighbors } from "../../rank/heap.ts";
import type { Rankings } from "../../types.ts";
import type { Profile } from "../../profile.ts";
import {
  booleanOption,
  checkSubject,
  choiceOption,
  integerOption,
  seedOption,
  numberOption,
  resolveOptions,
  type EpochReport,
  type ExplainOptions,
  type Explanation,
  type FitContext,
  type FoldedProfile,
  type ItemKind,
  type Method,
  type Model,
  type ModelState,
  type OptionSpec,
  type OptionsOf,
  type QueryOptions,
  type RankAllOptions,
  type Subject,
} from "../method.ts";
import { buildFeatures, hasItem, NAMESPACES, type FMData, type Weighting } from "./features.ts";
import { explainFactors, foldInFactors, itemIndex, itemScores, itemTable, namespaceOfKind, userItems, type ItemTable } from "./fold.ts";
import { FactorRanking, normalizeRows } from "../../rank/factors.ts";
import type { FMParams } from "./model.ts";
import { trainFMParams } from "./train.ts";
import { trainFMAls } from "./als.ts";
import { itemSides, userPass, type ItemSides } from "./user.ts";

export { buildFeatures, scoreBand, type FMData, type Weighting } from "./features.ts";
export { factorTopN, type FactorTopNOptions } from "../../rank/factors.ts";
export { gradient, predict, type FMParams } from "./model.ts";
export { trainFMParams, type EpochStats, type TrainOptions } from "./train.ts";

/**
 * Defaults, chosen with `recsys evaluate` on generated 10k-user data (held-out recall@10 / NDCG@10
 * of neighbour votes, split seed 7; the README reports seed 42): each value below was varied alone
 * around the others and kept where the held-out figures peaked. Most were tuned on an earlier
 * version of the generator and re-checked on the current one (negative sampling was re-tuned).
 * The ALS options (and `training`) were tuned on `generate --users 10000 --seed 7`, split seed 42,
 * figures quoted there are recall@10 on that set, with the other defaults (those marked "earlier
 * start" predate the als-like start of `alsInitScale`). The BPR options' figures are with
 * `training: "bpr"`.
 */
export const FM_DEFAULTS = {
  /**
   * Latent dimension k. With ALS training: 64 0.3370, 48 0.3325 (with the earlier start, 5
   * iterations: 48 0.3285, 64 0.3322, which did not hold on the other sets). With BPR, held-out recall@10 on the tuning set (10k users, seed 7), with the user
   * pass: 32 0.3199, 48 0.3249, 64 0.3244, 128 0.3290 (4× the time); at 3 epochs 32 0.3203, 48
   * 0.3243, 64 0.3255. 64 took 10k users' fit + rank (bench/fm.ts) to 9.4–10.8 s against 8.0–8.7 s
   * before in the same runs, past the budget, for 0.1 point.
   */
  factors: 64,
  /**
   * Passes over the shuffled positives. The final user pass re-fits the users exactly, so the items
   * need few: at k = 64, 2 epochs 0.3234, 3 0.3255, 4 0.3248, 5 0.3244, 10 (at 0.03) 0.3259; at
   * k = 48, 3 epochs 0.3243 and 5 0.3249.
   */
  epochs: 3,
  /**
   * First epoch's SGD step; decays linearly to a tenth of it by the last epoch. 0.08 for 3 epochs
   * (0.1 for 2, 0.065 for 4, 0.055 for 5, 0.03 for 10 scored within 0.3 point of each other).
   */
  learningRate: 0.08,
  /** L2 penalty on the parameters each step touches (0.0005–0.002 overfit; with the user pass at k = 32: 0.01 −0.5, 0.06 −0.5 point). */
  regularization: 0.03,
  /** Sampled negatives per positive (4: −0.7 point with the user pass, at twice the sampling cost). */
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
   * Initial user factors: 0, so a user's factor is learned signal only (before the user pass,
   * random starting noise blurred light users' cosines, −1 point; now it only shapes training).
   */
  userInitStd: 0,
  /**
   * Scale of side-feature values relative to the item id's. Before the user pass 0 lost 0.5 point;
   * with it, 0 scored within 0.4 point either way (k = 32 5 epochs 0.3210 vs 0.3199, k = 64 3
   * epochs 0.3258 vs 0.3255): kept.
   */
  sideWeight: 1,
  /**
   * Whether an interest/assessment tag shares a latent vector with course tags of the same name.
   * Off: sharing over-smooths (−2 points of recall).
   */
  shareTags: false,
  /** Course examples weigh by log view minutes (made no measurable difference; kept as documented). */
  weighting: "log" as Weighting,
  seed: 42,
  /** Step size of the user factors relative to the learning rate. */
  userRate: 1,
  /** Last epoch's step size as a fraction of the first. */
  finalRate: 0.1,
  /**
   * Confidence α of a user's own items in the final user pass (see `user.ts`), which re-fits every
   * user's factors against the fixed items exactly as fold-in fits a profile, and in the whole ALS
   * loss. With BPR, 2, 8 and 20 scored within 0.1 point of 4; with ALS 2 0.3221, 8 0.3311 (4:
   * 0.3370).
   */
  userAlpha: 4,
  /**
   * λ of the user steps and the user pass. ALS (with `itemRegularization` alike): 0.3 0.3285, 1
   * 0.3370, 3 0.3336. BPR, at k = 32: 1 0.3191, 10 0.3194, 30 0.3199, 100 0.3200.
   */
  userRegularization: 1,
  /**
   * How the FM is trained: `als` (implicit least squares over the FM's features, `als.ts`: the user
   * pass's own loss, for every item-side parameter) or `bpr` (SGD on sampled negatives, `train.ts`,
   * then the user pass). Held-out recall@10 / NDCG@10 (split seed 42): tuning set bpr 0.3243 /
   * 0.3352, als 0.3370 / 0.3432; on 20k seed 99 0.3260 / 0.3366 and 0.3339 / 0.3479; on 5k seed
   * 3 0.3160 / 0.3171 and 0.3258 / 0.3251 (als with the earlier start: 0.3285, 0.3274, 0.3164).
   */
  training: "als" as Training,
  /**
   * ALS iterations (every item-side feature, then the users; the last iteration's users are the
   * exact user pass). Tuning set: 10 0.3261, 15 0.3370, 20 0.3326 (the loss still falls: like the
   * als method's, the single CG step smooths when stopped early).
   */
  alsIterations: 15,
  /** CG steps per user and feature and ALS iteration (0: exact solves). Earlier start, 10 iterations: 2 0.3229, exact 0.3216 (1: 0.3282). */
  alsCgSteps: 1,
  /**
   * λ of the item-side features under ALS training (λ of the users is `userRegularization`). Both
   * 0.3: 0.3285; both 1: 0.3370; both 3: 0.3336. With the earlier start 30 was best (both 1: 0.3225).
   */
  itemRegularization: 1,
  /**
   * Under ALS training every factor (users and item-side features) starts uniform in [0, scale), as
   * the als method's do. With the earlier start (item side N(0, 0.01²), users 0, users solved
   * first) and these other defaults: 0.3218 / 0.3344 (against 0.3370 / 0.3432); with that start the
   * best settings found (48 factors, λ 30, 5 iterations) scored 0.3285 / 0.3366.
   */
  alsInitScale: 0.01,
} as const;

/** How the FM's parameters are trained. */
export type Training = "bpr" | "als";

/** An option only BPR training reads, or only ALS training: a flag given with the other training is refused. */
const only = <T>(training: Training, spec: OptionSpec<T>): OptionSpec<T> => ({ ...spec, appliesWhen: { option: "training", values: [training] } });

/** The factorization method's options: defaults, checks and CLI flags. */
export const FM_OPTIONS = {
  // Bounded: factors size memory (users × factors doubles), epochs and negatives the training time.
  factors: integerOption({ default: FM_DEFAULTS.factors, min: 1, max: 1024, valueHint: "K", description: "latent factors" }),
  epochs: only("bpr", integerOption({ default: FM_DEFAULTS.epochs, min: 0, max: 10_000, description: "BPR epochs (--training bpr)" })),
  learningRate: only("bpr", numberOption({ default: FM_DEFAULTS.learningRate, valueHint: "RATE", description: "initial SGD step of BPR (decays linearly to a tenth)" })),
  regularization: only("bpr", numberOption({ default: FM_DEFAULTS.regularization, allowZero: true, valueHint: "L2", description: "L2 penalty" })),
  negatives: only("bpr", integerOption({ default: FM_DEFAULTS.negatives, min: 1, max: 1000, description: "BPR's sampled negatives per positive" })),
  seed: seedOption({ default: FM_DEFAULTS.seed, description: "random seed" }),
  popularNegatives: numberOption({ default: FM_DEFAULTS.popularNegatives, allowZero: true, max: 1, cli: false, description: "share of negatives drawn by popularity" }),
  shareTags: booleanOption({ default: FM_DEFAULTS.shareTags, cli: false, description: "interest/assessment tags share vectors with course tags" }),
  weighting: choiceOption<Weighting>({ default: FM_DEFAULTS.weighting, choices: ["none", "log"], cli: false, description: "course examples weigh by log view minutes" }),
  initStd: numberOption({ default: FM_DEFAULTS.initStd, allowZero: true, cli: false, description: "standard deviation of the initial factors" }),
  sideWeight: numberOption({ default: FM_DEFAULTS.sideWeight, allowZero: true, cli: false, description: "scale of side features" }),
  userInitStd: numberOption({ default: FM_DEFAULTS.userInitStd, allowZero: true, cli: false, description: "standard deviation of the initial user factors" }),
  userRate: numberOption({ default: FM_DEFAULTS.userRate, allowZero: true, cli: false, description: "user factors' step relative to the learning rate" }),
  finalRate: numberOption({ default: FM_DEFAULTS.finalRate, allowZero: true, cli: false, description: "last epoch's step as a fraction of the first" }),
  userAlpha: numberOption({ default: FM_DEFAULTS.userAlpha, allowZero: true, cli: false, description: "confidence α of a user's own items in the user pass" }),
  userRegularization: numberOption({ default: FM_DEFAULTS.userRegularization, cli: false, description: "L2 penalty of the user pass" }),
  training: choiceOption<Training>({ default: FM_DEFAULTS.training, choices: ["bpr", "als"], description: "bpr: SGD on sampled negatives; als: implicit least squares over the FM's features" }),
  alsIterations: only("als", integerOption({ default: FM_DEFAULTS.alsIterations, min: 0, max: 10_000, description: "ALS iterations with --training als" })),
  alsCgSteps: integerOption({ default: FM_DEFAULTS.alsCgSteps, min: 0, max: 1024, cli: false, description: "CG steps per row and ALS iteration (0: exact)" }),
  itemRegularization: numberOption({ default: FM_DEFAULTS.itemRegularization, cli: false, description: "L2 penalty of the item-side features with --training als" }),
  alsInitScale: numberOption({ default: FM_DEFAULTS.alsInitScale, allowZero: true, cli: false, description: "initial factors uniform in [0, scale) with --training als" }),
};

/** Options of the factorization method (see {@link FM_DEFAULTS} for what each does and why its default). */
export type FMOptions = OptionsOf<typeof FM_OPTIONS>;

/** Resolves options against {@link FM_DEFAULTS}, checking each (a RangeError names the option). */
export function fmParameters(opts: Partial<FMOptions> = {}): FMOptions {
  return resolveOptions(factorization, opts);
}

/** A trained model's parameters and data. */
export interface FMModel {
  /** User handles in canonical order; user u's factors are `params.v[u*k .. u*k+k)`. */
  users: string[];
  k: number;
  params: FMParams;
  data: FMData;
  /** Per BPR epoch (with sampled AUC) or ALS iteration. */
  epochs: EpochReport[];
}

/** Trains a factorization machine on a dataset (deterministic for a seed). */
export function trainFM(dataset: Dataset | InputColumns, opts: Partial<FMOptions> = {}, context: FitContext = {}): FMModel {
  return train(toDataset(dataset), fmParameters(opts), context).model;
}

function features(dataset: Dataset, p: FMOptions): FMData {
  return buildFeatures(dataset, { shareTags: p.shareTags, weighting: p.weighting, sideWeight: p.sideWeight });
}

function train(dataset: Dataset, p: FMOptions, context: FitContext): { model: FMModel; seconds: { features: number; train: number } } {
  const t0 = performance.now();
  context.onProgress?.("features", 0, 1);
  const data = features(dataset, p);
  context.onProgress?.("features", 1, 1);
  const t1 = performance.now();
  let trained: { params: FMParams; epochs: EpochReport[] };
  if (p.training === "als") {
    trained = trainFMAls(data, { ...p, iterations: p.alsIterations, cgSteps: p.alsCgSteps, initScale: p.alsInitScale, onEpoch: context.onEpoch, onProgress: context.onProgress });
  } else {
    trained = trainFMParams(data, { ...p, onEpoch: context.onEpoch, onProgress: context.onProgress });
    // Not after 0 epochs: random items carry no taste, and users keep their (zero) initial factors.
    if (p.epochs > 0) userPass(data, trained.params, p);
  }
  const { params, epochs } = trained;
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

/** Figures of a factorization fit and ranking, for summaries and the runs table. */
export interface FactorizationDetails {
  users: number;
  usersWithNeighbors: number;
  /** Distinct items per namespace. */
  items: Record<(typeof NAMESPACES)[number], number>;
  features: number;
  positives: number;
  epochs: EpochReport[];
  threads: number;
  /** Wall-clock seconds per stage. */
  seconds: { features: number; train: number; topN: number };
}

/** A profile folded into a factorization model: its fitted factors. */
interface FactorProfile extends FoldedProfile {
  /** Raw factors (for item scores) and their unit vector (for cosines). */
  readonly factors: Float64Array;
  readonly unit: Float64Array;
  /** The profile's FM items, sorted. */
  readonly items: Int32Array;
}

/** A fitted factorization model: the FM and its users' unit factor rows. */
export class FactorizationModel implements Model {
  readonly method = "factorization";
  readonly stages: { features: number; train: number };
  private readonly factors: FactorRanking;
  private sides: ItemSides | undefined;
  private itemIds: Map<string, number> | undefined;
  private readonly tables: ItemTable[] = [];
  private readonly vocabItems: Int32Array[] = [];

  constructor(
    readonly dataset: Dataset,
    readonly fm: FMModel,
    readonly params: FMOptions,
    seconds: { features: number; train: number },
  ) {
    this.stages = seconds;
    this.factors = new FactorRanking(userFactors(fm), fm.users.length, fm.k);
  }

  rankAll(options: RankAllOptions = {}): Promise<Rankings> {
    return this.factors.rank(this.dataset.users, options);
  }

  similarUsers(subject: Subject, options: QueryOptions = {}) {
    checkSubject(subject, this.dataset, this.method);
    return this.factors.query(subject as number | FactorProfile, options.n ?? 10, options);
  }


  private itemIndex(): Map<string, number> {
    this.itemIds ??= itemIndex(this.fm.data);
    return this.itemIds;
  }

  /** Fits the profile's factors with every other parameter fixed, by the user pass's exact step (see `user.ts`): an existing user's own profile gets that user's factors. */
  foldIn(profile: Profile): FoldedProfile {
    this.sides ??= itemSides(this.fm.data, this.fm.params, this.params.userRegularization);
    const ids = this.itemIndex();
    const { factors, unknown } = foldInFactors(this.fm.data, this.sides, ids, profile, this.params);
    const items = new Set<number>();
    for (const t of profile.interests ?? []) items.add(ids.get(`interest:${t}`) ?? -1);
    for (const c of Object.keys(profile.courses ?? {})) items.add(ids.get(`course:${c}`) ?? -1);
    for (const a of Object.keys(profile.assessments ?? {})) items.add(ids.get(`assessment:${a}`) ?? -1);
    items.delete(-1);
    const folded: FactorProfile = {
      method: this.method,
      profile,
      unknown,
      factors,
      unit: normalizeRows(factors, 1, this.fm.k),
      items: Int32Array.from(items).sort(),
    };
    return folded;
  }

  explain(subject: Subject, other: number, options: ExplainOptions = {}): Explanation {
    checkSubject(subject, this.dataset, this.method);
    checkSubject(other, this.dataset, this.method);
    const { data, params, k } = this.fm;
    const u = this.factors.unitOf(subject as number | FactorProfile);
    const v = this.factors.unitOf(other);
    let score = 0;
    for (let f = 0; f < k; f++) score += u.unit[f] * v.unit[f];
    const itemsU = typeof subject === "number" ? userItems(data, subject) : (subject as FactorProfile).items;
    return explainFactors(data, params, u.unit, v.unit, score, itemsU, (i) => hasItem(data, other, i), options.items ?? 10);
  }

  /** The model's own score ⟨v_u, S_i⟩ (see `itemScores`) of every item of `kind` for the subject, over the dataset's vocabulary of that kind (-Infinity: an item the model never saw). */
  scoreItems(subject: Subject, kind: ItemKind): Float64Array {
    checkSubject(subject, this.dataset, this.method);
    const { data, params, k } = this.fm;
    const raw = typeof subject === "number" ? params.v.subarray(subject * k, subject * k + k) : (subject as FactorProfile).factors;
    const ns = namespaceOfKind(kind);
    this.tables[ns] ??= itemTable(data, params, ns);
    this.vocabItems[ns] ??= this.vocabularyItems(kind, ns);
    const scores = itemScores(this.tables[ns], raw, k);
    const map = this.vocabItems[ns];
    const out = new Float64Array(map.length);
    for (let id = 0; id < map.length; id++) out[id] = map[id] < 0 ? -Infinity : scores[map[id]];
    return out;
  }

  /** For each id of the dataset's vocabulary of `kind`, its item within namespace `ns` (-1: none). */
  private vocabularyItems(kind: ItemKind, ns: number): Int32Array {
    const vocab = kind === "interests" ? this.dataset.interests : kind === "courses" ? this.dataset.courses : this.dataset.assessments;
    const ids = this.itemIndex();
    const lo = this.fm.data.nsStart[ns];
    return Int32Array.from(vocab, (key) => {
      const item = ids.get(`${NAMESPACES[ns]}:${key}`);
      return item === undefined ? -1 : item - lo;
    });
  }

  /** A diverged training: a non-finite loss, or non-finite user factors. */
  problem(): string | null {
    const bad = this.fm.epochs.find((e) => !Number.isFinite(e.loss));
    if (bad) return `training diverged (loss ${bad.loss} at epoch ${bad.epoch}); try a smaller --learning-rate (now ${this.params.learningRate})`;
    const v = this.fm.params.v;
    for (let i = 0; i < this.fm.users.length * this.fm.k; i++) {
      if (!Number.isFinite(v[i])) return `training diverged (non-finite user factors); try a smaller --learning-rate (now ${this.params.learningRate})`;
    }
    return null;
  }

  /** Every learned parameter; the feature rows are rebuilt from the dataset on restore. */
  state(): ModelState {
    const { params, epochs } = this.fm;
    return { arrays: { w0: params.w0, w: params.w, v: params.v }, meta: { epochs } };
  }

  /** Distinct items per namespace. */
  private items(): FactorizationDetails["items"] {
    const ns = this.fm.data.nsStart;
    return { interest: ns[1] - ns[0], course: ns[2] - ns[1], assessment: ns[3] - ns[2] };
  }

  details(r: { rankings: Rankings; threads: number; seconds: number }): FactorizationDetails & Record<string, unknown> {
    const { data, epochs } = this.fm;
    return {
      users: data.nUsers,
      usersWithNeighbors: usersWithNeighbors(r.rankings),
      items: this.items(),
      features: data.nFeatures,
      positives: data.posUser.length,
      epochs,
      threads: r.threads,
      seconds: { ...this.stages, topN: r.seconds },
    };
  }

  describe(details: Record<string, unknown>): string[] {
    const fmt = (n: number) => n.toLocaleString("en-US");
    const data = this.fm.data;
    const lines = [`  items: ${Object.entries(this.items()).map(([k, n]) => `${k} ${fmt(n)}`).join(", ")}; ${fmt(data.nFeatures)} features, ${fmt(data.posUser.length)} positive pairs`];
    const last = this.fm.epochs.at(-1);
    if (last && this.params.training === "als") lines.push(`  ${this.fm.epochs.length} ALS iterations, final loss ${last.loss.toFixed(4)}; ${String(details.threads)} thread(s)`);
    else if (last) lines.push(`  ${this.fm.epochs.length} epochs, final loss ${last.loss.toFixed(4)}, sampled AUC ${last.auc?.toFixed(4)}; ${String(details.threads)} thread(s)`);
    return lines;
  }
}

/**
 * The factorization method: a factorization machine trained on implicit feedback by ALS over its
 * features or by BPR (see {@link FM_DEFAULTS}); users ranked by the cosine of their latent factors. Deterministic for a
 * seed, for any thread count.
 */
export const factorization: Method<FMOptions> = {
  name: "factorization",
  description: "a factorization machine; users ranked by cosine of latent factors",
  options: FM_OPTIONS,
  async fit(dataset, options, context = {}) {
    const { model, seconds } = train(dataset, options, context);
    return new FactorizationModel(dataset, model, options, seconds);
  },
  restore(dataset, options, state) {
    const t0 = performance.now();
    const data = features(dataset, options);
    const { w0, w, v } = state.arrays;
    const k = options.factors;
    if (!w0 || !w || !v || w0.length !== 1 || w.length !== data.nFeatures || v.length !== data.nFeatures * k) {
      throw new RangeError(`the stored factorization model does not fit this input (${data.nFeatures} features × ${k} factors expected)`);
    }
    const params: FMParams = { nFeatures: data.nFeatures, k, w0, w, v };
    const epochs = Array.isArray(state.meta.epochs) ? (state.meta.epochs as EpochReport[]) : [];
    return new FactorizationModel(dataset, { users: data.users, k, params, data, epochs }, options, { features: (performance.now() - t0) / 1000, train: 0 });
  },
};
