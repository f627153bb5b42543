/**
 * Method `similarity`: exact weighted cosine similarity between users.
 *
 * similarity(u, v) = Σ_b w_b · ⟨x_b(u), x_b(v)⟩ over the blocks b = interests, courses,
 * assessments, where x_b(u) is u's block vector (see `buildInteractions`), its items weighted
 * (`weighting.ts`: none, idf or bm25), L2-normalized on its own (or the whole vector once, with
 * `normalize: whole`), and the weights sum to 1, so scores lie in [0, 1]; shrinkage then multiplies
 * a pair's score by n/(n + λ) for the n items both have. Fitting builds the weighted matrix
 * (`matrix.ts`); ranking scores every pair of users sharing an item (`kernel.ts`) through the
 * top-n driver. Exact: nothing is sampled or approximated.
 *
 * With `rank` k > 0 users are ranked instead by the exact cosine of their rows projected on the
 * top k right singular vectors of that same matrix (X·V_k = U_kΣ_k, a seeded randomized SVD,
 * `svd.ts`): low-rank smoothing, so users can be neighbours without sharing an item. Shrinkage
 * (a count of shared items) means nothing there: it is off, and giving it is an error.
 */
import type { Dataset } from "../../dataset.ts";
import { nnz, transpose } from "../../matrix/csr.ts";
import { usersWithNeighbors } from "../../rank/heap.ts";
import { queryTopN, rankAllPairs } from "../../rank/driver.ts";
import { workerEntry } from "../../parallel.ts";
import type { Rankings } from "../../types.ts";
import type { Profile } from "../../profile.ts";
import { explainCosine } from "../../rank/explain-factors.ts";
import { FactorRanking, normalizeRows as normalizeFactorRows } from "../../rank/factors.ts";
import { projectRow, projectRows, randomizedSvd, type TruncatedSvd } from "../../matrix/svd.ts";
import { checkSubject, choiceOption, integerOption, numberOption, seedOption, type ExplainOptions, type Explanation, type FoldedProfile, type Method, type Model, type ModelState, type OptionSpec, type QueryOptions, type RankAllOptions, type Subject } from "../method.ts";
import { explainRows, foldIndex, foldInRow, type FoldIndex } from "./fold.ts";
import { scoreUser, similarityKernel, similaritySlice, topNScratch, type SimilarityData, type SparseRow, type TopNScratch } from "./kernel.ts";
import { buildUserItemMatrix, SHRINKAGE_COUNTS, type BlockStats, type MatrixScheme, type ShrinkageCount, type UserItemMatrix } from "./matrix.ts";
import { DEFAULT_WEIGHTING, ITEM_WEIGHTINGS, NORMALIZE_MODES, type ItemWeighting, type Normalize } from "./weighting.ts";
import { DEFAULT_WEIGHTS, formatWeights, normalizeWeights, parseWeights, type Weights } from "./weights.ts";

export { buildUserItemMatrix, CONTRACT_SCHEME, weightInteractions, type BlockStats, type MatrixScheme, type UserItemMatrix } from "./matrix.ts";
export { ITEM_WEIGHTINGS, NORMALIZE_MODES, type ItemWeighting, type Normalize } from "./weighting.ts";
export { DEFAULT_WEIGHTS, formatWeights, normalizeWeights, parseWeights, type Weights } from "./weights.ts";

/** Options of the similarity method. */
export interface SimilarityOptions {
  /** Block weights, normalized to sum 1 (default interests 0.5, courses 0.3, assessments 0.2). */
  weights: Weights;
  /** How items are weighted before normalization (`weighting.ts`). */
  itemWeighting: ItemWeighting;
  /** p of `idf`: ln(N/df)^p. */
  idfExponent: number;
  /** k1 of `bm25`. */
  bm25K1: number;
  /** b of `bm25`. */
  bm25B: number;
  /** Per-block L2 normalization (`blocks`) or of the whole concatenated vector (`whole`). */
  normalize: Normalize;
  /** λ of score · n/(n + λ), n = shared items (0: none). */
  shrinkage: number;
  /** What shrinkage's n counts: `items` (course tags not counted) or every shared `columns`. */
  shrinkageCount: ShrinkageCount;
  /** k of the truncated SVD whose embeddings are ranked by cosine (0: the exact sparse cosine). */
  rank: number;
  /** Seed of the SVD's random test matrix (only used with `rank` > 0). */
  seed: number;
}

