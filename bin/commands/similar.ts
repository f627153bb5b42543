import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { isStoreUrl } from "../../src/db/store.ts";
import { CliError, dbArgs, jsonArg, positiveInt, resolveDb, resolveTable, tableArg } from "../common.ts";

type Row = [similar: string, score: number];

/** rank, similar user, score: aligned columns for people. */
function printTable(rows: Row[]): void {
  const width = Math.max(7, ...rows.map((r) => r[0].length));
  const rankWidth = Math.max(4, String(rows.length).length);
  let out = `${"rank".padStart(rankWidth)}  ${"similar".padEnd(width)}  score\n`;
  rows.forEach(([similar, score], i) => {
    out += `${String(i + 1).padStart(rankWidth)}  ${similar.padEnd(width)}  ${score.toFixed(4)}\n`;
  });
  process.stdout.write(out);
}

/** Asks a running `recsys serve` (POST with a JSON body, the API's own form). */
async function fromServer(url: string, user: string, n: number | undefined): Promise<string> {
  const endpoint = `${url.replace(/\/+$/, "")}/api/similarity/`;
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (process.env.RECSYS_API_TOKEN) headers.Authorization = `Bearer ${process.env.RECSYS_API_TOKEN}`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify(n === undefined ? { user_handle: user } : { user_handle: user, n }),
      signal: AbortSignal.timeout(10_000),
    });
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
    throw new CliError(`${endpoint} answered ${res.status}: ${message}`, 1);
  }
  return text;
}

/** Reads the rankings table from the store; same validation and same JSON as the API. */
async function fromDatabase(args: { db?: string; env?: string; "results-table"?: string }, user: string, n: number | undefined): Promise<Row[]> {
  const path = resolveDb(args);
  const table = resolveTable(args);
  if (!isStoreUrl(path) && !existsSync(path)) throw new CliError(`database ${path} does not exist; create it with \`recsys pipeline --method similarity --db ${path}\``, 1);
  // Loaded here, and only the store (not the server): start-up is part of this command's budget.
  const { openStore, MissingTableError } = await import("../../src/db/store.ts");
  const store = await openStore(path, { readonly: true });
  try {
    const reader = store.reader(table);
    const handle = user.trim();
    if (!handle) throw new CliError("USER must not be empty");
    await reader.sync(true);
    let rows: Row[];
    try {
      rows = await reader.neighbors(handle, n ?? 10);
    } catch (e) {
      if (e instanceof MissingTableError) throw new CliError(e.message, 1);
      throw e;
    }
    if (rows.length === 0) throw new CliError(`unknown user ${JSON.stringify(handle)}: no rankings in table ${table} of ${store.location}`, 1);
    // Fewer rows than asked is fine for a user with few neighbours, not for n past the stored top-n.
    const top = await reader.topN();
    if (n !== undefined && rows.length < n && n > top) throw new CliError(`--n must be between 1 and ${top} (the stored top-n), got ${n}`);
    return rows;
  } finally {
    store.close();
  }
}

export default defineCommand({
  meta: { name: "similar", description: "Print the users most similar to USER (from the database, or from a running server with --url)" },
  args: {
    user: { type: "positional", required: true, valueHint: "USER", description: "User handle" },
    n: { type: "string", valueHint: "N", description: "How many (1..stored top-n; default 10)" },
    ...jsonArg,
    ...dbArgs,
    ...tableArg,
    url: { type: "string", valueHint: "http://host:port", description: "Ask a running `recsys serve` instead of the database ($RECSYS_API_TOKEN is sent if set)" },
  },
  async run({ args }) {
    const n = args.n === undefined ? undefined : positiveInt(args.n, "n", 10);
    const user = String(args.user);
    if (args.url) {
      if (!/^https?:\/\/[^/]+/.test(args.url)) throw new CliError(`--url must look like http://host:port, got ${JSON.stringify(args.url)}`);
      const text = await fromServer(args.url, user, n);
      if (args.json) process.stdout.write(text + "\n");
      else printTable((JSON.parse(text) as { similar: string; score: number }[]).map((r) => [r.similar, r.score]));
      return;
    }
    const rows = await fromDatabase(args, user, n);
    if (args.json) {
      const { renderNeighbors } = await import("../../src/server/render.ts");
      process.stdout.write(renderNeighbors(rows) + "\n");
    } else printTable(rows);
  },
});
