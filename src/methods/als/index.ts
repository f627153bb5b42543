/**
 * Method 3: implicit alternating least squares (Hu, Koren & Volinsky 2008), solved by conjugate
 * gradient (Takács et al. 2011, as `implicit`'s `AlternatingLeastSquares` with `use_cg`); users
 * ranked by the exact cosine of their factors.
 *
 * Data (`incidence.ts`): a users × items matrix over interest tags, viewed courses and assessment
 * tags, each observed pair with strength s (presence: a constant per block, default 1) and
 * confidence c = 1 + α·s; unobserved pairs have c = 1 and preference 0. Training (`train.ts`)
 * minimises Σ_all pairs c(p − x_u·y_i)² + λ(‖X‖² + ‖Y‖²) by alternating items-given-users and
 * users-given-items half-steps, each row a few CG steps warm-started from its previous factors,
 * rows split over workers. Same seed, same factors and rankings, for any thread count.
 */
import type { Dataset } from "../../dataset.ts";
import { nnz } from "../../matrix/csr.ts";
import { autoThreads } from "../../parallel.ts";
import { noUnknownItems, type Profile } from "../../profile.ts";
import { explainCosine } from "../../rank/explain-factors.ts";
import { FactorRanking, normalizeRows } from "../../rank/factors.ts";
import { usersWithNeighbors } from "../../rank/heap.ts";
import type { Rankings } from "../../types.ts";
import {
  checkSubject,
  integerOption,
  seedOption,
  numberOption,
  type EpochReport,
  type ExplainOptions,
  type Explanation,
  type FoldedProfile,
  type ItemKind,
  type Method,
  type Model,
  type ModelState,
  type OptionsOf,
  type QueryOptions,
  type RankAllOptions,
  type Subject,
} from "../method.ts";
import { buildIncidence, type Incidence } from "./incidence.ts";
import { exactSolveRow } from "./solve.ts";
import { trainAls } from "./train.ts";

export { buildIncidence, type Incidence } from "./incidence.ts";
export { cgSolveRow, exactSolveRow } from "./solve.ts";
export { trainAls, type AlsFactors, type AlsTrainOptions } from "./train.ts";

/**
 * Defaults, chosen with `recsys evaluate` on generated data (10k users, `generate --seed 7`; held-out
 * recall@10 / NDCG@10 of neighbour votes, split seeds 42 and 7; reported on 20k users of seed 99 in
 * the README's "Method 3: als"). Each was varied around the others.
 */
export const ALS_DEFAULTS = {
  /** 32 lost 0.7 point of recall; 128 moved recall by under 0.3 point (NDCG +0.1–0.7) at 1.6× the time. */
  factors: 64,
  /** 0.3 and 3 scored the same (within 0.1 point). */
  regularization: 1,
  /**
   * Confidence 1 + 4 for an observed item: 3–5 scored within 0.2 point; 2 lost 0.8 point, 10
   * lost 0.8, 40 (where `implicit` users on real data often start) lost 3.3.
   */
  alpha: 4,
  /** 15 and 20 scored the same; 8 and 10 lost 1 and 0.5 point (with one CG step). */
  iterations: 15,
  /**
   * One CG step (an exact line search along the residual) per row and half-step, warm-started: the
   * factors are then never solved to convergence, and that smoothing made better neighbours than
   * solving each row (2 steps: −1 point of recall at best, over 4–8 iterations; 3 steps, as
   * `implicit` does: −1.7 points at best, over 6–15 iterations). Raise it (≥ 3) for factors that
   * solve the ALS problem, e.g. to fold new users in as the trained ones were solved.
   */
  cgSteps: 1,
  seed: 42,
  /** Strengths of presence per block: doubling courses' or interests' lost 0.3 point. */
  interestStrength: 1,
  courseStrength: 1,
  assessmentStrength: 1,
} as const;