/** The randomized SVD's settings (Halko et al. 2011): oversampling p and power iterations q. */
export const SVD_SETTINGS = Object.freeze({ oversampling: 10, powerIterations: 3 });

/**
 * The method's defaults beyond the block weights, chosen on one generated set and checked on
 * another (README, "Choosing the defaults"): damped IDF and shrinkage 5 beat the unweighted
 * contract on both. `--item-weighting none --shrinkage 0` is the original contract.
 */
export const SIMILARITY_DEFAULTS: Readonly<MatrixScheme> = Object.freeze({
  ...DEFAULT_WEIGHTING,
  /**
   * idf^0.5: neutral on generated data (with shrinkage 10: +0.2 point of recall@10 on one set,
   * −0.05 on the other; full IDF lost 0.4 point on validation), and the outside evaluation found
   * damped IDF the best weighting for plain cosine on real data.
   */
  itemWeighting: "idf",
  idfExponent: 0.5,
  normalize: "blocks",
  /**
   * λ 5: +2.4–2.5 points of recall@10 over no shrinkage on both generated sets; 10 and 20 scored
   * 0.1–0.4 point lower with less catalogue coverage, 2 and 50 lower on validation.
   */
  shrinkage: 5,
  /**
   * items: +0.9 to +1.1 points of recall@10 over counting course tags too, on all three generated
   * sets (a pair sharing one course shares its tags as well, so counting them let one shared course
   * escape shrinkage).
   */
  shrinkageCount: "items",
});

/** Default seed of the SVD (as the other seeded methods'). */
const SIMILARITY_SEED = 42;

/** A rank the matrix allows: 1..min(users, items) (0: none). */
function checkRank(rank: number, m: UserItemMatrix): void {
  const max = Math.min(m.matrix.rows, m.matrix.cols);
  // A bad value for this data, known only once it is read: exit 2 from the CLI, as a bad flag.
  if (rank > max) throw Object.assign(new RangeError(`--rank must be at most min(users, items) = ${max} for this data, got ${rank}`), { exitCode: 2 });
}

/** The matrix scheme of a set of similarity options. */
function schemeOf(o: SimilarityOptions): MatrixScheme {
  return { itemWeighting: o.itemWeighting, idfExponent: o.idfExponent, bm25K1: o.bm25K1, bm25B: o.bm25B, normalize: o.normalize, shrinkage: o.shrinkage, shrinkageCount: o.shrinkageCount };
}

const weightsOption: OptionSpec<Weights> = {
  description: "block weights, normalized to sum 1",
  valueHint: "SPEC",
  default: normalizeWeights(DEFAULT_WEIGHTS),
  check(value, name) {
    if (typeof value === "string") return this.parse(value, name);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new RangeError(`${name} must be an object like { interests: 0.5, courses: 0.3, assessments: 0.2 }`);
    return normalizeWeights(Object.fromEntries(Object.entries(value)));
  },
  parse(text, name) {
    try {
      return parseWeights(text);
    } catch (e) {
      throw new RangeError(`${name}: ${(e as Error).message.replace(/^weights: /, "")}`);
    }
  },
  format: formatWeights,
};

const WORKER = workerEntry(new URL("./worker.ts", import.meta.url), "src/methods/similarity/worker.ts");

