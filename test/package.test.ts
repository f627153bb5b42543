/**
 * The published package: `npm pack` output (JavaScript and .d.ts compiled into dist/ by `prepack`)
 * installs into a project made by `bun init`, whose own `tsc` (bun init's tsconfig, strict with
 * `noUncheckedIndexedAccess`) checks the README's library example without an error; the example
 * runs against that install (so it cannot rot); the workers run from the compiled output; Node
 * gets one clear sentence, from an import and from the `recsys` command; and jsr.json agrees with
 * package.json. (`jsr publish --dry-run` needs the network to jsr.io and a Deno download, which
 * this machine cannot reach, so its fields are validated here instead.) Everything happens in a
 * temporary folder; packing builds the repository's dist/, which git ignores.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import jsr from "../jsr.json" with { type: "json" };
import { REQUIRES_BUN } from "../src/requires-bun.ts";

const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "recsys-pack-"));
const project = join(work, "app");
const installed = join(project, "node_modules/recsys");
const bin = join(project, "node_modules/.bin/recsys");
const bun = process.execPath;
const env = { ...process.env, npm_config_fund: "false", npm_config_audit: "false", NO_COLOR: "1" };

function run(cmd: string[], cwd: string, extraEnv: Record<string, string | undefined> = {}) {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...env, ...extraEnv } });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function sh(cmd: string[], cwd: string, extraEnv: Record<string, string | undefined> = {}) {
  const p = run(cmd, cwd, extraEnv);
  if (p.code !== 0) throw new Error(`${cmd.join(" ")} failed (${p.code}): ${p.stderr}${p.stdout}`);
  return p.stdout;
}

/** The first ```ts block after the "Use as a library" heading of the README. */
export function readmeLibraryExample(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use as a library"));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README has no ```ts block under "## Use as a library"');
  return m[1];
}

/** `git status` of the repository, or null outside a git checkout. */
function gitStatus(): string | null {
  const p = run(["git", "status", "--porcelain", "--untracked-files=all"], root);
  return p.code === 0 ? p.stdout : null;
}

