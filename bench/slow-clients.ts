/**
 * Slow and hostile clients against the HTTP front end (issue 14, items 1–2): what a normal
 * client sees while others misbehave, next to what it sees alone, measured in the same run.
 *
 * - pipelining: N clients (default 300) pipeline requests as fast as they can and never read an
 *   answer, reconnecting whenever the server drops them. A normal keep-alive client meanwhile
 *   sends one request at a time: its p50/p99/max latency, failures, and the server's peak RSS.
 * - idle: as many silent connections as the server admits (--max-connections, default 1024),
 *   each reopened as soon as the server closes it. A new client meanwhile connects, asks once
 *   and leaves, every 20 ms: how many get 200, how many 503 or nothing.
 *
 * Three processes: the server (this file in --child server mode: startServer as `recsys serve`
 * uses it, access log off), the misbehaving clients (--child attackers), and the measuring
 * client (this process), so that neither side's load delays the other's clock.
 *
 *   bun bench/slow-clients.ts [--attackers 300] [--seconds 10] [--max-connections 1024]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Socket } from "bun";

const USERS = 1000;
const TOP = 10;

function request(u: number): string {
  const body = `{"user_handle":"${u}"}`;
  return `GET /api/similarity/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

function makeTable(path: string): void {
  const { openDatabase } = require("../src/db/open.ts") as typeof import("../src/db/open.ts");
  const { writeRankings } = require("../src/db/rankings.ts") as typeof import("../src/db/rankings.ts");
  const users = Array.from({ length: USERS }, (_, i) => String(i + 1));
  const offsets = Int32Array.from({ length: USERS + 1 }, (_, i) => i * TOP);
  const neighbors = Int32Array.from({ length: USERS * TOP }, (_, i) => (Math.floor(i / TOP) + 1 + (i % TOP)) % USERS);
  const scores = Float64Array.from({ length: USERS * TOP }, (_, i) => 1 - (i % TOP) / 100);
  const db = openDatabase(path);
  writeRankings(db, "user_ranking", { users, offsets, neighbors, scores }, { method: "bench", params: {}, input: {}, startedAt: new Date(), stages: {} });
  db.close();
}

async function serverChild(db: string, maxConnections: number): Promise<void> {
  const { startServer } = await import("../src/server/serve.ts");
  const s = await startServer({ dbPath: db, table: "user_ranking", hostname: "127.0.0.1", port: 0, accessLog: false, maxConnections });
  process.on("SIGTERM", () => s.close(0).then(() => process.exit(0)));
  console.log(`ready ${s.http.port}`);
}

/** Misbehaving clients until killed: pipelining non-readers, or silent connections. */
function attackersChild(port: number, mode: string, count: number): void {
  // 100 pipelined requests per write: each client writes whenever the kernel takes more.
  const burst = Buffer.from(Array.from({ length: 100 }, (_, i) => request(1 + (i % USERS))).join(""));
  // Writes bursts until the kernel takes no more, then waits for drain; a partly written burst
  // is finished first, so the stream stays well framed.
  const pump = (s: Socket<{ rest: Buffer | null; timer: ReturnType<typeof setTimeout> | null }>) => {
    for (let i = 0; i < 10; i++) {
      const out = s.data.rest ?? burst;
      const n = s.write(out);
      if (n < 0) return;
      if (n < out.length) {
        s.data.rest = out.subarray(n);
        return; // drain calls again
      }
      s.data.rest = null;
    }
    s.data.timer = setTimeout(() => pump(s), 1);
  };
  const open = () => {
    Bun.connect<{ rest: Buffer | null; timer: ReturnType<typeof setTimeout> | null }>({
      hostname: "127.0.0.1",
      port,
      data: { rest: null, timer: null },
      socket: {
        open(s) {
          if (mode === "pipeline") {
            // Never read an answer: the server's output to us piles up in the kernel and then
            // in the server.
            s.pause();
            pump(s);
          }
        },
        drain(s) {
          if (mode === "pipeline") pump(s);
        },
        data() {},
        close(s) {
          if (s.data.timer) clearTimeout(s.data.timer);
          setTimeout(open, 10);
        },
        error() {},
        connectError() {
          setTimeout(open, 50);
        },
      },
    }).catch(() => setTimeout(open, 50));
  };
  for (let i = 0; i < count; i++) open();
  console.log("ready");
}

interface Sample {
  ms: number[];
  statuses: Map<number, number>;
  failed: number;
}

/** One complete answer from `s`, Content-Length framed; resolves its status (0: closed before). */
function exchange(port: number): { ask(text: string): Promise<number>; close(): void } {
  let buf = "";
  let waiter: ((status: number) => void) | null = null;
  let sock: Socket | null = null;
  let closed = false;
  const ready = Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        buf += chunk.toString("latin1");
        const he = buf.indexOf("\r\n\r\n");
        if (he < 0) return;
        const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, he))?.[1] ?? 0);
        if (buf.length < he + 4 + len) return;
        const status = Number(buf.slice(9, 12));
        buf = buf.slice(he + 4 + len);
        waiter?.(status);
      },
      close() {
        closed = true;
        waiter?.(0);
      },
      error() {},
    },
  }).then((s) => (sock = s));
  return {
    async ask(text) {
      await ready;
      if (closed) return 0;
      return new Promise<number>((resolve) => {
        waiter = (st) => ((waiter = null), resolve(st));
        sock!.write(text);
      });
    },
    close: () => sock?.end(),
  };
}