/** Figures of a similarity fit and ranking, for summaries and the runs table. */
export interface SimilarityDetails {
  /** The dataset's users (the ranked users). */
  users: number;
  /** Ranked users that got at least one neighbour. */
  usersWithNeighbors: number;
  weights: Weights;
  blocks: Record<string, BlockStats>;
  /** Non-zero entries of the whole weighted matrix. */
  nnz: number;
  /** Neighbour rows produced. */
  rows: number;
  threads: number;
  /** Seconds per stage: building the matrix, the SVD (with a rank, embeddings included), then the top-n. */
  seconds: { matrix: number; svd?: number; topN: number };
  /** With `rank` > 0: k and σ_1..σ_k. */
  rank?: number;
  singularValues?: number[];
}

/** A profile folded into a similarity model: its row of the weighted matrix (and, with a rank, its unit embedding). */
interface SimilarityProfile extends FoldedProfile {
  readonly row: SparseRow;
  readonly unit?: Float64Array;
}

/** A model's low-rank part (`rank` > 0): the SVD and the users' embeddings ranked by cosine. */
interface LowRank {
  svd: TruncatedSvd;
  ranking: FactorRanking;
  /** Seconds the SVD took (0 when restored). */
  seconds: number;
}

/** A fitted similarity model: the weighted matrix and its transpose. */
export class SimilarityModel implements Model {
  readonly method = "similarity";
  readonly params: { weights: Weights; rank: number; seed: number } & MatrixScheme;
  readonly stages: { matrix: number; svd?: number };
  /** With `rank` > 0: the SVD and the embeddings' ranking. */
  readonly lowRank: LowRank | undefined;
  private data: SimilarityData | undefined;
  private scratch: TopNScratch | undefined;
  private folding: FoldIndex | undefined;

  constructor(
    readonly dataset: Dataset,
    readonly matrix: UserItemMatrix,
    seconds: number,
    low: { rank: number; seed: number; svd?: TruncatedSvd } = { rank: 0, seed: SIMILARITY_SEED },
  ) {
    this.params = { weights: matrix.weights, ...matrix.scheme, rank: low.rank, seed: low.seed };
    this.stages = { matrix: seconds };
    if (low.rank > 0) {
      const t0 = performance.now();
      const svd = low.svd ?? randomizedSvd(matrix.matrix, low.rank, { ...SVD_SETTINGS, seed: low.seed });
      const svdSeconds = low.svd ? 0 : (performance.now() - t0) / 1000;
      const embeddings = projectRows(matrix.matrix, svd);
      this.lowRank = { svd, ranking: new FactorRanking(embeddings, matrix.matrix.rows, svd.k), seconds: svdSeconds };
      this.stages = { matrix: seconds, svd: (performance.now() - t0) / 1000 };
    }
  }

  /** What the exact kernel reads (the matrix's transpose is built on first use: a rank never needs it). */
  private exact(): SimilarityData {
    const { matrix, counter } = this.matrix;
    this.data ??= { x: matrix, xt: transpose(matrix), shrinkage: counter ? { lambda: this.matrix.scheme.shrinkage, counter } : undefined };
    return this.data;
  }

  async rankAll(options: RankAllOptions = {}): Promise<Rankings> {
    if (this.lowRank) return this.lowRank.ranking.rank(this.dataset.users, options);
    const lists = await rankAllPairs({
      rows: this.matrix.matrix.rows,
      topN: options.topN ?? 10,
      data: this.exact(),
      setup: similarityKernel,
      worker: WORKER,
      threads: options.threads,
      onProgress: options.onProgress,
      onThreads: options.onThreads,
      range: options.rows && { ...options.rows, slice: similaritySlice },
    });
    return { users: [...this.dataset.users], ...lists };
  }

