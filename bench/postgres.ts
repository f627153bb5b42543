/**
 * Postgres against SQLite in the same run, on the same 10k generated users (issue 13's goal:
 * Postgres serve ≥ 50% of SQLite's req/s with p99 ≤ 10 ms):
 *   - `recsys ingest` (each run a fresh process into a fresh database), and the write alone
 *     through COPY next to the design alternative, multi-row INSERTs of unnest()ed arrays;
 *   - `recsys pipeline --method similarity` reading its input from the store;
 *   - `recsys serve` under wrk (50 connections, GET with a JSON body, every user in turn), with the
 *     shipped answer cache and with it off (every request reaches the store);
 *   - how soon a reader notices a swap: polling the catalog (shipped, every 100 ms) next to
 *     LISTEN/NOTIFY (the alternative), and what the polling costs the server.
 * Postgres is a throwaway local cluster (test/fixtures/postgres.ts; durability settings off, as
 * for the tests), on the same 2 cores as everything else.
 *
 *   bun bench/postgres.ts [--users 10000] [--runs 3] [--duration 10] [--rounds 3] [--parts ingest,pipeline,notice,serve]
 */
import { SQL } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, generatedData, median, ROOT, timed, wrk, type WrkResult } from "./lib.ts";
import { pgUnavailable, startCluster } from "../test/fixtures/postgres.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    child: { type: "string" },
    port: { type: "string" },
    db: { type: "string" },
    cache: { type: "string", default: "20000" },
    poll: { type: "string", default: "100" },
    users: { type: "string", default: "10000" },
    runs: { type: "string", default: "3" },
    duration: { type: "string", default: "10" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    parts: { type: "string", default: "ingest,pipeline,notice,serve" },
  },
});

if (values.child) {
  // A server process: the same startServer as `recsys serve` (read-only, access log off).
  const { startServer } = await import("../src/server/serve.ts");
  const s = await startServer({
    dbPath: values.db!,
    table: "user_ranking",
    hostname: "127.0.0.1",
    port: Number(values.port),
    cacheSize: Number(values.cache),
    checkEveryMs: Number(values.poll),
    accessLog: false,
  });
  process.on("SIGTERM", () => s.close().then(() => process.exit(0)));
  console.log("ready");
} else {
  const why = pgUnavailable();
  if (why) {
    console.error(`bench/postgres.ts needs a local Postgres: ${why}`);
    process.exit(2);
  }
  if (Bun.spawnSync(["sh", "-c", "command -v wrk"]).exitCode !== 0) {
    console.error("bench/postgres.ts needs wrk: apt-get install -y wrk");
    process.exit(2);
  }
  await main();
}

function fmt(xs: number[], digits = 2): string {
  return `${median(xs).toFixed(digits)} s  [${xs.map((x) => x.toFixed(digits)).join(" ")}]`;
}

