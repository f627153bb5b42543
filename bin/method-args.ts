/**
 * Flags shared by the commands that run a ranking method (`pipeline`, `evaluate`): every flag
 * comes from the method registry (each method's option specs), so a new method's options appear
 * here, in `--help`, with their defaults, without touching this file.
 */
import type { ArgsDef } from "citty";
import { methodFlags, methodNames, type AnyMethod } from "../src/methods/registry.ts";
import { flagName, resolveOptions, type OptionSpec } from "../src/methods/method.ts";
import { existsSync } from "node:fs";
import { maxThreads, THREADS_PER_CORE } from "../src/parallel.ts";
import { isStoreUrl } from "../src/db/store.ts";
import { asUsage, CliError, positiveInt, resolveDb } from "./common.ts";

/** citty definitions of every method flag (plus --threads), descriptions prefixed by their methods. */
export function methodArgs(): ArgsDef {
  const args: ArgsDef = {};
  for (const f of methodFlags()) {
    const first = f.methods[0].spec;
    const owners = f.methods.map((m) => m.method.name).join(", ");
    const defaults = [...new Set(f.methods.map((m) => m.spec.format(m.spec.default)))];
    // The default is shown, not filled in: a flag given to a method that has no such option is then an error.
    // Methods that disagree keep their own defaults: say which.
    const shown = defaults.length === 1 ? ` (default: ${defaults[0]})` : ` (defaults: ${f.methods.map((m) => `${m.method.name} ${m.spec.format(m.spec.default)}`).join(", ")})`;
    args[f.flag] = {
      type: "string",
      valueHint: first.valueHint,
      description: `${owners}: ${first.description}${shown}`,
    };
  }
  args.threads = { type: "string", valueHint: "N", description: `Worker threads (default: all cores for more than 2,000 users, else 1; at most ${THREADS_PER_CORE} per core)` };
  return args;
}

export const dataDirArg = {
  "data-dir": { type: "string", valueHint: "DIR", description: "Read the four CSVs from DIR (alias --data_path); else use the tables in the database" },
} as const;

/** `--method`'s choices, from the registry. */
export function methodChoices(): string {
  return methodNames().join("|");
}

/** The options a method gets from the flags: each of its flags that was given (or has a default), parsed and checked. */
export function methodOptions(method: AnyMethod, args: Record<string, unknown>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const f of methodFlags()) {
    const mine = f.methods.find((m) => m.method === method);
    const text = args[f.flag];
    if (!mine || typeof text !== "string" || text === "") continue;
    options[f.option] = asUsage(() => mine.spec.parse(text, `--${f.flag}`));
  }
  // A flag that only acts with another option's value (BPR's --epochs with --training bpr) is
  // refused otherwise, not ignored.
  const specs: Record<string, OptionSpec<unknown>> = method.options;
  for (const key of Object.keys(options)) {
    const when = specs[key].appliesWhen;
    if (!when) continue;
    const value = options[when.option] ?? specs[when.option].default;
    if (!when.values.includes(value)) {
      const given = options[when.option] !== undefined ? "" : ", the default";
      throw new CliError(`--${flagName(key)} applies only with --${flagName(when.option)} ${when.values.map((v) => specs[when.option].format(v)).join("|")} (${method.name} has --${flagName(when.option)} ${specs[when.option].format(value)}${given}); leave it out or give --${flagName(when.option)} ${specs[when.option].format(when.values[0])}`);
    }
  }
  // Options that cannot go together (e.g. similarity's --rank and --shrinkage) are a usage error too.
  if (method.combine) asUsage(() => resolveOptions(method, options));
  return options;
}

/** Checks every method flag for every method, naming the flag at fault (before any work). */
export function checkMethodFlags(methods: AnyMethod[], args: Record<string, unknown>): Map<AnyMethod, Record<string, unknown>> {
  return new Map(methods.map((m) => [m, methodOptions(m, args)]));
}

/** A method flag given while none of `chosen` has that option is an error, not silently ignored. */
export function refuseForeignFlags(chosen: AnyMethod[], args: Record<string, unknown>): void {
  for (const f of methodFlags()) {
    const text = args[f.flag];
    if (typeof text !== "string" || text === "") continue;
    if (f.methods.some((m) => chosen.includes(m.method))) continue;
    const owners = f.methods.map((m) => m.method.name).join(", ");
    throw new CliError(`--${f.flag} does not apply to ${chosen.map((m) => m.name).join(", ")} (it is an option of ${owners})`);
  }
}

/** `--threads`, checked. */
export function threadsArg(args: Record<string, unknown>): number | undefined {
  return typeof args.threads === "string" ? positiveInt(args.threads, "threads", 1, 1, maxThreads()) : undefined;
}

/** The database whose input tables a command reads: it must exist, else say how to make it. */
export function inputDatabase(args: { db?: string; env?: string }): string {
  const path = resolveDb(args);
  if (!isStoreUrl(path) && !existsSync(path)) throw new CliError(`no database at ${path}: load the data first with \`recsys ingest --data-dir DIR\`, or pass --data-dir to this command`);
  return path;
}