  similarUsers(subject: Subject, options: QueryOptions = {}) {
    checkSubject(subject, this.dataset, this.method);
    if (this.lowRank) return this.lowRank.ranking.query(typeof subject === "number" ? subject : { unit: this.unitOf(subject as SimilarityProfile) }, options.n ?? 10, options);
    this.scratch ??= topNScratch(this.matrix.matrix.rows);
    const scratch = this.scratch;
    const self = typeof subject === "number" ? subject : -1;
    const row = typeof subject === "number" ? undefined : (subject as SimilarityProfile).row;
    const data = this.exact();
    return queryTopN(options.n ?? 10, (offer) => scoreUser(data, self, scratch, offer, row), options);
  }

  foldIn(profile: Profile): FoldedProfile {
    this.folding ??= foldIndex(this.dataset, this.matrix);
    const { row, unknown } = foldInRow(this.dataset, this.matrix, this.folding, profile);
    const folded: SimilarityProfile = { method: this.method, profile, unknown, row };
    if (!this.lowRank) return folded;
    const k = this.lowRank.svd.k;
    const embedding = new Float64Array(k);
    projectRow(this.lowRank.svd, row.indices, row.data, embedding);
    const withUnit: SimilarityProfile = { ...folded, unit: normalizeFactorRows(embedding, 1, k) };
    return withUnit;
  }

  /** A folded profile's unit embedding (rank > 0). */
  private unitOf(p: SimilarityProfile): Float64Array {
    if (!p.unit) throw new RangeError("a profile folded into a model without a rank cannot be asked of one with a rank");
    return p.unit;
  }

  explain(subject: Subject, other: number, options: ExplainOptions = {}): Explanation {
    checkSubject(subject, this.dataset, this.method);
    checkSubject(other, this.dataset, this.method);
    const a = typeof subject === "number" ? this.row(subject) : (subject as SimilarityProfile).row;
    if (this.lowRank) return this.explainLowRank(subject, a, other, options.items ?? 10);
    return explainRows(this.matrix, a, this.row(other), options.items ?? 10);
  }

  /**
   * cos(û, v̂) of the embeddings, split by block: u's embedding is Σ_c x_c·V_c over u's matrix
   * columns c, so with item c's vector x_c·V_c/‖xV‖ the per-block sums add up to û exactly and
   * {@link explainCosine}'s regression gives each block its dot product with v̂ (residual ≈ 0).
   */
  private explainLowRank(subject: Subject, a: SparseRow, other: number, limit: number): Explanation {
    const low = this.lowRank!;
    const { k, v } = low.svd;
    const u = low.ranking.unitOf(typeof subject === "number" ? subject : { unit: this.unitOf(subject as SimilarityProfile) });
    const w = low.ranking.unitOf(other);
    const embedding = new Float64Array(k);
    projectRow(low.svd, a.indices, a.data, embedding);
    let sq = 0;
    for (let f = 0; f < k; f++) sq += embedding[f] * embedding[f];
    const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
    let score = 0;
    for (let f = 0; f < k; f++) score += u.unit[f] * w.unit[f];
    const valueOf = new Map<number, number>();
    for (let p = 0; p < a.indices.length; p++) valueOf.set(a.indices[p], a.data[p]);
    const ofV = new Set(this.row(other).indices);
    const explained = explainCosine({
      k,
      unitU: u.unit,
      unitV: w.unit,
      score,
      items: a.indices,
      vectorOf: (c, out, at) => {
        const x = valueOf.get(c)! * inv;
        for (let f = 0; f < k; f++) out[at + f] = x * v[c * k + f];
      },
      blockOf: (c) => this.matrix.columnBlocks[c],
      nameOf: (c) => this.matrix.columns[c],
      hasV: (c) => ofV.has(c),
      limit,
    });
    return { ...explained, meaning: `score = cosine of the two users' rank-${k} SVD embeddings (their weighted rows times V_k); the first user's embedding is the sum of its items' x·V rows, so each block's share is its items' part dotted with the other user's unit embedding` };
  }