/** A keep-alive client asking one request at a time for `seconds` (reconnecting if dropped). */
async function keepAliveClient(port: number, seconds: number): Promise<Sample> {
  const out: Sample = { ms: [], statuses: new Map(), failed: 0 };
  const stop = performance.now() + seconds * 1000;
  let conn = exchange(port);
  for (let i = 0; performance.now() < stop; i++) {
    const t0 = performance.now();
    const status = await Promise.race([conn.ask(request(1 + (i % USERS))), Bun.sleep(5000).then(() => -1)]);
    out.ms.push(performance.now() - t0);
    if (status <= 0) {
      out.failed++;
      conn.close();
      conn = exchange(port);
    } else out.statuses.set(status, (out.statuses.get(status) ?? 0) + 1);
  }
  conn.close();
  return out;
}

/** A new connection per request, one every 20 ms, for `seconds`. */
async function newcomers(port: number, seconds: number): Promise<Sample> {
  const out: Sample = { ms: [], statuses: new Map(), failed: 0 };
  const stop = performance.now() + seconds * 1000;
  let i = 0;
  const pending: Promise<void>[] = [];
  while (performance.now() < stop) {
    const u = 1 + (i++ % USERS);
    pending.push(
      (async () => {
        const t0 = performance.now();
        const conn = exchange(port);
        const status = await Promise.race([conn.ask(request(u)).catch(() => 0), Bun.sleep(5000).then(() => -1)]);
        conn.close();
        out.ms.push(performance.now() - t0);
        if (status <= 0) out.failed++;
        else out.statuses.set(status, (out.statuses.get(status) ?? 0) + 1);
      })(),
    );
    await Bun.sleep(20);
  }
  await Promise.all(pending);
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
}

function line(label: string, s: Sample, extra = ""): string {
  const statuses = [...s.statuses].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}×${v}`).join(" ");
  return (
    `${label.padEnd(44)} n=${String(s.ms.length).padStart(6)}  p50 ${pct(s.ms, 50).toFixed(2).padStart(7)} ms  p99 ${pct(s.ms, 99).toFixed(2).padStart(8)} ms  ` +
    `max ${Math.max(...s.ms).toFixed(0).padStart(5)} ms  [${statuses}${s.failed ? ` no-answer×${s.failed}` : ""}]${extra}`
  );
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Samples the server's RSS every 100 ms until stopped; returns the peak. */
function watchRss(pid: number): () => number {
  let peak = rssMiB(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  return () => (clearInterval(t), peak);
}

async function spawnChild(args: string[]): Promise<{ proc: Bun.Subprocess<"ignore", "pipe", "inherit">; line: string }> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--child", ...args], { stdout: "pipe", stderr: "inherit" });
  const { value } = await proc.stdout.getReader().read();
  return { proc, line: new TextDecoder().decode(value).trim() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      child: { type: "string" },
      db: { type: "string" },
      port: { type: "string" },
      mode: { type: "string" },
      count: { type: "string" },
      attackers: { type: "string", default: "300" },
      seconds: { type: "string", default: "10" },
      "max-connections": { type: "string", default: "1024" },
    },
  });
  const maxConnections = Number(values["max-connections"]);
  if (values.child === "server") return serverChild(values.db!, maxConnections);
  if (values.child === "attackers") return attackersChild(Number(values.port), values.mode!, Number(values.count));
  const seconds = Number(values.seconds);
  const attackers = Number(values.attackers);
  const dir = mkdtempSync(join(tmpdir(), "recsys-bench-slow-"));
  const db = join(dir, "rankings.db");
  makeTable(db);
  const server = await spawnChild(["server", "--db", db, "--max-connections", String(maxConnections)]);
  const port = Number(server.line.split(" ")[1]);
  try {
    console.log(`${navigator.hardwareConcurrency} cores; ${seconds} s per row; server: startServer, access log off, --max-connections ${maxConnections}\n`);
    await keepAliveClient(port, 1); // warm-up
    const alone = await keepAliveClient(port, seconds);
    console.log(line("keep-alive client alone (baseline)", alone, `  RSS ${rssMiB(server.proc.pid).toFixed(0)} MiB`));

    const bad = await spawnChild(["attackers", "--port", String(port), "--mode", "pipeline", "--count", String(attackers)]);
    await Bun.sleep(1000);
    const peak = watchRss(server.proc.pid);
    const loaded = await keepAliveClient(port, seconds);
    console.log(line(`… with ${attackers} pipelining non-readers`, loaded, `  server peak RSS ${peak().toFixed(0)} MiB (goal: p99 ≤ 50 ms)`));
    bad.proc.kill();
    await bad.proc.exited;
    await Bun.sleep(500);

    const fresh = await newcomers(port, seconds);
    console.log(line("new client per request, alone (baseline)", fresh));
    const idle = await spawnChild(["attackers", "--port", String(port), "--mode", "silent", "--count", String(maxConnections)]);
    await Bun.sleep(1000);
    const held = await newcomers(port, seconds);
    console.log(line(`… with ${maxConnections} silent connections`, held, "  (goal: every one answered 200)"));
    idle.proc.kill();
    await idle.proc.exited;
  } finally {
    server.proc.kill("SIGTERM");
    await server.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
