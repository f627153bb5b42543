/**
 * The deployment examples of deploy/ are parsed, their commands checked against the CLI's flags,
 * and run: the Kubernetes Indexed Job's pods (JOB_COMPLETION_INDEX and the run key as Kubernetes
 * sets them) and the Airflow DAG's tasks rank a small store exactly as the unsharded pipeline
 * does; the Deployment's command serves and its readiness probe's path answers 200.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArgsDef, CommandDef } from "citty";
import { generate } from "../src/generate/index.ts";
import { ingest } from "../src/ingest.ts";
import { openStore } from "../src/db/store.ts";
import { root, runCli, spawnCli } from "./fixtures/cli.ts";

const work = mkdtempSync(join(tmpdir(), "recsys-deploy-"));
let data: string;
beforeAll(async () => {
  data = join(work, "data");
  await generate({ users: 150, seed: 2, outDir: data });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const deploy = (path: string) => readFileSync(join(root, "deploy", path), "utf8");

/** Throws unless `argv` is `recsys <command> …` with only flags that command defines, each string flag with a value. */
async function checkCommand(argv: string[]): Promise<void> {
  expect(argv[0]).toBe("recsys");
  const cmd = (await import(join(root, "bin/commands", `${argv[1]}.ts`))).default as CommandDef;
  const args = (typeof cmd.args === "function" ? await cmd.args() : await cmd.args) as ArgsDef;
  for (let i = 2; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m) throw new Error(`${argv.join(" ")}: expected a flag at ${JSON.stringify(argv[i])}`);
    const def = args[m[1]];
    if (!def) throw new Error(`${argv.join(" ")}: recsys ${argv[1]} has no flag --${m[1]}`);
    if (def.type === "string") {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new Error(`${argv.join(" ")}: --${m[1]} needs a value`);
    }
  }
}

/** A store holding the small input, and the rankings the unsharded pipeline gives it. */
async function storeWithReference(name: string, method: string): Promise<{ db: string; expected: unknown[] }> {
  const db = join(work, `${name}.db`);
  await ingest(data, db);
  expect(runCli(["pipeline", "--method", method, "--results-table", "reference", "--db", db]).code).toBe(0);
  return { db, expected: await rows(db, "reference") };
}

async function rows(db: string, table = "user_ranking"): Promise<unknown[]> {
  const store = await openStore(db);
  try {
    const out: unknown[] = [];
    for await (const r of store.scan(table)) out.push(r);
    return out;
  } finally {
    store.close();
  }
}

/** The value after `flag` in `argv`. */
const flag = (argv: string[], name: string) => argv[argv.indexOf(name) + 1];