  /** Row u of the weighted matrix. */
  private row(u: number): SparseRow {
    const { indptr, indices, data } = this.matrix.matrix;
    return { indices: indices.subarray(indptr[u], indptr[u + 1]), data: data.subarray(indptr[u], indptr[u + 1]) };
  }

  /**
   * Nothing beyond the weights without a rank: the matrix is rebuilt from the input tables (see
   * {@link similarity}'s `restore`). With one, V_k and σ (the SVD is seeded and deterministic,
   * but keeping V_k spares the restore its cost).
   */
  state(): ModelState {
    if (!this.lowRank) return { arrays: {}, meta: {} };
    return { arrays: { svdV: this.lowRank.svd.v, svdSigma: this.lowRank.svd.sigma }, meta: { svdSeconds: this.lowRank.seconds } };
  }

  details(r: { rankings: Rankings; threads: number; seconds: number }): SimilarityDetails & Record<string, unknown> {
    const m = this.matrix;
    return {
      users: m.users.length,
      usersWithNeighbors: usersWithNeighbors(r.rankings),
      weights: m.weights,
      blocks: m.blocks,
      nnz: nnz(m.matrix),
      rows: r.rankings.neighbors.length,
      threads: r.threads,
      seconds: { matrix: this.stages.matrix, ...(this.stages.svd === undefined ? {} : { svd: this.stages.svd }), topN: r.seconds },
      ...(this.lowRank ? { rank: this.lowRank.svd.k, singularValues: [...this.lowRank.svd.sigma] } : {}),
    };
  }

  describe(details: Record<string, unknown>): string[] {
    const fmt = (n: number) => n.toLocaleString("en-US");
    const lines: string[] = [];
    for (const [name, b] of Object.entries(this.matrix.blocks)) {
      lines.push(`  ${name.padEnd(12)} weight ${b.weight.toFixed(3)}  ${fmt(b.items).padStart(7)} items  ${fmt(b.nnz).padStart(10)} nnz  ${fmt(b.users).padStart(8)} users`);
    }
    const sc = this.matrix.scheme;
    const weighting = sc.itemWeighting === "idf" ? `idf^${sc.idfExponent}` : sc.itemWeighting === "bm25" ? `bm25 k1 ${sc.bm25K1} b ${sc.bm25B}` : "none";
    lines.push(`  item weighting ${weighting}, normalize ${sc.normalize}, shrinkage ${sc.shrinkage}${sc.shrinkage > 0 ? ` (counting ${sc.shrinkageCount})` : ""}`);
    lines.push(`  matrix nnz ${fmt(nnz(this.matrix.matrix))}, ${String(details.threads)} thread(s)`);
    if (this.lowRank) {
      const s = this.lowRank.svd.sigma;
      lines.push(`  rank-${this.lowRank.svd.k} randomized SVD (seed ${this.params.seed}): σ ${s[0].toPrecision(4)} … ${s[s.length - 1].toPrecision(4)}; users ranked by cosine of their embeddings`);
    }
    return lines;
  }
}

