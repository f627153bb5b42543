/** Shared bits of the benchmark scripts: medians, timed child processes, cached generated data. */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../src/generate/index.ts";

export const ROOT = join(import.meta.dir, "..");
export const OUT = join(ROOT, "bench/out");

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Generated data for `users` users (seed 1), made once and reused across bench runs. */
export async function generatedData(users: number, seed = 1): Promise<string> {
  const dir = join(OUT, `data-${users}-seed${seed}`);
  if (!existsSync(join(dir, "course_tags.csv"))) {
    mkdirSync(dir, { recursive: true });
    await generate({ users, seed, outDir: dir });
  }
  return dir;
}

/** Runs a command to completion; returns wall seconds, stdout, and peak RSS in MB (via /usr/bin/time). */
export function timed(cmd: string[], opts: { cwd?: string; rss?: boolean } = {}): { seconds: number; out: string; err: string; rssMB?: number; code: number } {
  const argv = opts.rss ? ["/usr/bin/time", "-f", "RSS_KB=%M", ...cmd] : cmd;
  const t0 = performance.now();
  const p = Bun.spawnSync(argv, { cwd: opts.cwd ?? ROOT, stdout: "pipe", stderr: "pipe" });
  const seconds = (performance.now() - t0) / 1000;
  const err = p.stderr.toString();
  const m = /RSS_KB=(\d+)/.exec(err);
  return { seconds, out: p.stdout.toString(), err, code: p.exitCode ?? -1, rssMB: m ? Number(m[1]) / 1024 : undefined };
}

export function fmtS(s: number): string {
  return `${s.toFixed(3)} s`;
}