describe("deploy/kubernetes", () => {
  it("shards-cronjob.yaml: an Indexed Job of N shards whose pods rank as the unsharded pipeline, the last one finalizing", async () => {
    const docs = Bun.YAML.parse(deploy("kubernetes/shards-cronjob.yaml")) as any;
    const cron = Array.isArray(docs) ? docs[0] : docs;
    expect(cron.kind).toBe("CronJob");
    const job = cron.spec.jobTemplate.spec;
    expect(job.completionMode).toBe("Indexed");
    const [container] = job.template.spec.containers;
    const command: string[] = container.command;
    await checkCommand(command);
    const shards = Number(flag(command, "--shards"));
    expect([job.completions, job.parallelism]).toEqual([shards, shards]);
    // No --shard: Kubernetes' JOB_COMPLETION_INDEX gives it; the run key is the Job's name.
    expect(command).not.toContain("--shard");
    expect(command).toContain("--then-finalize");
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.valueFrom]));
    expect(env.RECSYS_RUN_KEY.fieldRef.fieldPath).toBe("metadata.labels['batch.kubernetes.io/job-name']");
    expect(env.RECSYS_DB.secretKeyRef).toBeDefined();

    const { db, expected } = await storeWithReference("k8s", flag(command, "--method"));
    // The pods at once, as the Job starts them (processes on SQLite take turns to write).
    const pods = Array.from({ length: shards }, (_, i) =>
      spawnCli(command.slice(1), { env: { RECSYS_DB: db, RECSYS_RUN_KEY: "recsys-nightly-29000000", JOB_COMPLETION_INDEX: String(i) } }),
    );
    const outs = await Promise.all(pods.map(async (p) => [await p.exited, await new Response(p.stdout).text(), await new Response(p.stderr).text()] as const));
    expect(outs.map(([code, , err]) => `${code} ${code ? err : ""}`)).toEqual(Array(shards).fill("0 "));
    expect(outs.filter(([, out]) => /finalized run key recsys-nightly-29000000/.test(out)).length).toBe(1);
    expect(await rows(db)).toEqual(expected);
  }, 120_000);

  it("serve-deployment.yaml: replicas of recsys serve whose readiness probe path answers 200 once the table exists", async () => {
    const docs = Bun.YAML.parse(deploy("kubernetes/serve-deployment.yaml")) as any[];
    const deployment = docs.find((d) => d.kind === "Deployment");
    const service = docs.find((d) => d.kind === "Service");
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    const [container] = deployment.spec.template.spec.containers;
    const command: string[] = container.command;
    await checkCommand(command);
    const port = container.ports.find((p: any) => p.name === container.readinessProbe.httpGet.port);
    expect(String(port.containerPort)).toBe(flag(command, "--port"));
    expect(container.readinessProbe.httpGet.path).toBe("/healthz");
    expect(service.spec.ports[0].targetPort).toBe(port.name);
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);

    const { db } = await storeWithReference("serve", "similarity");
    // The same command on a free loopback port.
    const argv = command.slice(1).map((a, i, all) => (all[i - 1] === "--port" ? "0" : all[i - 1] === "--host" ? "127.0.0.1" : a));
    const proc = spawnCli([...argv, "--results-table", "reference"], { env: { RECSYS_DB: db, RECSYS_API_TOKEN: "t0ken" } });
    try {
      const reader = proc.stderr.getReader();
      let err = "";
      let url: string | undefined;
      while (!url) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`serve exited: ${err}`);
        err += new TextDecoder().decode(value);
        url = /listening on (http:\/\/\S+?:\d+)/.exec(err)?.[1];
      }
      const probe = await fetch(url + container.readinessProbe.httpGet.path);
      expect(probe.status).toBe(200);
      expect((await fetch(url + "/api/similarity/1")).status).toBe(401);
    } finally {
      proc.kill();
      await proc.exited;
    }
  }, 60_000);
});

describe("deploy/airflow", () => {
  it("recsys_dag.py: one task per shard, then the finalize; its commands rank as the unsharded pipeline", async () => {
    const dag = deploy("airflow/recsys_dag.py");
    const shards = Number(/^SHARDS = (\d+)$/m.exec(dag)![1]);
    const runKey = /^RUN_KEY = "([^"]+)"$/m.exec(dag)![1].replace("{{ ds_nodash }}", "20240101");
    const commands = [...dag.matchAll(/bash_command=f"([^"]+)"/g)].map((m) => m[1].replaceAll("{SHARDS}", String(shards)).replaceAll("{RUN_KEY}", runKey));
    expect(commands.length).toBe(2);
    const [shard, finalize] = commands;
    expect(dag).toMatch(/for i in range\(SHARDS\)/);
    expect(dag).toMatch(/^\s*shards >> finalize$/m);
    expect(finalize).toContain("--finalize");
    const shardArgv = (i: number) => shard.replaceAll("{i}", String(i)).split(" ");
    await checkCommand(shardArgv(0));
    await checkCommand(finalize.split(" "));

    const { db, expected } = await storeWithReference("airflow", flag(shardArgv(0), "--method"));
    for (let i = 0; i < shards; i++) {
      const r = runCli(shardArgv(i).slice(1), { env: { RECSYS_DB: db } });
      expect(`${r.code} ${r.err}`).toStartWith("0 ");
    }
    const done = runCli(finalize.split(" ").slice(1), { env: { RECSYS_DB: db } });
    expect(`${done.code} ${done.out}`).toMatch(new RegExp(`^0 finalized run key ${runKey}: ${shards} shards`));
    expect(await rows(db)).toEqual(expected);
  }, 120_000);
});
