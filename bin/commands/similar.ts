import { defineCommand } from "citty";
import type { Explanation } from "../../src/methods/method.ts";
import type { Neighbor } from "../../src/recommender.ts";
import { askArgs, askServer, asCliErrors, openLocalStore, openTable, readHandles, readProfile, userArg } from "../ask.ts";
import { CliError, log, topNArg } from "../common.ts";

interface Row {
  similar: string;
  score: number;
  explanation?: Explanation;
}

/** rank, similar user, score (and each explanation): aligned columns for people. */
function printTable(rows: Row[]): void {
  const width = Math.max(7, ...rows.map((r) => r.similar.length));
  const rankWidth = Math.max(4, String(rows.length).length);
  let out = `${"rank".padStart(rankWidth)}  ${"similar".padEnd(width)}  score\n`;
  rows.forEach((r, i) => {
    out += `${String(i + 1).padStart(rankWidth)}  ${r.similar.padEnd(width)}  ${r.score.toFixed(4)}\n`;
    const e = r.explanation;
    if (e) {
      const pad = " ".repeat(rankWidth + 2);
      const blocks = Object.entries(e.blocks).map(([b, x]) => `${b} ${x.toFixed(4)}`);
      if (e.residual !== 0) blocks.push(`residual ${e.residual.toFixed(4)}`);
      out += `${pad}${blocks.join("  ")}\n`;
      for (const item of e.items) out += `${pad}  ${item.contribution >= 0 ? "+" : "-"}${Math.abs(item.contribution).toFixed(4)}  ${item.item}${item.shared ? "" : " (not shared)"}\n`;
    }
  });
  process.stdout.write(out);
}

export default defineCommand({
  meta: {
    name: "similar",
    description: "Print the users most similar to USER (or to a --profile), from the database or a running server (--url)",
  },
  args: {
    user: { type: "positional", required: false, valueHint: "USER", description: "User handle" },
    n: { type: "string", valueHint: "N", description: "How many (default 10; more than the stored top-n is answered by the run's model)" },
    exclude: { type: "string", valueHint: "H1,H2", description: "Never return these handles (comma-separated)" },
    within: { type: "string", valueHint: "FILE", description: "Only return handles listed in FILE (one per line), e.g. a cohort" },
    "min-score": { type: "string", valueHint: "X", description: "Only neighbours scoring at least X" },
    explain: { type: "boolean", description: "Show why: each block's share of the score and the items that contribute most" },
    ...askArgs,
  },
  async run({ args }) {
    // Every flag is checked before the database or the server is touched.
    const user = userArg(args);
    const n = args.n === undefined ? undefined : topNArg(args.n, "n", 10);
    const exclude = args.exclude === undefined ? undefined : readHandles(args.exclude, "exclude", false);
    const within = args.within === undefined ? undefined : readHandles(args.within, "within", true);
    let minScore: number | undefined;
    if (args["min-score"] !== undefined) {
      minScore = Number(args["min-score"]);
      if (!/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(args["min-score"].trim()) || !Number.isFinite(minScore)) throw new CliError(`--min-score must be a number, got ${JSON.stringify(args["min-score"])}`);
    }
    const profile = args.profile === undefined ? undefined : readProfile(args.profile);
    const explain = args.explain === true;

    if (args.url) {
      if (args.method !== undefined && args["results-table"] !== undefined) throw new CliError("give --method or --results-table, not both");
      const body: Record<string, unknown> = user !== undefined ? { user_handle: user } : { profile };
      if (n !== undefined) body.n = n;
      if (exclude) body.exclude = exclude;
      if (within) body.within = within;
      if (minScore !== undefined) body.min_score = minScore;
      if (explain) body.explain = true;
      if (args.method !== undefined) body.method = args.method;
      if (args["results-table"] !== undefined) body.table = args["results-table"];
      const text = await askServer(args.url, "similarity", body);
      const answer = JSON.parse(text) as Row[] | { similar: Row[]; unknown?: Record<string, string[]> };
      const rows = Array.isArray(answer) ? answer : answer.similar;
      if (!Array.isArray(answer)) reportUnknown(answer.unknown);
      if (args.json) process.stdout.write(text + "\n");
      else printTable(rows);
      return;
    }

    const store = await openLocalStore(args);
    try {
      const reader = await openTable(store, args);
      const table = reader.table;
      const plain = user !== undefined && !exclude && !within && minScore === undefined && !explain;
      if (plain) {
        // The stored top-n answers without loading the model (fast start-up), when it holds enough.
        const { MissingTableError } = await import("../../src/db/store.ts");
        if (!reader.exists) throw new CliError(new MissingTableError(table).message, 1);
        const top = await reader.topN();
        if (n === undefined || n <= top) {
          const rows = await reader.neighbors(user, n ?? 10);
          if (rows.length === 0) throw new CliError(`unknown user ${JSON.stringify(user)}: no rankings in table ${table} of ${store.location}`);
          return print(rows.map(([similar, score]) => ({ similar, score })), args.json === true);
        }
      }
      const { loadRecommender } = await import("../../src/recommender.ts");
      const answer = await asCliErrors(async () => {
        const rec = await loadRecommender(store, table);
        return rec.similar(user ?? (profile as object), { n, exclude, within, minScore, explain });
      }).catch((e: Error) => {
        // More than the stored top-n needs the model: say why it was asked for.
        if (plain && e instanceof CliError) throw new CliError(`--n ${n} is more than the stored top-n of ${table}, which needs the run's model: ${e.message}`, e.exitCode);
        throw e;
      });
      if (answer.ignored.exclude.length) log.info(`--exclude: ${answer.ignored.exclude.length} handle(s) are not users of the data: ${answer.ignored.exclude.slice(0, 5).join(", ")}`);
      if (answer.ignored.within.length) log.info(`--within: ${answer.ignored.within.length} handle(s) are not users of the data: ${answer.ignored.within.slice(0, 5).join(", ")}`);
      reportUnknown(answer.unknown);
      if (answer.neighbors.length === 0 && user !== undefined && !exclude && !within && minScore === undefined) {
        throw new CliError(`user ${JSON.stringify(user)} has no similar user in table ${table}`, 1);
      }
      // A profile's answer in the API's form ({"similar": […], "unknown": {…}}), as --url prints it.
      await print(answer.neighbors, args.json === true, user === undefined ? answer.unknown : undefined);
    } finally {
      store.close();
    }
  },
});

/**
 * Prints neighbours: with --json exactly the API's answer (so the database and --url print the
 * same bytes), for a profile with its unknown items; else a table.
 */
async function print(rows: Row[], json: boolean, unknown?: object): Promise<void> {
  if (!json) return printTable(rows);
  const { neighborJson } = await import("../../src/server/queries.ts");
  const out = rows.map((r) => neighborJson(r as Neighbor));
  // The API's byte form for the plain answer: no spaces, as `GET /api/similarity/` answers.
  process.stdout.write(JSON.stringify(unknown ? { similar: out, unknown } : out) + "\n");
}

/** Tells which items of a profile the model does not know (they were left out). */
export function reportUnknown(unknown: { [block: string]: string[] } | object | undefined): void {
  if (!unknown) return;
  for (const [block, keys] of Object.entries(unknown as Record<string, string[]>)) {
    if (keys.length) log.warn(`profile: ${keys.length} unknown ${block} left out: ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}`);
  }
}