/** The als method's options: defaults, checks and CLI flags. */
export const ALS_OPTIONS = {
  factors: integerOption({ default: ALS_DEFAULTS.factors, min: 1, max: 1024, valueHint: "K", description: "latent factors" }),
  regularization: numberOption({ default: ALS_DEFAULTS.regularization, allowZero: true, valueHint: "L2", description: "L2 penalty" }),
  alpha: numberOption({ default: ALS_DEFAULTS.alpha, allowZero: true, valueHint: "A", description: "confidence of an observed pair: 1 + alpha · strength" }),
  iterations: integerOption({ default: ALS_DEFAULTS.iterations, min: 1, max: 10_000, description: "ALS iterations (item then user half-step)" }),
  cgSteps: integerOption({ default: ALS_DEFAULTS.cgSteps, min: 1, max: 1024, description: "conjugate-gradient steps per row and half-step" }),
  seed: seedOption({ default: ALS_DEFAULTS.seed, description: "random seed" }),
  interestStrength: numberOption({ default: ALS_DEFAULTS.interestStrength, allowZero: true, cli: false, description: "strength of a followed interest tag (0 leaves interests out)" }),
  courseStrength: numberOption({ default: ALS_DEFAULTS.courseStrength, allowZero: true, cli: false, description: "strength of a viewed course (0 leaves courses out)" }),
  assessmentStrength: numberOption({ default: ALS_DEFAULTS.assessmentStrength, allowZero: true, cli: false, description: "strength of a taken assessment (0 leaves assessments out)" }),
};

/** Options of the als method (see {@link ALS_DEFAULTS}). */
export type AlsOptions = OptionsOf<typeof ALS_OPTIONS>;

/** Figures of an als fit and ranking, for summaries and the runs table. */
export interface AlsDetails {
  users: number;
  usersWithNeighbors: number;
  /** Items per block. */
  items: { interest: number; course: number; assessment: number };
  /** Observed (user, item) pairs. */
  pairs: number;
  factors: number;
  epochs: EpochReport[];
  /** Threads of the training half-steps. */
  trainThreads: number;
  /** Threads of the top-n. */
  threads: number;
  seconds: { matrix: number; train: number; topN: number };
}

/** A profile folded into an als model: its factors and items. */
interface AlsProfile extends FoldedProfile {
  readonly factors: Float64Array;
  readonly unit: Float64Array;
  readonly itemIds: Int32Array;
}

/** A fitted als model: user and item factors, and the users' unit factor rows for ranking. */
export class AlsModel implements Model {
  readonly method = "als";
  readonly stages: { matrix: number; train: number };
  /** Latent dimension. */
  readonly k: number;
  /** users × k, row-major (user ids are the dataset's); all zero for a user without items. */
  readonly userFactors: Float64Array;
  /** items × k, row-major; item id = position in {@link items}. */
  readonly itemFactors: Float64Array;
  /** Item keys: `interest:<tag>`, `course:<id>`, `assessment:<tag>`. */
  readonly items: readonly string[];
  /** YᵀY of the item factors (k × k), as the last user half-step solved against it. */
  readonly itemGram: Float64Array;
  /** Loss per iteration. */
  readonly epochs: EpochReport[];
  /** Threads the training ran on. */
  readonly trainThreads: number;
  private readonly factors: FactorRanking;
  private itemIds: Map<string, number> | undefined;

  constructor(
    readonly dataset: Dataset,
    readonly params: AlsOptions,
    /** The training matrix (strengths). */
    readonly incidence: Incidence,
    fitted: { userFactors: Float64Array; itemFactors: Float64Array; itemGram: Float64Array; k: number; epochs: EpochReport[]; threads: number },
    seconds: { matrix: number; train: number },
  ) {
    this.stages = seconds;
    this.k = fitted.k;
    this.userFactors = fitted.userFactors;
    this.itemFactors = fitted.itemFactors;
    this.itemGram = fitted.itemGram;
    this.items = incidence.items;
    this.epochs = fitted.epochs;
    this.trainThreads = fitted.threads;
    this.factors = new FactorRanking(this.userFactors, dataset.users.length, this.k);
  }

  /** The id of item `key` (e.g. `course:abc`), or undefined if the model has no such item. */
  itemId(key: string): number | undefined {
    this.itemIds ??= new Map(this.items.map((key, i) => [key, i]));
    return this.itemIds.get(key);
  }

  rankAll(options: RankAllOptions = {}): Promise<Rankings> {
    return this.factors.rank(this.dataset.users, options);
  }

  similarUsers(subject: Subject, options: QueryOptions = {}) {
    checkSubject(subject, this.dataset, this.method);
    return this.factors.query(subject as number | AlsProfile, options.n ?? 10, options);
  }


