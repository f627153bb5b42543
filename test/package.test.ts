/**
 * The published package: `npm pack` output installs into a fresh project and imports under Bun,
 * the README's library example runs against that install (so it cannot rot), and jsr.json
 * agrees with package.json. (`jsr publish --dry-run` needs the network to jsr.io and a Deno
 * download, which this machine cannot reach, so its fields are validated here instead.)
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import jsr from "../jsr.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "recsys-pack-"));
const project = join(work, "app");

function sh(cmd: string[], cwd: string) {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false" } });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** The first ```ts block after the "Use as a library" heading of the README. */
export function readmeLibraryExample(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use as a library"));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README has no ```ts block under "## Use as a library"');
  return m[1];
}

let tarball = "";
beforeAll(() => {
  const out = sh(["npm", "pack", "--json", "--pack-destination", work], root);
  tarball = join(work, (JSON.parse(out) as { filename: string }[])[0].filename);
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  sh(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", tarball], project);
  mkdirSync(join(project, "data"));
  symlinkSync(join(root, "data/sample"), join(project, "data/sample"));
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("ships the library and the CLI sources but no tests, benches or data", () => {
    const files = JSON.parse(sh(["npm", "pack", "--dry-run", "--json"], root))[0].files.map((f: { path: string }) => f.path) as string[];
    expect(files).toContain("src/index.ts");
    expect(files).toContain("bin/recsys.ts");
    expect(files.some((f) => f.startsWith("test/") || f.startsWith("bench/") || f.startsWith("data/"))).toBe(false);
  });

  it("installs into a fresh project and imports under Bun without side effects", () => {
    writeFileSync(
      join(project, "probe.ts"),
      `import * as recsys from "recsys";
const before = process.exitCode;
console.log(JSON.stringify({ exports: Object.keys(recsys).sort(), exitCode: before ?? null }));`,
    );
    const probe = Bun.spawnSync(["bun", "probe.ts"], { cwd: project, stdout: "pipe", stderr: "pipe" });
    // Nothing but the probe's own line: the library logs nothing and exits nothing on import.
    expect(probe.stderr.toString()).toBe("");
    expect(probe.stdout.toString().trim().split("\n")).toHaveLength(1);
    const out = JSON.parse(probe.stdout.toString());
    for (const name of ["readTables", "rankBySimilarity", "trainFM", "rankByFactorization", "writeRankings", "evaluate"]) {
      expect(out.exports).toContain(name);
    }
    expect(out.exitCode).toBeNull();
  });

  it("runs the README's library example against the installed package", () => {
    writeFileSync(join(project, "example.ts"), readmeLibraryExample());
    const lines = sh(["bun", "example.ts"], project).trim().split("\n");
    // The example prints the 5 users most similar to user 110 by each method.
    for (const method of ["similarity", "factorization"]) {
      const rows = lines.filter((l) => l.startsWith(method + " "));
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(row).toMatch(new RegExp(`^${method} \\S+ -?\\d\\.\\d{4}$`));
    }
  }, 120_000);
});

describe("jsr.json", () => {
  it("matches package.json's version and exports an existing entry point", () => {
    expect(jsr.version).toBe(pkg.version);
    expect(jsr.name).toMatch(/^@[a-z0-9-]+\/[a-z0-9-]+$/);
    expect(jsr.exports["."]).toBe(pkg.exports["."].default);
    expect(existsSync(join(root, jsr.exports["."]))).toBe(true);
    expect(jsr.publish.include).toContain("src/**/*.ts");
  });
});
