/**
 * REST API throughput and latency (issue 5 budget: ≥ 25,000 req/s, p99 ≤ 5 ms, zero errors, flat
 * RSS; 50 connections, 10 s, GET with a JSON body, 10k-user table).
 *
 * The server runs in its own process (this file in --child mode, through the same startServer
 * as `recsys serve`, access log on, to a file); the load comes from wrk (Debian package `wrk`)
 * in another process on loopback, cycling through requests for every one of the 10k users.
 * Baselines measured in the same run: a hello-world handler on the same HTTP front end, and
 * (with --designs) hello-world on Bun.serve and on Bun's node:http, the design alternatives.
 *
 *   bun bench/server.ts [--duration 10] [--rounds 3] [--connections 50] [--designs]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, wrk, type WrkResult } from "./lib.ts";

const USERS = 10_000;
const TOP = 10;

async function child(kind: string, port: number, db: string, cache: number): Promise<void> {
  const hello = '[{"similar":"5537","score":0.8957}]';
  if (kind === "hello") {
    const { listen } = await import("../src/server/http.ts");
    listen(() => ({ status: 200, body: hello }), { hostname: "127.0.0.1", port });
  } else if (kind === "bun-serve") {
    Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response(hello, { headers: { "content-type": "application/json" } }) });
  } else if (kind === "node-http") {
    const { createServer } = await import("node:http");
    createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(hello);
      });
    }).listen(port, "127.0.0.1");
  } else {
    const { startServer } = await import("../src/server/serve.ts");
    // Same as `recsys serve` (read-only, access log on) except the cache size knob.
    const s = await startServer({ dbPath: db, table: "user_ranking", hostname: "127.0.0.1", port, cacheSize: cache, accessLog: kind !== "app-nolog" });
    // Inherited stderr is a file here; the log lines are counted afterwards.
    process.on("SIGTERM", () => s.close().then(() => process.exit(0)));
  }
  console.log("ready");
}

function makeTable(path: string): void {
  const { openDatabase } = require("../src/db/open.ts") as typeof import("../src/db/open.ts");
  const { writeRankings } = require("../src/db/rankings.ts") as typeof import("../src/db/rankings.ts");
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const users = Array.from({ length: USERS }, (_, i) => String(i + 1));
  const offsets = Int32Array.from({ length: USERS + 1 }, (_, i) => i * TOP);
  const neighbors = new Int32Array(USERS * TOP);
  const scores = new Float64Array(USERS * TOP);
  for (let u = 0; u < USERS; u++) {
    let s = 1;
    for (let k = 0; k < TOP; k++) {
      let v = Math.floor(rand() * USERS);
      if (v === u) v = (v + 1) % USERS;
      neighbors[u * TOP + k] = v;
      s -= rand() * 0.05;
      scores[u * TOP + k] = s;
    }
  }
  const db = openDatabase(path);
  writeRankings(db, "user_ranking", { users, offsets, neighbors, scores }, { method: "bench", params: {}, input: {}, startedAt: new Date(), stages: {} });
  db.close();
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}





/**
 * `./recsys similar 110` from the compiled binary on the 10k table (budget ≤ 100 ms wall), next
 * to `./recsys --version` (process start + CLI parse, the floor) in the same run.
 */
