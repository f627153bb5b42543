/**
 * The similarity method's matrix: exact weighted cosine similarity between users.
 *
 * similarity(u, v) = Σ_b w_b · ⟨x_b(u), x_b(v)⟩ over the blocks b = interests, courses,
 * assessments, where x_b(u) is u's block vector (see `buildInteractions`) L2-normalized on its own
 * (absent if u has nothing in b) and the weights sum to 1, so scores lie in [0, 1]. It is computed
 * as a single sparse dot product: each normalized block is scaled by √w_b and the blocks are put
 * side by side, so ⟨X(u), X(v)⟩ is the weighted sum. Exact: every pair of users sharing an item is
 * scored; nothing is sampled or approximated.
 */
import { toDataset, type Dataset, type InputColumns } from "../../dataset.ts";
import { hstack, nnz, normalizeRows, scale, type CSR } from "../../matrix/csr.ts";
import { BLOCK_NAMES, buildInteractions, type BlockName, type Interactions } from "../../matrix/interactions.ts";
import { blockWeighting, DEFAULT_WEIGHTING, weightEntry, type BlockWeighting, type Normalize, type WeightingOptions } from "./weighting.ts";
import { DEFAULT_WEIGHTS, normalizeWeights, type Weights } from "./weights.ts";

/** Size of one block in the similarity matrix. */
export interface BlockStats {
  /** Normalized weight w_b (0: the block is left out of the matrix). */
  weight: number;
  /** Distinct items of the block. */
  items: number;
  /** Non-zero entries of the block (zero values, e.g. 0-second courses, are not stored). */
  nnz: number;
  /** Users with a (non-zero) vector in the block. */
  users: number;
}

/** The weighted user × item matrix whose row dot products are the similarities. */
export interface UserItemMatrix {
  /** The dataset's users, in canonical handle order (the matrix rows). */
  users: readonly string[];
  weights: Weights;
  /** Blocks with positive weight side by side, each row L2-normalized per block and scaled by √w_b. */
  matrix: CSR;
  blocks: Record<BlockName, BlockStats>;
  /**
   * Item key of every matrix column (`interest:<tag>`, `course:<id>`, `tag:<course tag>`,
   * `assessment:<tag>`), in column order.
   */
  columns: string[];
  /** Block of every matrix column (index into {@link BLOCK_NAMES}). */
  columnBlocks: Uint8Array;
  /** How the values were weighted and normalized (see `weighting.ts` and {@link MatrixScheme}). */
  scheme: MatrixScheme;
  /** Per block with positive weight: its items' IDF factors (block column order) and avgL; for fold-in. */
  weighting: Partial<Record<BlockName, BlockWeighting>>;
  /** Rows of the data the weighting was computed on (N). */
  rows: number;
  /** How the kernel counts shrinkage's n (see {@link ShrinkageCounter}); null without shrinkage. */
  counter: ShrinkageCounter | null;
}

/**
 * How the matrix is built beyond the block weights. `normalize`: `blocks` L2-normalizes each
 * block's (weighted) vector on its own and scales it by √w_b (the original contract); `whole`
 * scales each block's weighted vector by √w_b, puts them side by side and L2-normalizes the whole
 * row once. `shrinkage` λ ≥ 0 multiplies a pair's score by n/(n + λ) (0: off); it is applied by
 * the kernel, not stored in the values. `shrinkageCount` says what n counts: `items`, the
 * interests, courses and assessment tags both users have (course tags are derived from the
 * courses, so a pair that shares one course shares all its tags too: counting them would make
 * one shared course look like many); `columns`, every matrix column both rows have, course tags
 * included (how shrinkage counted before the option existed).
 */
export interface MatrixScheme extends WeightingOptions {
  normalize: Normalize;
  shrinkage: number;
  shrinkageCount: ShrinkageCount;
}

export type ShrinkageCount = "items" | "columns";
export const SHRINKAGE_COUNTS: readonly ShrinkageCount[] = ["items", "columns"];

/**
 * Shrinkage's n as the kernel counts it, in one Int32 per pair: each shared column adds
 * `adds[col]`, 2^shift for a column that counts and 1 for one that does not (course tags when only
 * items count), so the sum's high bits (sum >>> shift) are n and its low bits the uncounted ones,
 * and any sum > 0 marks the pair as touched. `shift` is the bit length of the most uncounted
 * entries any row has (a pair shares no more than that), so the low bits never carry into n.
 * (A Float64 sum with tiny shares for the uncounted columns made the top-n 1.8× slower.)
 */
export interface ShrinkageCounter {
  adds: Int32Array;
  shift: number;
}

/**
 * The counter for `matrix` whose columns have `keys`. Throws when a row has so many entries that
 * a sum could reach 2^31 (about 2^31 / 2^shift counted items in one row: far past real data).
 */
