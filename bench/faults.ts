/**
 * Fault injection (issue 14): SIGKILL `recsys ingest`, `recsys pipeline --data-dir` and
 * `recsys pipeline` (from the stored input) at random moments, then check the database.
 *
 *   bun bench/faults.ts                         # 36 trials, 4,000 generated users
 *   bun bench/faults.ts --trials 99 --users 10000 --seed 7
 *
 * Each trial copies a database holding input A and rankings of A (checkpointed, no WAL), starts
 * one command on it and kills it with SIGKILL after a random delay: for half the trials anywhere
 * in the command's run, for the other half inside its write transaction (from the moment the
 * WAL started growing in a calibration run to the end: the swap). Meanwhile this process reads
 * the rankings table every few milliseconds as the server would, in one read transaction each.
 * After the kill, on a fresh connection (which recovers the WAL as the next run would):
 *   - `PRAGMA quick_check` must say ok (else: a corruption);
 *   - the input tables must be A or B, the rankings table the old or the new one, and together
 *     a state a completed or a not-started command leaves (never B with the old rankings after
 *     `pipeline --data-dir`, never a new run row without the new table), no scratch table left;
 *   - every read during the run must have seen the old table or the new one, never a mix;
 *   - a follow-up `recsys pipeline` on the file must succeed.
 * Prints per command: trials, killed before / during / after the write, states seen, and the
 * failures of each check (all must be 0).
 */
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generate } from "../src/generate/index.ts";
import { Rng } from "../src/random.ts";
import { ROOT } from "./lib.ts";

const { values } = parseArgs({
  options: { trials: { type: "string", default: "36" }, users: { type: "string", default: "4000" }, seed: { type: "string", default: "1" }, keep: { type: "boolean", default: false } },
});
const trials = Number(values.trials);
const users = Number(values.users);
const rng = new Rng(Number(values.seed));
const random = () => rng.next();

const work = mkdtempSync(join(tmpdir(), "recsys-faults-"));
const dataA = join(work, "a");
const dataB = join(work, "b");
await generate({ users, seed: 11, outDir: dataA });
// B: another seed and a tenth more users, so every table differs.
await generate({ users: Math.round(users * 1.1), seed: 12, outDir: dataB });

const cli = (args: string[]) => [process.execPath, join(ROOT, "bin/recsys.ts"), ...args];