/** The similarity method. */
export const similarity: Method<SimilarityOptions> = {
  name: "similarity",
  description: "exact weighted cosine over interest, course and assessment blocks",
  options: {
    weights: weightsOption,
    itemWeighting: choiceOption({ default: SIMILARITY_DEFAULTS.itemWeighting, choices: ITEM_WEIGHTINGS, description: "item weighting before normalization: none, idf (ln(1 + N/df)^p) or bm25" }),
    idfExponent: numberOption({ default: SIMILARITY_DEFAULTS.idfExponent, max: 4, description: "exponent p of idf weighting, ln(1 + N/df)^p (1: full IDF)", valueHint: "P" }),
    bm25K1: numberOption({ default: SIMILARITY_DEFAULTS.bm25K1, allowZero: true, max: 100, description: "k1 of bm25 weighting (saturation)", valueHint: "K1" }),
    bm25B: numberOption({ default: SIMILARITY_DEFAULTS.bm25B, allowZero: true, max: 1, description: "b of bm25 weighting (length normalization)", valueHint: "B" }),
    normalize: choiceOption({ default: SIMILARITY_DEFAULTS.normalize, choices: NORMALIZE_MODES, description: "L2-normalize each block (blocks) or the whole weighted vector once (whole)" }),
    shrinkage: numberOption({ default: SIMILARITY_DEFAULTS.shrinkage, allowZero: true, max: 1e6, description: "shrinkage λ: score · n/(n+λ), n = items both users have (0: off; off by default with --rank)", valueHint: "L" }),
    shrinkageCount: choiceOption({
      default: SIMILARITY_DEFAULTS.shrinkageCount,
      choices: SHRINKAGE_COUNTS,
      description: "what shrinkage's n counts: items (interests, courses, assessments; not course tags) or columns (course tags too)",
    }),
    rank: integerOption({ default: 0, min: 0, max: 4096, valueHint: "K", description: "rank k of a truncated SVD of the weighted matrix: users ranked by cosine of their k-dim embeddings (0: exact sparse cosine; at most min(users, items))" }),
    seed: seedOption({ default: SIMILARITY_SEED, description: "random seed (of the SVD with --rank)" }),
  },
  // With a rank, shrinkage (a count of shared items) has no meaning: its default is dropped, and
  // giving it is an error rather than a silent no-op.
  combine(options, given) {
    if (options.rank === 0) return options;
    if (given.shrinkage !== undefined && options.shrinkage > 0) throw new RangeError(`--rank ${options.rank} and --shrinkage ${options.shrinkage} cannot go together: shrinkage (a count of shared items) has no meaning for SVD embeddings; leave --shrinkage out (or 0)`);
    return { ...options, shrinkage: 0 };
  },
  // Runs recorded before item weighting, normalization and shrinkage existed used the original
  // contract; runs recorded before `shrinkageCount` existed counted every column.
  recordedDefaults: { itemWeighting: "none", normalize: "blocks", shrinkage: 0, shrinkageCount: "columns" },
  async fit(dataset, options, context = {}) {
    const t0 = performance.now();
    context.onProgress?.("matrix", 0, 1);
    const m = buildUserItemMatrix(dataset, options.weights, schemeOf(options));
    context.onProgress?.("matrix", 1, 1);
    checkRank(options.rank, m);
    return new SimilarityModel(dataset, m, (performance.now() - t0) / 1000, { rank: options.rank, seed: options.seed });
  },
  // The matrix is rebuilt from the dataset rather than stored. Measured at 10k generated users
  // (476k non-zeros, 5.8 MB as blobs; medians of 5 on a loaded machine): storing costs 148 ms per
  // run and 5.8 MB per table, reading it back 16 ms, rebuilding 286 ms. The model loads in the
  // server's worker, off the request path, and must load the dataset anyway (the fingerprint
  // check), so the 0.27 s saved per load did not pay for a copy of the matrix in every database.
  // With a rank, V_k and σ are stored (see `state`); without them (an older run) the seeded SVD is redone.
  restore(dataset, options, state) {
    const t0 = performance.now();
    const m = buildUserItemMatrix(dataset, options.weights, schemeOf(options));
    const seconds = (performance.now() - t0) / 1000;
    if (options.rank === 0) return new SimilarityModel(dataset, m, seconds);
    checkRank(options.rank, m);
    const { svdV: v, svdSigma: sigma } = state.arrays;
    let svd: TruncatedSvd | undefined;
    if (v || sigma) {
      if (!v || !sigma || sigma.length !== options.rank || v.length !== m.matrix.cols * options.rank) {
        throw new RangeError(`the stored similarity model does not fit this input (${m.matrix.cols} items × rank ${options.rank} expected)`);
      }
      svd = { k: options.rank, v, sigma };
    }
    return new SimilarityModel(dataset, m, seconds, { rank: options.rank, seed: options.seed, svd });
  },
};
