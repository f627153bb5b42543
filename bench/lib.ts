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

/** The 99th percentile (nearest rank) of `xs`. */
export function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)];
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

/** The four input files' base names, in the order the reader takes them. */
export const INPUT_FILES = ["user_interests", "user_assessment_scores", "user_course_views", "course_tags"];

/**
 * Writes (into bench/out) and returns a script that runs csv-parse alone over the four CSVs in
 * `dir`, with the reader's options, counting records and keeping nothing: the floor for any
 * reader built on csv-parse.
 */
export async function csvParseBaseline(dir: string): Promise<string> {
  const script = `
import { Parser } from "csv-parse";
class Counting extends Parser { n = 0; push(r) { if (r === null) return super.push(null); this.n++; return true; } }
let rows = 0;
for (const f of ${JSON.stringify(INPUT_FILES)}) {
  const p = new Counting({ bom: true, relax_column_count: true, skip_empty_lines: true, cast: false });
  const done = new Promise((res, rej) => { p.on("finish", res); p.on("error", rej); });
  for await (const c of Bun.file(${JSON.stringify(dir)} + "/" + f + ".csv").stream()) p.write(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  p.end(); await done; rows += p.n;
}
console.log(rows);`;
  const path = join(OUT, "baseline-csv-parse.ts");
  await Bun.write(path, script);
  return path;
}

/**
 * Writes and returns a script with a minimal RFC 4180 scanner written for the benchmarks only
 * (quoted fields, "" escapes, LF/CRLF; every field decoded to a string, records counted, nothing
 * checked): what reading the same bytes costs without csv-parse.
 */
export async function scannerBaseline(dir: string): Promise<string> {
  const script = `
const td = new TextDecoder();
let rows = 0;
for (const f of ${JSON.stringify(INPUT_FILES)}) {
  const b = await Bun.file(${JSON.stringify(dir)} + "/" + f + ".csv").bytes();
  const n = b.length;
  let i = 0;
  while (i < n) {
    let s;
    if (b[i] === 34) {
      let j = i + 1, start = j, parts = "";
      for (;;) {
        const q = b.indexOf(34, j);
        if (q < 0) throw new Error("unclosed quote in " + f);
        if (b[q + 1] === 34) { parts += td.decode(b.subarray(start, q + 1)); j = q + 2; start = j; continue; }
        s = parts + td.decode(b.subarray(start, q)); i = q + 1; break;
      }
    } else {
      let j = i;
      while (j < n && b[j] !== 44 && b[j] !== 10 && b[j] !== 13) j++;
      s = td.decode(b.subarray(i, j)); i = j;
    }
    if (b[i] === 44) { i++; continue; }
    if (b[i] === 13) i++;
    if (b[i] === 10 || i >= n) { i++; rows++; }
  }
}
console.log(rows);`;
  const path = join(OUT, "baseline-scanner.ts");
  await Bun.write(path, script);
  return path;
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = l.port;
  l.stop(true);
  return p;
}

/** What one wrk run measured. */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Non-2xx answers. */
  failed: number;
  /** Socket errors (wrk's 2 s timeouts on a saturated machine among them). */
  socket: number;
  /** failed + socket. */
  errors: number;
}

/** wrk's latency text (`850.00us`, `1.2ms`, `2s`) in ms. */
function wrkMs(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

/** Runs wrk (one thread, `connections` connections, `script`) against the similarity route of 127.0.0.1:`port`. */
export function wrk(port: number, script: string, seconds: number, connections: number): WrkResult {
  const p = Bun.spawnSync(["wrk", "-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, `http://127.0.0.1:${port}/api/similarity/`], { stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString();
  if (p.exitCode !== 0) throw new Error(`wrk failed: ${p.stderr.toString()}`);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? 0);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const failed = num(/Non-2xx or 3xx responses: (\d+)/);
  const socket = sockets ? sockets.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: wrkMs(/\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? ""),
    p99: wrkMs(/\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? ""),
    requests: num(/(\d+) requests in/),
    failed,
    socket,
    errors: failed + socket,
  };
}
