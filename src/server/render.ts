/** The API's answer format, shared by the server and `recsys similar --json` (kept tiny: the CLI imports it). */
import type { NeighborRow } from "../db/store.ts";

/** Score as served: rounded to 4 decimals. */
export function roundScore(score: number): number {
  return Math.round(score * 1e4) / 1e4;
}

/** Serializes neighbours exactly as the API answers them: `[{"similar":"5537","score":0.8957},…]`. */
export function renderNeighbors(rows: NeighborRow[]): string {
  let out = "[";
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) out += ",";
    out += `{"similar":${JSON.stringify(rows[i][0])},"score":${JSON.stringify(roundScore(rows[i][1]))}}`;
  }
  return out + "]";
}
