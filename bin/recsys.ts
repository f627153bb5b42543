#!/usr/bin/env bun
/**
 * recsys command line: a thin layer over the library in src/. Each command lives in
 * bin/commands/ and is loaded only when used, so `recsys similar` starts fast.
 */
import "./tty.ts";
import { defineCommand, runCommand, showUsage, type ArgsDef, type CommandDef } from "citty";
import pkg from "../package.json" with { type: "json" };
import { CliError, log } from "./common.ts";

const subCommands = {
  generate: () => import("./commands/generate.ts").then((m) => m.default),
  ingest: () => import("./commands/ingest.ts").then((m) => m.default),
  pipeline: () => import("./commands/pipeline.ts").then((m) => m.default),
  evaluate: () => import("./commands/evaluate.ts").then((m) => m.default),
  tune: () => import("./commands/tune.ts").then((m) => m.default),
  similar: () => import("./commands/similar.ts").then((m) => m.default),
  recommend: () => import("./commands/recommend.ts").then((m) => m.default),
  export: () => import("./commands/export.ts").then((m) => m.default),
  serve: () => import("./commands/serve.ts").then((m) => m.default),
} as const;

const main = defineCommand({
  meta: { name: "recsys", version: pkg.version, description: "Find the learners most like each learner" },
  subCommands,
});

/** The original Python tool's spellings, accepted as aliases. */
const RENAMED: Record<string, string> = { top_users: "top-n", data_path: "data-dir" };

/** `--results_table=x` → `--results-table=x`; `--top_users` → `--top-n`. */
export function normalizeFlags(argv: string[]): string[] {
  return argv.map((a) => {
    const m = /^--([A-Za-z0-9_]+)(=.*)?$/.exec(a);
    if (!m || !m[1].includes("_")) return a;
    const name = RENAMED[m[1]] ?? m[1].replaceAll("_", "-");
    return `--${name}${m[2] ?? ""}`;
  });
}

/** citty ignores unknown flags; a typo like --top_n=5 silently doing nothing is worse than an error. */
function checkFlags(args: ArgsDef, argv: string[]): void {
  const known = new Set(["help", "h"]);
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    known.add(name);
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat()) known.add(a);
    if (def.type === "boolean") known.add(`no-${name}`);
  }
  const takesValue = new Set<string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type !== "string") continue;
    takesValue.add(name);
    for (const a of [(def as { alias?: string | string[] }).alias ?? []].flat()) takesValue.add(a);
  }
  const positionals = Object.entries(args).filter(([, def]) => def.type === "positional").map(([name]) => name);
  let given = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      given += argv.length - i - 1;
      break;
    }
    const m = /^--?([^=]+)/.exec(a);
    if (!m || /^-\d/.test(a)) {
      // citty ignores positionals beyond those it defines: `similar 110 111` must not answer for 110 alone.
      if (++given > positionals.length) throw new CliError(`unexpected argument ${JSON.stringify(a)}${positionals.length ? ` (this command takes ${positionals.map((p) => p.toUpperCase()).join(" ")})` : " (this command takes no positional arguments)"}`);
      continue;
    }
    if (!known.has(m[1])) {
      // A flag cut short names the one it starts (`--run` for `--run-key`, as issue texts write it).
      const starts = [...known].filter((k) => k.startsWith(m[1]) && !k.startsWith("no-"));
      const hint = starts.length === 1 ? `; did you mean --${starts[0]}?` : "";
      throw new CliError(`unknown option ${a.split("=")[0]}${hint} (see --help)`);
    }
    if (takesValue.has(m[1]) && !a.includes("=")) i++;
  }
}

async function run(argv: string[]): Promise<void> {
  const rawArgs = normalizeFlags(argv);
  const first = rawArgs[0];
  if (first === "--version" || first === "-v") {
    console.log(pkg.version);
    return;
  }
  if (!first || first === "--help" || first === "-h") {
    await showUsage(main);
    return;
  }
  if (!(first in subCommands)) throw new CliError(`unknown command ${JSON.stringify(first)}; commands: ${Object.keys(subCommands).join(", ")}`);
  const cmd = (await subCommands[first as keyof typeof subCommands]()) as CommandDef;
  const rest = rawArgs.slice(1);
  if (rest.includes("--help") || rest.includes("-h")) {
    await showUsage(cmd, main);
    return;
  }
  const argsDef = (typeof cmd.args === "function" ? await cmd.args() : await cmd.args) ?? {};
  checkFlags(argsDef as ArgsDef, rest);
  await runCommand(cmd, { rawArgs: rest });
}

if (import.meta.main) {
  run(process.argv.slice(2)).catch((error: unknown) => {
    const e = error as Error & { exitCode?: number; code?: string; notADatabase?: boolean };
    // citty's own argument errors (missing positional, bad enum) are usage errors too, and so is
    // a --db naming a file that is not a database (checked by name: src/db stays unloaded here).
    const usage = e instanceof CliError || e?.name === "CLIError" || (e?.name === "DatabaseOpenError" && e.notADatabase === true);
    log.error(e?.message ?? String(error));
    if (!usage && process.env.RECSYS_DEBUG) console.error(e?.stack);
    process.exit(e?.exitCode ?? (usage ? 2 : 1));
  });
}
