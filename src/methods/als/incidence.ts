/**
 * The input of `als`: one users × items matrix of interaction strengths, over the interaction
 * blocks of `buildInteractions` (which items a user has), with their values replaced by presence.
 *
 * Items, in this order (each block in the dataset's sorted order):
 * - `interest:<tag>`: every interest tag some user follows; strength s = `strengths.interests`;
 * - `course:<id>`: every course some user viewed (any view row, whatever its seconds: dwell time
 *   is not used, because presence recovered planted tastes better than log-minutes did); strength
 *   s = `strengths.courses`. The courses block's derived `tag:` items are not used: the courses
 *   themselves get factors;
 * - `assessment:<tag>`: every assessment tag some user has a score for (the score is not used);
 *   strength s = `strengths.assessments`.
 * A block whose strength is 0 is left out (no items). The confidence of an observed pair is then
 * c = 1 + α·s; unobserved pairs have c = 1 and preference 0 (Hu, Koren & Volinsky 2008).
 */
import type { Dataset } from "../../dataset.ts";
import { nnz, transpose, type CSR } from "../../matrix/csr.ts";
import { BLOCK_NAMES, buildInteractions, type BlockName } from "../../matrix/interactions.ts";

/** The key prefix of each block's items. */
const PREFIX: Record<BlockName, string> = { interests: "interest:", courses: "course:", assessments: "assessment:" };

/** The users × items strengths and their transpose. */
export interface Incidence {
  /** The dataset's users, in canonical handle order (the rows). */
  users: readonly string[];
  /** Item keys (`interest:x`, `course:c`, `assessment:t`); item id = position. */
  items: string[];
  /** Items per block. */
  blockItems: Record<BlockName, number>;
  /** users × items, strengths s_ui (columns increasing within a row). */
  userItems: CSR;
  /** items × users, the same entries. */
  itemUsers: CSR;
}

/** Builds the strength matrix (see the module comment); `strengths` are ≥ 0, per block. */
export function buildIncidence(dataset: Dataset, strengths: Record<BlockName, number>): Incidence {
  const { blocks } = buildInteractions(dataset);
  const rows = dataset.users.length;
  const parts: { keep: number; values: CSR; s: number; name: BlockName; keys: string[] }[] = [];
  for (const name of BLOCK_NAMES) {
    const { items, values } = blocks[name];
    if (!(strengths[name] > 0)) continue;
    // The courses block holds its courses first, then the `tag:` items of those courses.
    const keep = name === "courses" ? items.findIndex((key) => !key.startsWith("course:")) : items.length;
    const n = keep < 0 ? items.length : keep;
    const keys = items.slice(0, n).map((key) => (name === "courses" ? key : PREFIX[name] + key));
    parts.push({ keep: n, values, s: strengths[name], name, keys });
  }
  let total = 0;
  for (const p of parts) total += nnz(p.values);
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(total);
  const data = new Float64Array(total);
  let out = 0;
  for (let u = 0; u < rows; u++) {
    indptr[u] = out;
    let shift = 0;
    for (const p of parts) {
      const m = p.values;
      for (let q = m.indptr[u]; q < m.indptr[u + 1]; q++) {
        if (m.indices[q] >= p.keep) break;
        indices[out] = m.indices[q] + shift;
        data[out] = p.s;
        out++;
      }
      shift += p.keep;
    }
  }
  indptr[rows] = out;
  const items = parts.flatMap((p) => p.keys);
  const userItems: CSR = { rows, cols: items.length, indptr, indices: indices.slice(0, out), data: data.slice(0, out) };
  const blockItems = { interests: 0, courses: 0, assessments: 0 };
  for (const p of parts) blockItems[p.name] = p.keep;
  return { users: dataset.users, items, blockItems, userItems, itemUsers: transpose(userItems) };
}
