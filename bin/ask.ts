/**
 * What `recsys similar` and `recsys recommend` share: which table to ask (`--method` or
 * `--results-table`), the subject (a USER or `--profile FILE`), asking a running server (`--url`,
 * every option passed on), and the stale-table warning.
 */
import { existsSync, readFileSync } from "node:fs";
import type { RankingsStore, TableReader } from "../src/db/store.ts";
import { CliError, dbArgs, jsonArg, log, resolveDb, resolveTable, tableArg } from "./common.ts";

/** The flags of a query command besides its own: whom and where to ask, how to print. */
export const askArgs = {
  ...jsonArg,
  ...dbArgs,
  ...tableArg,
  method: { type: "string", valueHint: "M", description: "Ask the latest rankings table made by method M (instead of --results-table)" },
  profile: { type: "string", valueHint: "FILE", description: 'Ask for someone not in the data: a JSON profile {"interests":[…],"courses":{"id":seconds},"assessments":{"tag":score}}' },
  "user-id": { type: "string", valueHint: "USER", description: "The user (the original tool's --user_id; same as the USER argument)" },
  url: { type: "string", valueHint: "http://host:port", description: "Ask a running `recsys serve` instead of the database ($RECSYS_API_TOKEN is sent if set)" },
} as const;

/** The user handle from USER or --user-id (not both), or undefined when a profile is asked. */
export function userArg(args: { user?: string; "user-id"?: string; profile?: string }): string | undefined {
  const user = args.user ?? args["user-id"];
  if (args.user !== undefined && args["user-id"] !== undefined && args.user !== args["user-id"]) throw new CliError("give the user once: USER or --user-id");
  if (user !== undefined && args.profile !== undefined) throw new CliError("give USER or --profile, not both");
  if (user === undefined && args.profile === undefined) throw new CliError("give a USER (or --user-id USER), or --profile FILE");
  if (user !== undefined && user.trim() === "") throw new CliError("USER must not be empty");
  return user?.trim();
}

/** The profile JSON of `--profile FILE` (checked by the recommender). */
export function readProfile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`--profile: cannot read ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`--profile: ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Handles from a file, one per line (blank lines and `#` comments skipped), or a comma-separated list. */
export function readHandles(value: string, flag: string, fromFile: boolean): string[] {
  let text = value;
  if (fromFile) {
    try {
      text = readFileSync(value, "utf8");
    } catch (e) {
      throw new CliError(`--${flag}: cannot read ${value}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
  }
  const list = text
    .split(fromFile ? /\r?\n/ : ",")
    .map((h) => h.trim())
    .filter((h) => h !== "" && !h.startsWith("#"));
  return list;
}

/** The open store of a local query (read-only), with a message if it does not exist. */
export async function openLocalStore(args: { db?: string; env?: string }): Promise<RankingsStore> {
  const path = resolveDb(args);
  const { openStore, isStoreUrl } = await import("../src/db/store.ts");
  if (!isStoreUrl(path) && !existsSync(path)) throw new CliError(`database ${path} does not exist; create it with \`recsys pipeline --method similarity --db ${path}\``, 1);
  return openStore(path, { readonly: true });
}

/** The rankings table to ask: `--results-table`, or the latest table made by `--method`. */
export async function chooseTable(store: RankingsStore, args: { method?: string; "results-table"?: string }): Promise<string> {
  if (args.method !== undefined && args["results-table"] !== undefined) throw new CliError("give --method or --results-table, not both");
  if (args.method === undefined) return resolveTable(args);
  const { getMethod, methodNames } = await import("../src/methods/registry.ts");
  try {
    getMethod(args.method);
  } catch {
    throw new CliError(`--method must be one of ${methodNames().join(", ")}, got ${JSON.stringify(args.method)}`);
  }
  const tables = (await store.rankingsTables()).filter((t) => t.run?.method === args.method);
  if (tables.length === 0) throw new CliError(`no rankings table was made by method ${args.method}; run \`recsys pipeline --method ${args.method} --results-table T\``, 1);
  return tables.reduce((a, b) => ((b.run?.id ?? 0) > (a.run?.id ?? 0) ? b : a)).table;
}

/** The reader of the table to ask (`--method` or `--results-table`), synced, with the stale warning given. */
export async function openTable(store: RankingsStore, args: { method?: string; "results-table"?: string }): Promise<TableReader> {
  const reader = store.reader(await chooseTable(store, args));
  await reader.sync(true);
  await warnIfStale(reader);
  return reader;
}

/** Warns on stderr when the table's run ranked other input than the store holds. */
export async function warnIfStale(reader: TableReader): Promise<void> {
  const run = await reader.lastRun();
  const current = await reader.inputFingerprint();
  const ranked = (run?.input as { sha256?: string } | undefined)?.sha256;
  if (run && ranked && current && ranked !== current.sha256) {
    log.warn(`rankings table ${reader.table} is out of date: the input tables changed since run ${run.id}; run \`recsys pipeline --method ${run.method} --results-table ${reader.table}\``);
  }
}

/** POSTs a JSON body to a running server's route and returns the answer's text (errors name the status and the server's message). */
export async function askServer(url: string, route: string, body: Record<string, unknown>): Promise<string> {
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CliError(`--url must look like http://host:port, got ${JSON.stringify(url)}`);
  const endpoint = `${url.replace(/\/+$/, "")}/api/${route}/`;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (process.env.RECSYS_API_TOKEN) headers.Authorization = `Bearer ${process.env.RECSYS_API_TOKEN}`;
  let res: Response;
  try {
    res = await fetch(endpoint, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new CliError(`cannot reach the server at ${url}: ${(e as Error).message}`, 1);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: show what came back
    }
    throw new CliError(`${endpoint} answered ${res.status}: ${message}`, res.status >= 500 ? 1 : 2);
  }
  return text;
}

/** The recommender's errors as CLI errors: the user's mistakes exit 2, the database's state 1. */
export async function asCliErrors<T>(f: () => Promise<T>): Promise<T> {
  const { UnknownUserError, NotSupportedError, StaleRankingsError, NoRunError } = await import("../src/recommender.ts");
  const { MissingTableError, MissingTablesError } = await import("../src/db/store.ts");
  try {
    return await f();
  } catch (e) {
    if (e instanceof UnknownUserError || e instanceof NotSupportedError || e instanceof RangeError) throw new CliError(e.message);
    if (e instanceof StaleRankingsError || e instanceof NoRunError || e instanceof MissingTableError || e instanceof MissingTablesError) throw new CliError(e.message, 1);
    throw e;
  }
}
