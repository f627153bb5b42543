/**
 * How the rankings table is replaced (issue 14, item 10): the store fills a scratch table and
 * renames it over the old one (`writeRankings`, with `legacy_alter_table` so views survive). The
 * alternative kept for comparison is replacing the rows in place: DELETE every row, INSERT the
 * new ones into the same table. Both in one write transaction, with a view over the table, into
 * a file database in WAL mode, checkpointed between runs; runs interleaved, medians printed.
 *
 *   bun bench/swap.ts                      # 100k users × top-10 (1M rows), 5 runs each
 *   bun bench/swap.ts --users 10000 --runs 9
 */
import { rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compareBytes } from "../src/handles.ts";
import { openDatabase } from "../src/db/open.ts";
import { writeRankings } from "../src/db/rankings.ts";
import type { Rankings } from "../src/types.ts";
import { fmtS, median } from "./lib.ts";

const { values } = parseArgs({ options: { users: { type: "string", default: "100000" }, runs: { type: "string", default: "5" }, "top-n": { type: "string", default: "10" } } });
const users = Number(values.users);
const runs = Number(values.runs);
const topN = Number(values["top-n"]);

function rankings(salt: number): Rankings {
  const offsets = new Int32Array(users + 1);
  const neighbors = new Int32Array(users * topN);
  const scores = new Float64Array(users * topN);
  for (let u = 0; u < users; u++) {
    offsets[u + 1] = (u + 1) * topN;
    for (let k = 0; k < topN; k++) {
      neighbors[u * topN + k] = (u + k + 1 + salt) % users;
      scores[u * topN + k] = 1 / (k + 1 + salt);
    }
  }
  return { users: Array.from({ length: users }, (_, i) => String(i + 1)), offsets, neighbors, scores };
}

/** The alternative: the same rows, replaced in place in the existing table. */
function deleteInsert(db: ReturnType<typeof openDatabase>, r: Rankings): void {
  const order = Array.from({ length: r.users.length }, (_, i) => i).sort((a, b) => compareBytes(r.users[a], r.users[b]));
  db.transaction(() => {
    db.exec("DELETE FROM user_ranking");
    const insert = db.prepare("INSERT INTO user_ranking (user_handle, rank, similar, score) VALUES (?, ?, ?, ?)");
    for (const u of order) for (let k = r.offsets[u]; k < r.offsets[u + 1]; k++) insert.run(r.users[u], k - r.offsets[u] + 1, r.users[r.neighbors[k]], r.scores[k]);
    insert.finalize();
  }).immediate();
}

const dir = mkdtempSync(join(tmpdir(), "recsys-bench-swap-"));
const path = join(dir, "swap.db");
const db = openDatabase(path);
const run = { method: "bench", params: {}, input: {}, startedAt: new Date(), stages: {} };
writeRankings(db, "user_ranking", rankings(0), run);
db.exec("CREATE VIEW user_ranking_v AS SELECT * FROM user_ranking");
const times = { rename: [] as number[], deleteInsert: [] as number[] };
for (let i = 0; i < runs; i++) {
  for (const how of ["rename", "deleteInsert"] as const) {
    const next = rankings(i + 1);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const t0 = performance.now();
    if (how === "rename") writeRankings(db, "user_ranking", next, run);
    else deleteInsert(db, next);
    times[how].push((performance.now() - t0) / 1000);
  }
}
const check = db.query("SELECT COUNT(*) FROM user_ranking_v").values()[0][0];
db.close();
rmSync(dir, { recursive: true, force: true });
console.log(`${users.toLocaleString("en-US")} users × top-${topN} (${check} rows), ${runs} runs each, interleaved`);
console.log(`scratch table + rename (writeRankings, baseline): median ${fmtS(median(times.rename))}`);
console.log(`DELETE + INSERT in place:                          median ${fmtS(median(times.deleteInsert))}`);
