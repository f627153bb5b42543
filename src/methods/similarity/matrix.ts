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
}

/** The key prefix of each block's items in {@link UserItemMatrix.columns} (the courses block's keys carry their own). */
const KEY_PREFIX: Record<BlockName, string> = { interests: "interest:", courses: "", assessments: "assessment:" };

/**
 * Builds the weighted similarity matrix from a dataset. `weights` default to {@link DEFAULT_WEIGHTS} and are validated and
 * normalized to sum to 1 (see `normalizeWeights`).
 */
export function buildUserItemMatrix(dataset: Dataset | InputColumns, weights: Partial<Weights> = DEFAULT_WEIGHTS): UserItemMatrix {
  return weightInteractions(buildInteractions(toDataset(dataset)), weights);
}

/** {@link buildUserItemMatrix} from interaction blocks already built. */
export function weightInteractions(interactions: Interactions, weights: Partial<Weights> = DEFAULT_WEIGHTS): UserItemMatrix {
  const w = normalizeWeights(weights);
  const parts: CSR[] = [];
  const blocks = {} as Record<BlockName, BlockStats>;
  const columns: string[] = [];
  const columnBlocks: number[] = [];
  for (const [b, name] of BLOCK_NAMES.entries()) {
    const { items, values } = interactions.blocks[name];
    const unit = normalizeRows(values);
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
  return { users: interactions.users, weights: w, matrix: hstack(parts), blocks, columns, columnBlocks: Uint8Array.from(columnBlocks) };
}