export function shrinkageCounter(matrix: CSR, keys: readonly string[], count: ShrinkageCount): ShrinkageCounter {
  const counted = Uint8Array.from(keys, (key) => (count === "items" && key.startsWith("tag:") ? 0 : 1));
  let mostCounted = 0;
  let mostUncounted = 0;
  for (let u = 0; u < matrix.rows; u++) {
    let c = 0;
    for (let p = matrix.indptr[u]; p < matrix.indptr[u + 1]; p++) c += counted[matrix.indices[p]];
    mostCounted = Math.max(mostCounted, c);
    mostUncounted = Math.max(mostUncounted, matrix.indptr[u + 1] - matrix.indptr[u] - c);
  }
  const shift = 32 - Math.clz32(mostUncounted);
  if (mostCounted * 2 ** shift + mostUncounted >= 2 ** 31) {
    throw new RangeError(`shrinkage cannot count items for a row of ${mostCounted} items and ${mostUncounted} course tags (a pair's count would overflow); use --shrinkage-count columns`);
  }
  return { adds: Int32Array.from(counted, (c) => (c ? 2 ** shift : 1)), shift };
}

/**
 * The original contract: no item weighting, per-block normalization, no shrinkage. What
 * {@link buildUserItemMatrix} builds unless told otherwise (the method's defaults are in `index.ts`).
 */
export const CONTRACT_SCHEME: Readonly<MatrixScheme> = Object.freeze({ ...DEFAULT_WEIGHTING, itemWeighting: "none", normalize: "blocks", shrinkage: 0, shrinkageCount: "columns" });

/** The key prefix of each block's items in {@link UserItemMatrix.columns} (the courses block's keys carry their own). */
const KEY_PREFIX: Record<BlockName, string> = { interests: "interest:", courses: "", assessments: "assessment:" };

/**
 * Builds the weighted similarity matrix from a dataset. `weights` default to {@link DEFAULT_WEIGHTS} and are validated and
 * normalized to sum to 1 (see `normalizeWeights`).
 */
export function buildUserItemMatrix(dataset: Dataset | InputColumns, weights: Partial<Weights> = DEFAULT_WEIGHTS, scheme: Partial<MatrixScheme> = {}): UserItemMatrix {
  return weightInteractions(buildInteractions(toDataset(dataset)), weights, scheme);
}

/** `values` with every entry weighted by {@link weightEntry} (same structure; zeros stay, normalization drops them). */
function weighValues(o: WeightingOptions, values: CSR, bw: BlockWeighting): CSR {
  const data = new Float64Array(values.data.length);
  for (let u = 0; u < values.rows; u++) {
    let length = 0;
    for (let p = values.indptr[u]; p < values.indptr[u + 1]; p++) if (values.data[p] !== 0) length++;
    for (let p = values.indptr[u]; p < values.indptr[u + 1]; p++) {
      const x = values.data[p];
      data[p] = x === 0 ? 0 : weightEntry(o, x, bw.idf[values.indices[p]], length, bw.avgLength);
    }
  }
  return { ...values, data };
}

/** {@link buildUserItemMatrix} from interaction blocks already built. */
export function weightInteractions(interactions: Interactions, weights: Partial<Weights> = DEFAULT_WEIGHTS, given: Partial<MatrixScheme> = {}): UserItemMatrix {
  const w = normalizeWeights(weights);
  const scheme: MatrixScheme = { ...CONTRACT_SCHEME, ...given };
  const weighting: Partial<Record<BlockName, BlockWeighting>> = {};
  const rows = interactions.users.length;
  const parts: CSR[] = [];
  const blocks = {} as Record<BlockName, BlockStats>;
  const columns: string[] = [];
  const columnBlocks: number[] = [];
  for (const [b, name] of BLOCK_NAMES.entries()) {
    const { items, values: raw } = interactions.blocks[name];
    let values = raw;
    if (scheme.itemWeighting !== "none" && w[name] > 0) {
      const bw = blockWeighting(scheme, rows, raw.cols, raw.indptr, raw.indices, raw.data);
      weighting[name] = bw;
      values = weighValues(scheme, raw, bw);
    }
    // Per-block normalization is the original contract; `whole` normalizes after stacking, below.
    const unit = scheme.normalize === "blocks" ? normalizeRows(values) : dropZeros(values);
    let users = 0;
    for (let u = 0; u < unit.rows; u++) if (unit.indptr[u + 1] > unit.indptr[u]) users++;
    blocks[name] = { weight: w[name], items: items.length, nnz: nnz(unit), users };
    if (w[name] > 0) {
      parts.push(scale(unit, Math.sqrt(w[name])));
      for (const item of items) {
        columns.push(KEY_PREFIX[name] + item);
        columnBlocks.push(b);
      }
    }
  }
  const stacked = hstack(parts);
  const matrix = scheme.normalize === "blocks" ? stacked : normalizeRows(stacked);
  return {
    users: interactions.users,
    weights: w,
    matrix,
    blocks,
    columns,
    columnBlocks: Uint8Array.from(columnBlocks),
    scheme,
    weighting,
    rows,
    counter: scheme.shrinkage > 0 ? shrinkageCounter(matrix, columns, scheme.shrinkageCount) : null,
  };
}

/** `m` without its zero entries (what normalization would drop), values unchanged. */
function dropZeros(m: CSR): CSR {
  const indptr = new Int32Array(m.rows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
      if (m.data[p] === 0) continue;
      indices.push(m.indices[p]);
      data.push(m.data[p]);
    }
    indptr[r + 1] = indices.length;
  }
  return { rows: m.rows, cols: m.cols, indptr, indices: Int32Array.from(indices), data: Float64Array.from(data) };
}