function run(args: string[]): { code: number | null; err: string } {
  const p = Bun.spawnSync(cli(args), { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode, err: p.stderr.toString() };
}

function must(args: string[]): void {
  const r = run(args);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed: ${r.err}`);
}

/** sha256 of a query's rows (first 12 hex digits: enough to tell states apart). */
function hashRows(db: Database, sql: string): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const row of db.query(sql).values()) h.update(JSON.stringify(row));
  return h.digest("hex").slice(0, 12);
}

const INPUT_SQL = ["user_interests", "user_assessment_scores", "user_course_views", "course_tags"].map((t) => `SELECT * FROM ${t} ORDER BY rowid`);
const RANKING_SQL = "SELECT user_handle, rank, similar, score FROM user_ranking ORDER BY user_handle, rank";

interface State {
  input: string;
  ranking: string;
  runs: number;
  ingests: number;
}

function state(db: Database): State {
  return db.transaction(() => ({
    input: INPUT_SQL.map((sql) => hashRows(db, sql)).join(":"),
    ranking: hashRows(db, RANKING_SQL),
    runs: (db.query("SELECT COUNT(*) FROM recsys_runs").values()[0][0] as number) ?? 0,
    ingests: (db.query("SELECT COUNT(*) FROM recsys_ingests").values()[0][0] as number) ?? 0,
  }))();
}

function readState(path: string): State {
  const db = new Database(path, { readonly: true });
  try {
    return state(db);
  } finally {
    db.close();
  }
}

const walSize = (path: string) => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

// The starting database: input A, rankings of A; closed, so checkpointed and without a WAL.
const base = join(work, "base.db");
must(["pipeline", "--data-dir", dataA, "--db", base]);
const old = readState(base);

interface Command {
  name: string;
  args: (db: string) => string[];
  /** Filled by calibration: the state a completed run leaves, its wall time, when its write starts. */
  done?: State;
  seconds?: number;
  writeStart?: number;
}
const commands: Command[] = [
  { name: "ingest B", args: (db) => ["ingest", "--data-dir", dataB, "--db", db] },
  { name: "pipeline --data-dir B", args: (db) => ["pipeline", "--data-dir", dataB, "--db", db] },
  // A different top-n: the stored input is ranked anew, so the swap replaces the table.
  { name: "pipeline (stored input), top-20", args: (db) => ["pipeline", "--db", db, "--top-n", "20"] },
];

/** Runs `command` on a copy of the base, uninterrupted, noting when the WAL starts growing. */
async function calibrate(command: Command): Promise<void> {
  const db = join(work, "calibrate.db");
  for (const s of ["", "-wal", "-shm"]) rmSync(db + s, { force: true });
  copyFileSync(base, db);
  const t0 = performance.now();
  const child = Bun.spawn(cli(command.args(db)), { stdout: "ignore", stderr: "pipe" });
  let writeStart: number | undefined;
  while (child.exitCode === null) {
    if (writeStart === undefined && walSize(db) > 0) writeStart = (performance.now() - t0) / 1000;
    await Bun.sleep(2);
  }
  if ((await child.exited) !== 0) throw new Error(`${command.name} failed: ${await new Response(child.stderr).text()}`);
  command.seconds = (performance.now() - t0) / 1000;
  command.writeStart = writeStart ?? command.seconds * 0.8;
  command.done = readState(db);
}
for (const c of commands) await calibrate(c);

/** What a trial found. */
interface Outcome {
  phase: "completed" | "before write" | "in or after write";
  state: "old" | "new" | "other";
  corrupt: boolean;
  inconsistent: string | undefined;
  reads: number;
  badReads: number;
  followUpFailed: boolean;
}

async function trial(command: Command, inWrite: boolean): Promise<Outcome> {
  const db = join(work, "trial.db");
  for (const s of ["", "-wal", "-shm"]) rmSync(db + s, { force: true });
  copyFileSync(base, db);
  const { seconds = 1, writeStart = 0 } = command;
  const child = Bun.spawn(cli(command.args(db)), { stdout: "ignore", stderr: "ignore" });
  const t0 = performance.now();
  // Anywhere in the run; or, for a write-phase trial, once the WAL grows (the write transaction
  // has begun), within the write's calibrated length (a fifth more: runs vary).
  let deadline = inWrite ? Infinity : t0 + random() * seconds * 1000;
  // Read as the server does while the command runs: every read sees one whole table.
  const reader = new Database(db, { readonly: true });
  const allowed = new Set([old.ranking, command.done!.ranking]);
  let reads = 0;
  let badReads = 0;
  for (let tick = 0; child.exitCode === null && performance.now() < deadline; tick++) {
    if (deadline === Infinity && walSize(db) > 0) deadline = performance.now() + random() * (seconds - writeStart) * 1200;
    // About every 16 ms (a read of the whole table takes a few).
    if (tick % 8 === 0) {
      try {
        const seen = reader.transaction(() => hashRows(reader, RANKING_SQL))();
        if (!allowed.has(seen)) badReads++;
      } catch {
        badReads++;
      }
      reads++;
    }
    await Bun.sleep(Math.max(0, Math.min(2, deadline - performance.now())));
  }
  const completed = child.exitCode === 0;
  if (child.exitCode === null) child.kill("SIGKILL");
  await child.exited;
  reader.close();
  const phase = completed ? "completed" : walSize(db) > 0 ? "in or after write" : "before write";

  // A fresh read-write connection recovers the WAL, as the next run would.
  const check = new Database(db);
  let corrupt = false;
  let inconsistent: string | undefined;
  let now: State | undefined;
  try {
    corrupt = (check.query("PRAGMA quick_check").values()[0][0] as string) !== "ok";
    now = state(check);
    const scratch = check.query("SELECT name FROM sqlite_master WHERE name LIKE '%recsys_next%'").values();
    if (scratch.length) inconsistent = `scratch table left: ${scratch.flat().join(", ")}`;
  } catch (e) {
    corrupt = true;
    inconsistent = (e as Error).message;
  } finally {
    check.close();
  }
  const done = command.done!;
  const same = (a: State, b: State) => a.input === b.input && a.ranking === b.ranking && a.runs === b.runs && a.ingests === b.ingests;
  const stateName = now && same(now, old) ? "old" : now && same(now, done) ? "new" : "other";
  if (!inconsistent && stateName === "other") inconsistent = `neither the old nor the new state: ${JSON.stringify(now)}`;
  const followUp = run(["pipeline", "--db", db]);
  return { phase, state: stateName, corrupt, inconsistent, reads, badReads, followUpFailed: followUp.code !== 0 };
}

console.log(`fault injection: ${trials} SIGKILL trials, ${users.toLocaleString("en-US")} users (input A), B ${Math.round(users * 1.1).toLocaleString("en-US")} users; seed ${values.seed}`);
for (const c of commands) console.log(`  ${c.name}: ${c.seconds!.toFixed(2)} s uninterrupted, write transaction from ${c.writeStart!.toFixed(2)} s`);

const results = new Map<string, Outcome[]>(commands.map((c) => [c.name, []]));
const failures: string[] = [];
for (let i = 0; i < trials; i++) {
  const command = commands[i % commands.length];
  const inWrite = Math.floor(i / commands.length) % 2 === 1;
  const o = await trial(command, inWrite);
  results.get(command.name)!.push(o);
  if (o.corrupt || o.inconsistent || o.badReads || o.followUpFailed) failures.push(`trial ${i + 1} (${command.name}): ${JSON.stringify(o)}`);
}

let corruptions = 0;
let inconsistent = 0;
let badReads = 0;
let reads = 0;
let followUps = 0;
for (const [name, outcomes] of results) {
  const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
  corruptions += count((o) => o.corrupt);
  inconsistent += count((o) => o.inconsistent !== undefined);
  followUps += count((o) => o.followUpFailed);
  for (const o of outcomes) {
    reads += o.reads;
    badReads += o.badReads;
  }
  console.log(
    `${name}: ${outcomes.length} trials; killed before the write ${count((o) => o.phase === "before write")}, in or after it ${count((o) => o.phase === "in or after write")}, completed first ${count((o) => o.phase === "completed")}; ` +
      `state after: old ${count((o) => o.state === "old")}, new ${count((o) => o.state === "new")}, other ${count((o) => o.state === "other")}`,
  );
}
console.log(`quick_check failures (corruptions): ${corruptions}; states neither old nor new: ${inconsistent}; reads during the runs: ${reads}, of a mixed or missing table: ${badReads}; follow-up pipelines failed: ${followUps}`);
for (const f of failures) console.log(`  FAILED ${f}`);
if (!values.keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exit(failures.length ? 1 : 0);