async function main(): Promise<void> {
  const users = Number(values.users);
  const runs = Number(values.runs);
  const data = await generatedData(users);
  const work = mkdtempSync(join(tmpdir(), "recsys-bench-pg-"));
  const pg = await startCluster();
  const cli = (args: string[]) => {
    const r = timed(["bun", join(ROOT, "bin/recsys.ts"), ...args]);
    if (r.code !== 0) throw new Error(`recsys ${args.join(" ")} failed: ${r.err}`);
    return r.seconds;
  };
  try {
    console.log(`${users} generated users (${data}); ${runs} runs each, interleaved; ${navigator.hardwareConcurrency} cores\n`);

    const parts = new Set(values.parts!.split(","));
    // 1. ingest, whole command, fresh database each run.
    if (parts.has("ingest")) await ingestBench(data, runs, work, cli, pg);
    // 2. pipeline from the store's own input tables (whose databases serve the rankings below).
    const sqliteDb = join(work, "pipeline.db");
    const pgDb = await pg.createDatabase("pipeline");
    cli(["ingest", "--data-dir", data, "--db", sqliteDb]);
    cli(["ingest", "--data-dir", data, "--db", pgDb]);
    const pipeline = { sqlite: [] as number[], postgres: [] as number[] };
    for (let i = 0; i < (parts.has("pipeline") ? runs : 1); i++) {
      pipeline.sqlite.push(cli(["pipeline", "--method", "similarity", "--db", sqliteDb]));
      pipeline.postgres.push(cli(["pipeline", "--method", "similarity", "--db", pgDb]));
    }
    if (parts.has("pipeline")) console.log(`recsys pipeline (store)  SQLite ${fmt(pipeline.sqlite)}   Postgres ${fmt(pipeline.postgres)}`);
    // 3. notice latency: polling (shipped) and LISTEN/NOTIFY.
    if (parts.has("notice")) await noticeLatency(pgDb);
    // 4. serve: both stores hold the same 10k-user rankings (written by the pipeline above).
    if (parts.has("serve")) await serveBench(sqliteDb, pgDb, work, users);
  } finally {
    pg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** `recsys ingest` into both stores, and the Postgres write alone by COPY and by unnest INSERTs. */
async function ingestBench(data: string, runs: number, work: string, cli: (args: string[]) => number, pg: Awaited<ReturnType<typeof startCluster>>): Promise<void> {
  const ingest = { sqlite: [] as number[], postgres: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const file = join(work, `ingest-${i}.db`);
    ingest.sqlite.push(cli(["ingest", "--data-dir", data, "--db", file]));
    ingest.postgres.push(cli(["ingest", "--data-dir", data, "--db", await pg.createDatabase("ingest")]));
  }
  console.log(`recsys ingest            SQLite ${fmt(ingest.sqlite)}   Postgres ${fmt(ingest.postgres)}`);

  // 1b. the write alone, in-process: COPY (shipped) against INSERT … SELECT FROM unnest(arrays).
  const { readTables } = await import("../src/read/index.ts");
  const { PostgresStore } = await import("../src/db/postgres.ts");
  const { tables, summary } = await readTables(data);
  const write = { copy: [] as number[], unnest: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const store = await PostgresStore.open(await pg.createDatabase("write"));
    let t0 = performance.now();
    await store.writeInput(tables, summary);
    write.copy.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    await unnestWrite(store.sql, tables);
    write.unnest.push((performance.now() - t0) / 1000);
    store.close();
  }
  console.log(`input write, in-process  COPY ${fmt(write.copy)}   unnest INSERTs ${fmt(write.unnest)}`);
}

/** The four input tables written as INSERT … SELECT * FROM unnest($1::text[], …), 50k rows a statement. */
async function unnestWrite(sql: SQL, tables: import("../src/types.ts").Tables): Promise<void> {
  const { SCHEMA, TABLE_NAMES, rowCount } = await import("../src/read/schema.ts");
  const { pgType } = await import("../src/db/pg-schema.ts");
  await sql.begin(async (tx) => {
    for (const name of TABLE_NAMES) {
      const specs = SCHEMA[name].columns;
      const target = `${name}_unnest`;
      await tx.unsafe(`CREATE TABLE ${target} (${specs.map((c) => `${c.name} ${pgType(c.kind)} NOT NULL`).join(", ")})`);
      const table = tables[name] as Record<string, string[] | Float64Array>;
      const n = rowCount(tables[name], name);
      const args = specs.map((c, j) => `$${j + 1}::${c.kind === "nonNegativeNumber" ? "float8" : "text"}[]`).join(", ");
      for (let i = 0; i < n; i += 50_000) {
        const slice = specs.map((c) => Array.from(table[c.name].slice(i, i + 50_000) as ArrayLike<string | number>));
        await tx.unsafe(`INSERT INTO ${target} SELECT * FROM unnest(${args})`, slice);
      }
    }
  });
}

/** Time from a swap's commit to its notice: a polling reader (100 ms) and a LISTEN subscription. */
async function noticeLatency(url: string): Promise<void> {
  const { PostgresStore } = await import("../src/db/postgres.ts");
  const store = await PostgresStore.open(url);
  const rankings = (await import("../test/fixtures/rankings.ts")).cyclicRankings(
    Array.from({ length: 1000 }, (_, i) => String(i)),
    10,
  );
  const run = { method: "bench", params: {}, input: {}, startedAt: new Date(), stages: {} };
  const reader = store.reader("notice_bench", { checkEveryMs: 100 });
  const poll: number[] = [];
  for (let i = 0; i < 10; i++) {
    await reader.sync(true);
    const g = reader.generation;
    await store.publish({ table: "notice_bench", ranked: Promise.resolve({ rankings, run }) });
    const t0 = performance.now();
    while (reader.generation === g) await Bun.sleep(1);
    poll.push(performance.now() - t0);
    await Bun.sleep(37 * i); // spread the commits over the polling period
  }
  reader.close();
  const listener = new SQL(url);
  // From the writer's COMMIT returning to the listener's callback (negative: the notification came first).
  const listen: number[] = [];
  let notifiedAt = 0;
  let notified: () => void = () => {};
  const sub = await listener.listen("recsys_bench", () => {
    notifiedAt = performance.now();
    notified();
  });
  for (let i = 0; i < 10; i++) {
    const got = new Promise<void>((resolve) => (notified = resolve));
    await store.sql.begin(async (tx) => {
      await tx.unsafe("CREATE TABLE IF NOT EXISTS notice_listen (x int)");
      await tx.notify("recsys_bench", "swap");
    });
    const committed = performance.now();
    await got;
    listen.push(notifiedAt - committed);
  }
  await sub.unlisten();
  await listener.close();
  store.close();
  const ms = (xs: number[]) => `median ${median(xs).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;
  console.log(`swap noticed after       polling every 100 ms: ${ms(poll)};  LISTEN/NOTIFY: ${ms(listen)}\n`);
}





async function serveBench(sqliteDb: string, pgDb: string, work: string, users: number): Promise<void> {
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);
  // Every ranked user once, shuffled, each as the seed's GET-with-JSON-body request.
  const sql = new SQL(pgDb);
  const list = ((await sql.unsafe(`SELECT DISTINCT user_handle FROM user_ranking`).values()) as string[][]).map((x) => x[0]);
  await sql.close();
  const script = join(work, "requests.lua");
  writeFileSync(
    script,
    `local handles = {${list.map((h) => JSON.stringify(h)).join(",")}}
local reqs = {}
local i = 0
init = function(args)
  math.randomseed(7)
  for u = #handles, 2, -1 do local j = math.random(1, u); handles[u], handles[j] = handles[j], handles[u] end
  for k = 1, #handles do
    reqs[k] = wrk.format("GET", "/api/similarity/", { ["Content-Type"] = "application/json", ["Host"] = "127.0.0.1" }, '{"user_handle":"' .. handles[k] .. '"}')
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
`,
  );
  const kinds: [string, string, string, string][] = [
    ["SQLite, answer cache on (shipped)", sqliteDb, "20000", "100"],
    ["Postgres, answer cache on (shipped)", pgDb, "20000", "100"],
    ["SQLite, cache off (every request reads the store)", sqliteDb, "0", "100"],
    ["Postgres, cache off (every request reads the store)", pgDb, "0", "100"],
    ["Postgres, cache off, no polling (its cost)", pgDb, "0", "1000000000"],
    ["Postgres, cache off, pool of 4 connections (not 10)", `${pgDb}?max=4`, "0", "100"],
    ["Postgres, cache off, pool of 20 connections", `${pgDb}?max=20`, "0", "100"],
  ];
  console.log(`wrk -t1 -c${connections} -d${seconds}s, GET with JSON body, ${list.length} of ${users} users ranked, top-10; ${rounds} rounds, servers interleaved\n`);
  const servers = [];
  for (const [label, db, cache, poll] of kinds) {
    const port = await freePort();
    const proc = Bun.spawn(["bun", import.meta.path, "--child", "app", "--port", String(port), "--db", db, "--cache", cache, "--poll", poll], { stdout: "pipe", stderr: "inherit" });
    await proc.stdout.getReader().read(); // "ready"
    wrk(port, script, Math.max(2, Math.ceil(seconds / 4)), connections); // warm-up (and, with the cache, one pass over every user)
    servers.push({ label, port, proc, results: [] as WrkResult[] });
  }
  for (let r = 0; r < rounds; r++) for (const s of servers) s.results.push(wrk(s.port, script, seconds, connections));
  const rps: Record<string, number> = {};
  for (const s of servers) {
    s.proc.kill("SIGTERM");
    await s.proc.exited;
    const m = (f: (x: WrkResult) => number) => median(s.results.map(f));
    rps[s.label] = m((x) => x.rps);
    const sum = (f: (x: WrkResult) => number) => s.results.reduce((a, x) => a + f(x), 0);
    console.log(
      `${s.label.padEnd(52)} ${m((x) => x.rps).toFixed(0).padStart(7)} req/s  p50 ${m((x) => x.p50).toFixed(2).padStart(5)} ms  p99 ${m((x) => x.p99).toFixed(2).padStart(5)} ms  non-2xx ${sum((x) => x.failed)}, socket errors ${sum((x) => x.socket)} of ${sum((x) => x.requests)}` +
        `  [${s.results.map((x) => `${(x.rps / 1000).toFixed(1)}k/${x.p99.toFixed(1)}ms`).join(" ")}]`,
    );
  }
  const ratio = (a: string, b: string) => ((100 * rps[a]) / rps[b]).toFixed(0);
  console.log(
    `\nPostgres / SQLite req/s: cache on ${ratio(kinds[1][0], kinds[0][0])}%, cache off ${ratio(kinds[3][0], kinds[2][0])}% (goal ≥ 50%, p99 ≤ 10 ms). Medians over rounds.`,
  );
}
