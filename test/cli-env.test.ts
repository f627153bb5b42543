/**
 * The runCli fixture (test/fixtures/cli.ts) clears every environment variable recsys reads, so
 * no developer setting (RESULTS_TABLE=other, DATABASE_ENV=prod …) leaks into a CLI test.
 */
import { describe, expect, it } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_ENV_VARS, cliEnv, root } from "./fixtures/cli.ts";

/** Names read as `process.env.X`, `process.env["X"]`, `Bun.env.X` or `import.meta.env.X` under bin/ and src/. */
function variablesRead(): Map<string, string> {
  const found = new Map<string, string>();
  const pattern = /\b(?:process\.env|Bun\.env|import\.meta\.env)(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*["'`]([^"'`]+)["'`]\s*\])/g;
  for (const dir of ["bin", "src"]) {
    for (const file of new Glob("**/*.ts").scanSync(join(root, dir))) {
      const text = readFileSync(join(root, dir, file), "utf8");
      for (const m of text.matchAll(pattern)) found.set(m[1] ?? m[2], `${dir}/${file}`);
    }
  }
  return found;
}

describe("the runCli fixture", () => {
  it("clears every variable bin/ and src/ read", () => {
    const read = variablesRead();
    expect(read.has("RESULTS_TABLE")).toBe(true); // the scan finds what it should
    const missing = [...read].filter(([name]) => !(CLI_ENV_VARS as readonly string[]).includes(name)).map(([name, file]) => `${name} (${file})`);
    expect(missing).toEqual([]);
  });

  it("removes them from the child's environment, sets NO_COLOR=1, and applies per-call variables last", () => {
    const saved = { ...process.env };
    try {
      for (const name of CLI_ENV_VARS) process.env[name] = "from-the-developer";
      const env = cliEnv({ RESULTS_TABLE: "mine", HOST: undefined });
      for (const name of CLI_ENV_VARS) if (name !== "NO_COLOR" && name !== "RESULTS_TABLE") expect(env[name]).toBeUndefined();
      expect(env.NO_COLOR).toBe("1");
      expect(env.RESULTS_TABLE).toBe("mine");
      expect(env.PATH).toBe(process.env.PATH!);
    } finally {
      for (const name of CLI_ENV_VARS) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
