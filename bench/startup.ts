/**
 * Start-up of the compiled binary: `./recsys similar 110` on a 10k-user rankings table (target
 * ≤ 100 ms wall). Baselines in the same run: `/bin/true` and `./recsys --version`.
 *   bun run build && bun bench/startup.ts
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fmtS, generatedData, median, OUT, ROOT, timed } from "./lib.ts";

const exe = join(ROOT, "recsys");
if (!existsSync(exe)) throw new Error("build the binary first: bun run build");
const dir = await generatedData(10000);
const db = join(OUT, "startup-10000.db");
rmSync(db, { force: true });
const p = timed([exe, "pipeline", "--method", "similarity", "--data-dir", dir, "--db", db, "--json"]);
if (p.code !== 0) throw new Error(p.err);

const runs = 30;
const measure = (cmd: string[]) => median(Array.from({ length: runs }, () => timed(cmd).seconds));
const trueS = measure(["/bin/true"]);
const version = measure([exe, "--version"]);
const similar = measure([exe, "similar", "110", "--db", db]);
const similarJson = measure([exe, "similar", "110", "--db", db, "--json"]);
console.log(`binary ${(Bun.file(exe).size / 1e6).toFixed(1)} MB; medians of ${runs} runs`);
console.log(`baseline /bin/true ${fmtS(trueS)}; ./recsys --version ${fmtS(version)}`);
console.log(`./recsys similar 110 ${fmtS(similar)}; with --json ${fmtS(similarJson)} (target ≤ 0.100 s)`);
rmSync(db, { force: true });