function startupBench(dir: string, db: string): void {
  const exe = join(dir, "recsys");
  const root = join(import.meta.dir, "..");
  const build = Bun.spawnSync(["bun", "build", "--compile", "--minify", "--sourcemap=none", join(root, "bin/recsys.ts"), "--outfile", exe], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) {
    console.log(`(startup: build failed, skipped: ${build.stderr.toString().trim().split("\n")[0]})`);
    return;
  }
  const time = (args: string[]) => {
    const runs: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      const p = Bun.spawnSync([exe, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      runs.push(performance.now() - t);
      if (p.exitCode !== 0) throw new Error(`${args.join(" ")} failed: ${p.stderr.toString()}`);
    }
    return runs.sort((a, b) => a - b)[7];
  };
  const floor = time(["--version"]);
  const similar = time(["similar", "110", "--db", db]);
  const json = time(["similar", "110", "--db", db, "--json"]);
  console.log(
    `startup, compiled binary, median of 15: --version ${floor.toFixed(0)} ms (floor); similar 110 ${similar.toFixed(0)} ms; similar 110 --json ${json.toFixed(0)} ms (budget ≤ 100 ms)\n`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      child: { type: "string" },
      port: { type: "string" },
      db: { type: "string" },
      cache: { type: "string", default: "20000" },
      duration: { type: "string", default: "10" },
      rounds: { type: "string", default: "3" },
      connections: { type: "string", default: "50" },
      designs: { type: "boolean", default: false },
    },
  });
  if (values.child) return child(values.child, Number(values.port), values.db ?? "", Number(values.cache));
  if (Bun.spawnSync(["which", "wrk"]).exitCode !== 0) {
    console.error("bench/server.ts needs wrk: apt-get install -y wrk");
    process.exit(2);
  }
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  const dir = mkdtempSync(join(tmpdir(), "recsys-bench-server-"));
  try {
    const db = join(dir, "rankings.db");
    makeTable(db);
    // Every user once, in a shuffled order, each as the seed's GET-with-JSON-body request.
    const script = join(dir, "requests.lua");
    writeFileSync(
      script,
      `local reqs = {}
local i = 0
init = function(args)
  local n = ${USERS}
  local order = {}
  for u = 1, n do order[u] = u end
  math.randomseed(7)
  for u = n, 2, -1 do local j = math.random(1, u); order[u], order[j] = order[j], order[u] end
  for k = 1, n do
    reqs[k] = wrk.format("GET", "/api/similarity/", { ["Content-Type"] = "application/json", ["Host"] = "127.0.0.1" }, '{"user_handle":"' .. order[k] .. '"}')
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
`,
    );
    const kinds: [string, string, string][] = [
      ["hello", "hello world, same HTTP front end (baseline)", "0"],
      ["app", "recsys API (shipped defaults: answer cache, access log)", "20000"],
      ["app", "recsys API, answer cache off (every request hits SQLite)", "0"],
      ["app-nolog", "recsys API, cache on, access log off (--quiet)", "20000"],
    ];
    if (values.designs) {
      kinds.push(["bun-serve", "hello world, Bun.serve (drops GET bodies)", "0"]);
      kinds.push(["node-http", "hello world, Bun's node:http, body read", "0"]);
    }
    startupBench(dir, db);
    const rounds = Number(values.rounds);
    console.log(
      `wrk -t1 -c${connections} -d${seconds}s, GET with JSON body, ${USERS} users × top-${TOP}; ${navigator.hardwareConcurrency} cores; ` +
        `${rounds} rounds, servers interleaved (the machine is shared: compare rows of the same run)\n`,
    );
    // All servers up at once (idle ones cost nothing), each warmed up, then measured in
    // interleaved rounds so that a burst of load elsewhere hits every row alike.
    const servers = [];
    for (const [kind, label, cache] of kinds) {
      const port = await freePort();
      const logFile = join(dir, `${kind}-${cache}.log`);
      const proc = Bun.spawn(["bun", import.meta.path, "--child", kind, "--port", String(port), "--db", db, "--cache", cache], {
        stdout: "pipe",
        stderr: Bun.file(logFile),
      });
      await proc.stdout.getReader().read(); // "ready"
      // Warm-up: JIT, page cache, and (for the cached API) one pass over every user.
      wrk(port, script, Math.max(2, Math.ceil(seconds / 4)), connections);
      servers.push({ kind, label, port, proc, logFile, rssBefore: rssKiB(proc.pid), results: [] as WrkResult[] });
    }
    for (let r = 0; r < rounds; r++) for (const s of servers) s.results.push(wrk(s.port, script, seconds, connections));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const s of servers) {
      const rssAfter = rssKiB(s.proc.pid);
      s.proc.kill("SIGTERM");
      await s.proc.exited;
      const rps = median(s.results.map((x) => x.rps));
      const p99 = median(s.results.map((x) => x.p99));
      const p50 = median(s.results.map((x) => x.p50));
      const errors = s.results.reduce((a, x) => a + x.errors, 0);
      const requests = s.results.reduce((a, x) => a + x.requests, 0);
      const logged = s.kind === "app" ? readFileSync(s.logFile, "utf8").split("\n").length - 1 : 0;
      console.log(
        `${s.label.padEnd(58)} ${rps.toFixed(0).padStart(7)} req/s  p50 ${p50.toFixed(2).padStart(5)} ms  p99 ${p99.toFixed(2).padStart(5)} ms  errors ${errors}/${requests}  ` +
          `RSS ${(s.rssBefore / 1024).toFixed(1)} → ${(rssAfter / 1024).toFixed(1)} MiB` +
          `  [rounds: ${s.results.map((x) => `${(x.rps / 1000).toFixed(1)}k/${x.p99.toFixed(1)}ms`).join(" ")}]` +
          (logged ? `  (${logged} access-log lines)` : ""),
      );
    }
    console.log("\nMedians over rounds. Budget (shipped-defaults row): ≥ 25,000 req/s, p99 ≤ 5 ms, 0 errors, flat RSS across all rounds.");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