  /** A profile's factors: the exact solve of the user half-step with the item factors fixed ({@link foldInUser}). */
  foldIn(profile: Profile): FoldedProfile {
    const unknown = noUnknownItems();
    const given: { key: string; strength: number }[] = [];
    const take = (block: keyof typeof unknown, prefix: string, key: string, strength: number) => {
      if (this.itemId(`${prefix}:${key}`) === undefined) unknown[block].push(key);
      else if (strength > 0) given.push({ key: `${prefix}:${key}`, strength });
    };
    for (const tag of profile.interests ?? []) take("interests", "interest", tag, this.params.interestStrength);
    for (const course of Object.keys(profile.courses ?? {})) take("courses", "course", course, this.params.courseStrength);
    for (const tag of Object.keys(profile.assessments ?? {})) take("assessments", "assessment", tag, this.params.assessmentStrength);
    const factors = foldInUser(this, given);
    const folded: AlsProfile = {
      method: this.method,
      profile,
      unknown,
      factors,
      unit: normalizeRows(factors, 1, this.k),
      itemIds: Int32Array.from(given, (g) => this.itemId(g.key)!).sort(),
    };
    return folded;
  }

  explain(subject: Subject, other: number, options: ExplainOptions = {}): Explanation {
    checkSubject(subject, this.dataset, this.method);
    checkSubject(other, this.dataset, this.method);
    const u = this.factors.unitOf(subject as number | AlsProfile);
    const v = this.factors.unitOf(other);
    let score = 0;
    for (let f = 0; f < this.k; f++) score += u.unit[f] * v.unit[f];
    const m = this.incidence.userItems;
    const itemsU = typeof subject === "number" ? m.indices.subarray(m.indptr[subject], m.indptr[subject + 1]) : (subject as AlsProfile).itemIds;
    const ofV = new Set(m.indices.subarray(m.indptr[other], m.indptr[other + 1]));
    const b = this.incidence.blockItems;
    return explainCosine({
      k: this.k,
      unitU: u.unit,
      unitV: v.unit,
      score,
      items: itemsU,
      vectorOf: (item, out, at) => out.set(this.itemFactors.subarray(item * this.k, item * this.k + this.k), at),
      // Items come block by block: interests, courses, assessments.
      blockOf: (item) => (item < b.interests ? 0 : item < b.interests + b.courses ? 1 : 2),
      nameOf: (item) => this.items[item],
      hasV: (item) => ofV.has(item),
      limit: options.items ?? 10,
    });
  }

  /** x_u·y_i of every item of `kind`, over the dataset's vocabulary of that kind (-Infinity: not an item of the model). */
  scoreItems(subject: Subject, kind: ItemKind): Float64Array {
    checkSubject(subject, this.dataset, this.method);
    const k = this.k;
    const x = typeof subject === "number" ? this.userFactors.subarray(subject * k, subject * k + k) : (subject as AlsProfile).factors;
    const vocab = kind === "interests" ? this.dataset.interests : kind === "courses" ? this.dataset.courses : this.dataset.assessments;
    const prefix = kind === "interests" ? "interest" : kind === "courses" ? "course" : "assessment";
    const out = new Float64Array(vocab.length);
    vocab.forEach((key, id) => {
      const item = this.itemId(`${prefix}:${key}`);
      if (item === undefined) out[id] = -Infinity;
      else {
        let s = 0;
        for (let f = 0; f < k; f++) s += x[f] * this.itemFactors[item * k + f];
        out[id] = s;
      }
    });
    return out;
  }

  /** A training whose loss went non-finite. */
  problem(): string | null {
    const bad = this.epochs.find((e) => !Number.isFinite(e.loss));
    return bad ? `training diverged (loss ${bad.loss} at iteration ${bad.epoch})` : null;
  }

  /** Both factor matrices and the item Gram matrix; the incidence matrix is rebuilt from the dataset. */
  state(): ModelState {
    return { arrays: { userFactors: this.userFactors, itemFactors: this.itemFactors, itemGram: this.itemGram }, meta: { epochs: this.epochs, threads: this.trainThreads } };
  }

  private blockItems(): AlsDetails["items"] {
    const b = this.incidence.blockItems;
    return { interest: b.interests, course: b.courses, assessment: b.assessments };
  }

  details(r: { rankings: Rankings; threads: number; seconds: number }): AlsDetails & Record<string, unknown> {
    return {
      users: this.dataset.users.length,
      usersWithNeighbors: usersWithNeighbors(r.rankings),
      items: this.blockItems(),
      pairs: nnz(this.incidence.userItems),
      factors: this.k,
      epochs: this.epochs,
      trainThreads: this.trainThreads,
      threads: r.threads,
      seconds: { ...this.stages, topN: r.seconds },
    };
  }

