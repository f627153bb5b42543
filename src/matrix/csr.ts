/**
 * Compressed sparse row matrices in typed arrays. Row `r` holds the entries
 * `indices[indptr[r] .. indptr[r+1])` (column ids, strictly increasing) with `data` alongside.
 * Strictly increasing columns are an invariant every builder here keeps: kernels rely on it for a
 * fixed, partition-independent order of floating-point additions.
 */
export interface CSR {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  data: Float64Array;
}

/** How duplicate (row, col) entries are merged when building from coordinates. */
export type Combine = "sum" | "max" | "one";

/** Number of stored entries. */
export function nnz(m: CSR): number {
  return m.indptr[m.rows];
}

/**
 * Builds a CSR matrix from coordinate triplets, merging duplicates with `combine` ("sum" adds in
 * input order, "max" keeps the largest, "one" stores 1). Columns come out sorted within each row.
 * Two stable counting sorts (by column, then by row), so O(nnz + rows + cols) and no comparisons.
 */
export function fromCoordinates(
  rows: number,
  cols: number,
  rowIds: Int32Array,
  colIds: Int32Array,
  values: Float64Array | null,
  combine: Combine,
): CSR {
  const n = rowIds.length;
  if (colIds.length !== n || (values !== null && values.length !== n)) {
    throw new RangeError(`coordinate arrays differ in length: ${n} rows, ${colIds.length} cols, ${values?.length} values`);
  }
  // Pass 1: order entries by column (stable).
  const colStart = new Int32Array(cols + 1);
  for (let i = 0; i < n; i++) colStart[colIds[i] + 1]++;
  for (let c = 0; c < cols; c++) colStart[c + 1] += colStart[c];
  const byCol = new Int32Array(n);
  for (let i = 0; i < n; i++) byCol[colStart[colIds[i]]++] = i;
  // Pass 2: stable by row, so each row's entries are in column order, ties in input order.
  const rowStart = new Int32Array(rows + 1);
  for (let i = 0; i < n; i++) rowStart[rowIds[i] + 1]++;
  for (let r = 0; r < rows; r++) rowStart[r + 1] += rowStart[r];
  const order = new Int32Array(n);
  const cursor = rowStart.slice(0, rows);
  for (let k = 0; k < n; k++) {
    const i = byCol[k];
    order[cursor[rowIds[i]]++] = i;
  }
  // Merge duplicates in place.
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(n);
  const data = new Float64Array(n);
  let out = 0;
  for (let r = 0; r < rows; r++) {
    indptr[r] = out;
    let last = -1;
    for (let k = rowStart[r]; k < rowStart[r + 1]; k++) {
      const i = order[k];
      const c = colIds[i];
      const v = values === null ? 1 : values[i];
      if (c === last) {
        if (combine === "sum") data[out - 1] += v;
        else if (combine === "max") data[out - 1] = Math.max(data[out - 1], v);
        continue;
      }
      indices[out] = c;
      data[out] = combine === "one" ? 1 : v;
      out++;
      last = c;
    }
  }
  indptr[rows] = out;
  return { rows, cols, indptr, indices: indices.slice(0, out), data: data.slice(0, out) };
}

/**
 * The transpose (equivalently, the CSC form read as CSR): for each column, the rows holding it, in
 * increasing row order. This is the inverted index used to enumerate co-occurring rows.
 */
export function transpose(m: CSR): CSR {
  const total = nnz(m);
  const indptr = new Int32Array(m.cols + 1);
  for (let p = 0; p < total; p++) indptr[m.indices[p] + 1]++;
  for (let c = 0; c < m.cols; c++) indptr[c + 1] += indptr[c];
  const cursor = indptr.slice(0, m.cols);
  const indices = new Int32Array(total);
  const data = new Float64Array(total);
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
      const q = cursor[m.indices[p]]++;
      indices[q] = r;
      data[q] = m.data[p];
    }
  }
  return { rows: m.cols, cols: m.rows, indptr, indices, data };
}

/**
 * Each row divided by its L2 norm; zero entries are dropped (they contribute nothing to any dot
 * product), so a row whose entries are all zero becomes empty rather than 0/0.
 */
export function normalizeRows(m: CSR): CSR {
  const indptr = new Int32Array(m.rows + 1);
  const indices = new Int32Array(nnz(m));
  const data = new Float64Array(nnz(m));
  let out = 0;
  for (let r = 0; r < m.rows; r++) {
    indptr[r] = out;
    let sq = 0;
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) sq += m.data[p] * m.data[p];
    if (sq === 0) continue;
    const norm = Math.sqrt(sq);
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
      if (m.data[p] === 0) continue;
      indices[out] = m.indices[p];
      data[out] = m.data[p] / norm;
      out++;
    }
  }
  indptr[m.rows] = out;
  return { rows: m.rows, cols: m.cols, indptr, indices: indices.slice(0, out), data: data.slice(0, out) };
}

/** `m` with every value multiplied by `factor` (same structure, new data array). */
export function scale(m: CSR, factor: number): CSR {
  const data = new Float64Array(m.data.length);
  for (let p = 0; p < data.length; p++) data[p] = m.data[p] * factor;
  return { rows: m.rows, cols: m.cols, indptr: m.indptr, indices: m.indices, data };
}

/**
 * Side-by-side concatenation `[A | B | …]` of matrices with the same rows; the columns of the
 * k-th part are shifted by the column counts of the parts before it.
 */
export function hstack(parts: readonly CSR[]): CSR {
  if (parts.length === 0) throw new RangeError("hstack needs at least one matrix");
  const rows = parts[0].rows;
  for (const p of parts) if (p.rows !== rows) throw new RangeError(`hstack: row counts differ (${rows} vs ${p.rows})`);
  let total = 0;
  let cols = 0;
  for (const p of parts) {
    total += nnz(p);
    cols += p.cols;
  }
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(total);
  const data = new Float64Array(total);
  let out = 0;
  for (let r = 0; r < rows; r++) {
    indptr[r] = out;
    let shift = 0;
    for (const p of parts) {
      for (let q = p.indptr[r]; q < p.indptr[r + 1]; q++) {
        indices[out] = p.indices[q] + shift;
        data[out] = p.data[q];
        out++;
      }
      shift += p.cols;
    }
  }
  indptr[rows] = out;
  return { rows, cols, indptr, indices, data };
}