let tarball = "";
let packed: string[] = [];
let statusBefore: string | null = null;
let statusAfter: string | null = null;
beforeAll(() => {
  statusBefore = gitStatus();
  const out = sh(["npm", "pack", "--json", "--pack-destination", work], root);
  const [info] = JSON.parse(out.slice(out.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info.filename);
  packed = info.files.map((f) => f.path);
  statusAfter = gitStatus();
  mkdirSync(project);
  // bun init's own files, tsconfig.json included, untouched.
  sh([bun, "init", "-y"], project);
  sh([bun, "add", tarball], project);
  mkdirSync(join(project, "data"));
  symlinkSync(join(root, "data/sample"), join(project, "data/sample"));
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("ships compiled JavaScript and declarations, but no sources, tests, benches or data", () => {
    for (const file of ["dist/src/index.js", "dist/src/index.d.ts", "dist/src/not-bun.js", "dist/bin/launch.js", "dist/bin/recsys.js", "README.md", "LICENSE", "jsr.json"]) {
      expect(packed).toContain(file);
    }
    expect(packed.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    expect(packed.some((f) => /^(src|bin|test|bench|data|scripts)\//.test(f))).toBe(false);
    // Every path package.json names is in the tarball.
    const entry = pkg.exports["."];
    for (const path of [entry.types, entry.bun, entry.default, pkg.module, pkg.types, pkg.bin.recsys]) {
      expect(packed).toContain(path.replace(/^\.\//, ""));
    }
  });

  // Decided when the file loads (skipIf cannot wait for beforeAll): outside a git checkout there is no status to compare.
  it.skipIf(gitStatus() === null)("packing leaves the repository's working tree as it was (dist/ is git-ignored; skipped outside a git checkout)", () => {
    expect(statusBefore).not.toBeNull();
    expect(statusAfter).toBe(statusBefore);
  });

  it("installs into a fresh project and imports under Bun without side effects", () => {
    writeFileSync(
      join(project, "probe.ts"),
      `import * as recsys from "recsys";
const before = process.exitCode;
console.log(JSON.stringify({ exports: Object.keys(recsys).sort(), exitCode: before ?? null }));`,
    );
    const probe = run([bun, "probe.ts"], project);
    // Nothing but the probe's own line: the library logs nothing and exits nothing on import.
    expect(probe.stderr).toBe("");
    expect(probe.stdout.trim().split("\n")).toHaveLength(1);
    const out = JSON.parse(probe.stdout);
    for (const name of ["readTables", "Dataset", "fit", "methods", "registerMethod", "runPipeline", "openStore", "startServer", "createApp", "evaluate"]) {
      expect(out.exports).toContain(name);
    }
    expect(out.exitCode).toBeNull();
  });

  it("runs the README's library example against the installed package", () => {
    writeFileSync(join(project, "example.ts"), readmeLibraryExample());
    const lines = sh([bun, "example.ts"], project).trim().split("\n");
    // The example prints the 5 users most similar to user 110 by each method.
    for (const method of ["similarity", "factorization"]) {
      const rows = lines.filter((l) => l.startsWith(method + " "));
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(row).toMatch(new RegExp(`^${method} \\S+ -?\\d\\.\\d{4}$`));
    }
  }, 120_000);

  it("type-checks in a bun init project (its strict tsconfig) with the README example: no errors", () => {
    writeFileSync(join(project, "example.ts"), readmeLibraryExample());
    // bun init's defaults, which the package's types must satisfy: strict, noUncheckedIndexedAccess.
    const tsconfig = readFileSync(join(project, "tsconfig.json"), "utf8");
    expect(tsconfig).toMatch(/"noUncheckedIndexedAccess":\s*true/);
    expect(tsconfig).toMatch(/"strict":\s*true/);
    const tsc = run([join(root, "node_modules/.bin/tsc"), "-p", project], project);
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.code).toBe(0);
  }, 120_000);

  it("starts its workers from the compiled output", () => {
    // Each worker module the library starts (through workerEntry) has its compiled sibling.
    const dist = join(installed, "dist");
    const workers: string[] = [];
    for (const file of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".js")) continue;
      for (const m of readFileSync(join(dist, file), "utf8").matchAll(/workerEntry\(new URL\("(\.\/[\w-]+)\.ts", import\.meta\.url\)/g)) {
        workers.push(join(dist, dirname(file), `${m[1]}.js`));
      }
    }
    expect(workers.length).toBeGreaterThanOrEqual(3);
    for (const w of workers) expect(existsSync(w)).toBe(true);
    // And they run: more than 2,000 users (generated by the installed CLI), two threads each.
    sh([bin, "generate", "--users", "2500", "--out", join(work, "gen"), "--seed", "3"], project);
    writeFileSync(
      join(project, "workers.ts"),
      `import { fit, readTables } from "recsys";
const { dataset } = await readTables(process.argv[2]!, { threads: 2 });
let similarity = 0;
await (await fit(dataset, "similarity")).rankAll({ topN: 5, threads: 2, onThreads: (t) => (similarity = t) });
let factors = 0;
await (await fit(dataset, "factorization", { epochs: 1 })).rankAll({ topN: 5, threads: 2, onThreads: (t) => (factors = t) });
console.log(JSON.stringify({ users: dataset.users.length, similarity, factors }));`,
    );
    const out = JSON.parse(sh([bun, "workers.ts", join(work, "gen")], project));
    expect(out).toEqual({ users: 2500, similarity: 2, factors: 2 });
  }, 120_000);

  it("runs its CLI through the installed `recsys` command, arguments and exit codes intact", async () => {
    // npm and bun link the command into node_modules/.bin; the launcher finds the CLI through the link.
    expect(realpathSync(bin)).toBe(realpathSync(join(installed, pkg.bin.recsys)));
    expect(sh([bin, "--version"], project).trim()).toBe(pkg.version);
    const db = join(work, "cli.db");
    sh([bin, "pipeline", "--method", "similarity", "--data-dir", "data/sample", "--db", db, "--top-n", "3"], project);
    const similar = JSON.parse(sh([bin, "similar", "110", "--db", db, "--json"], project)) as { similar: string }[];
    expect(similar).toHaveLength(3);
    // The CLI's own exit codes come back unchanged (2: usage; 1: a failure).
    const unknown = run([bin, "no-such-command"], project);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "no-such-command"');
    expect(run([bin, "similar", "110", "--db", join(work, "missing.db")], project).code).toBe(1);
    // A SIGTERM sent to the command reaches the server, which drains and stops cleanly.
    const server = Bun.spawn([bin, "serve", "--db", db, "--port", "0"], { cwd: project, stdout: "pipe", stderr: "pipe", env });
    const reader = server.stderr.getReader();
    let said = "";
    while (!/listening on (\S+)/.test(said)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited early: ${said}`);
      said += new TextDecoder().decode(value);
    }
    const url = /listening on (\S+)/.exec(said)![1];
    expect((await fetch(new URL("/healthz", url))).status).toBe(200);
    // The explorer page, bundled at packing time (Bun runs no macro from node_modules).
    const page = await fetch(new URL("/", url));
    expect([page.status, page.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    const script = /src="(\/assets\/app-[0-9a-f]+\.js)"/.exec(await page.text())![1];
    expect((await (await fetch(new URL(script, url))).text()).length).toBeGreaterThan(1000);
    server.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }, 120_000);

  it("tells Node, in one sentence, that it needs Bun: on import", () => {
    writeFileSync(join(project, "node-probe.mjs"), `import "recsys";\n`);
    const node = run(["node", "node-probe.mjs"], project);
    expect(node.code).not.toBe(0);
    expect(node.stderr).toContain(`Error: ${REQUIRES_BUN}`);
    expect(node.stderr).not.toContain("ERR_UNKNOWN_FILE_EXTENSION");
  });

  it("tells Node, in one sentence, that it needs Bun: from the `recsys` command without Bun on the PATH", () => {
    const nodeOnly = join(work, "node-only");
    mkdirSync(nodeOnly, { recursive: true });
    const node = Bun.which("node");
    if (!node) throw new Error("node is not on the PATH");
    if (!existsSync(join(nodeOnly, "node"))) symlinkSync(node, join(nodeOnly, "node"));
    expect(Bun.which("bun", { PATH: nodeOnly })).toBeNull();
    const cli = run([bin, "similar", "110"], project, { PATH: nodeOnly });
    expect(cli.stderr).toBe(`${REQUIRES_BUN}\n`);
    expect(cli.stdout).toBe("");
    expect(cli.code).toBe(1);
  });
});

describe("jsr.json", () => {
  it("matches package.json's version and exports the source of package.json's entry point", () => {
    expect(jsr.version).toBe(pkg.version);
    expect(jsr.name).toMatch(/^@[a-z0-9-]+\/[a-z0-9-]+$/);
    // JSR takes the TypeScript source; npm gets it compiled into dist/.
    const source = jsr.exports["."];
    expect(existsSync(join(root, source))).toBe(true);
    expect(pkg.exports["."].bun).toBe(source.replace(/^\.\//, "./dist/").replace(/\.ts$/, ".js"));
    expect(pkg.exports["."].types).toBe(source.replace(/^\.\//, "./dist/").replace(/\.ts$/, ".d.ts"));
    expect(jsr.publish.include).toContain("src/**/*.ts");
  });
});