  describe(details: Record<string, unknown>): string[] {
    const fmt = (n: number) => n.toLocaleString("en-US");
    const lines = [`  items: ${Object.entries(this.blockItems()).map(([k, n]) => `${k} ${fmt(n)}`).join(", ")}; ${fmt(nnz(this.incidence.userItems))} observed pairs; ${this.k} factors`];
    const last = this.epochs.at(-1);
    if (last) lines.push(`  ${this.epochs.length} iterations, final loss ${last.loss.toPrecision(5)}; trained on ${this.trainThreads} thread(s), top-n on ${String(details.threads)}`);
    return lines;
  }
}

/**
 * A new user's factors from its items, with the item factors fixed: the exact solution (Cholesky)
 * of the same normal equations the user half-step solves by CG,
 *   (YᵀY + λI + Σ α·s_i y_i y_iᵀ) x = Σ (1 + α·s_i) y_i.
 * For an existing user's own items and strengths this is that user's factors (to the CG's
 * accuracy). No items: the zero vector (no neighbours). Throws a RangeError for a key the model
 * does not have (see {@link AlsModel.itemId}), a key given twice, or a strength that is not a
 * finite number ≥ 0.
 */
export function foldInUser(model: AlsModel, items: readonly { key: string; strength: number }[]): Float64Array {
  const { k } = model;
  const { regularization, alpha } = model.params;
  const given = items.map(({ key, strength }) => {
    const id = model.itemId(key);
    if (id === undefined) throw new RangeError(`foldInUser: unknown item ${JSON.stringify(key)}`);
    if (typeof strength !== "number" || !Number.isFinite(strength) || strength < 0) throw new RangeError(`foldInUser: strength of ${key} must be a finite number ≥ 0, got ${String(strength)}`);
    return { id, w: alpha * strength, key };
  });
  // Item order, as the training sums a row's items: the result does not depend on input order.
  given.sort((x, y) => x.id - y.id);
  for (let i = 1; i < given.length; i++) if (given[i].id === given[i - 1].id) throw new RangeError(`foldInUser: item ${given[i].key} is given twice`);
  const out = new Float64Array(k);
  if (given.length === 0) return out;
  const a = model.itemGram.slice();
  for (let j = 0; j < k; j++) a[j * k + j] += regularization;
  exactSolveRow(k, a, model.itemFactors, Int32Array.from(given, (g) => g.id), Float64Array.from(given, (g) => g.w), 0, given.length, out, 0);
  return out;
}

/** The als method: implicit ALS by conjugate gradient; users ranked by exact cosine of their factors. */
export const als: Method<AlsOptions> = {
  name: "als",
  description: "implicit alternating least squares (conjugate gradient); users ranked by cosine of latent factors",
  options: ALS_OPTIONS,
  async fit(dataset, options, context = {}) {
    if (!(options.interestStrength > 0 || options.courseStrength > 0 || options.assessmentStrength > 0)) {
      throw new RangeError("als: interestStrength, courseStrength and assessmentStrength are all 0, which leaves no items; give at least one a positive strength");
    }
    const t0 = performance.now();
    context.onProgress?.("matrix", 0, 1);
    const incidence = buildIncidence(dataset, { interests: options.interestStrength, courses: options.courseStrength, assessments: options.assessmentStrength });
    context.onProgress?.("matrix", 1, 1);
    const t1 = performance.now();
    const fitted = await trainAls(incidence, {
      ...options,
      threads: autoThreads(dataset.users.length, context.threads),
      onEpoch: context.onEpoch,
      onProgress: context.onProgress,
    });
    const seconds = { matrix: (t1 - t0) / 1000, train: (performance.now() - t1) / 1000 };
    return new AlsModel(dataset, options, incidence, fitted, seconds);
  },
  restore(dataset, options, state) {
    const t0 = performance.now();
    const incidence = buildIncidence(dataset, { interests: options.interestStrength, courses: options.courseStrength, assessments: options.assessmentStrength });
    const { userFactors, itemFactors, itemGram } = state.arrays;
    const k = options.factors;
    if (!userFactors || !itemFactors || !itemGram || userFactors.length !== dataset.users.length * k || itemFactors.length !== incidence.items.length * k || itemGram.length !== k * k) {
      throw new RangeError(`the stored als model does not fit this input (${dataset.users.length} users, ${incidence.items.length} items × ${k} factors expected)`);
    }
    const epochs = Array.isArray(state.meta.epochs) ? (state.meta.epochs as EpochReport[]) : [];
    const threads = typeof state.meta.threads === "number" ? state.meta.threads : 1;
    return new AlsModel(dataset, options, incidence, { userFactors, itemFactors, itemGram, k, epochs, threads }, { matrix: (performance.now() - t0) / 1000, train: 0 });
  },
};
