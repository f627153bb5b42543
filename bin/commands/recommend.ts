import { defineCommand } from "citty";
import type { RecommendAnswer } from "../../src/recommender.ts";
import { askArgs, askServer, asCliErrors, openLocalStore, openTable, readHandles, readProfile, userArg } from "../ask.ts";
import { CliError, topNArg } from "../common.ts";
import { reportUnknown } from "./similar.ts";

const KINDS = ["courses", "interests", "assessments"] as const;

/** rank, item, score, votes (and with --explain the neighbours who voted). */
function printItems(a: RecommendAnswer, explain: boolean): void {
  const width = Math.max(4, ...a.items.map((i) => i.item.length));
  let out = `rank  ${"item".padEnd(width)}  ${a.using === "model" ? "model score" : "      votes"}  voters\n`;
  a.items.forEach((r, i) => {
    out += `${String(i + 1).padStart(4)}  ${r.item.padEnd(width)}  ${r.score.toFixed(4).padStart(11)}  ${r.voters.length}\n`;
    if (explain) for (const v of r.voters) out += `        ${v.similar} (${v.score.toFixed(4)})\n`;
  });
  process.stdout.write(out);
}

export default defineCommand({
  meta: { name: "recommend", description: "Recommend courses (or interests, assessments) for USER or a --profile: the items its most similar users have" },
  args: {
    user: { type: "positional", required: false, valueHint: "USER", description: "User handle" },
    kind: { type: "string", valueHint: KINDS.join("|"), description: "What to recommend", default: "courses" },
    n: { type: "string", valueHint: "N", description: "How many items", default: "10" },
    neighbors: { type: "string", valueHint: "N", description: "Most similar users that vote (as `recsys evaluate`)", default: "20" },
    using: { type: "string", valueHint: "neighbors|model", description: "Rank by the neighbours' votes, or by the model's own item scores (factorization)", default: "neighbors" },
    "include-seen": { type: "boolean", description: "Also list items the user already has" },
    exclude: { type: "string", valueHint: "ID1,ID2", description: "Never recommend these items (comma-separated ids or tags)" },
    explain: { type: "boolean", description: "List the neighbours who voted for each item" },
    ...askArgs,
  },
  async run({ args }) {
    const user = userArg(args);
    const kind = KINDS.find((k) => k === args.kind);
    if (!kind) throw new CliError(`--kind must be one of ${KINDS.join(", ")}, got ${JSON.stringify(args.kind)}`);
    const using = args.using === "neighbors" || args.using === "model" ? args.using : undefined;
    if (!using) throw new CliError(`--using must be neighbors or model, got ${JSON.stringify(args.using)}`);
    const n = topNArg(args.n, "n", 10);
    const neighbors = topNArg(args.neighbors, "neighbors", 20);
    const exclude = args.exclude === undefined ? undefined : readHandles(args.exclude, "exclude", false);
    const profile = args.profile === undefined ? undefined : readProfile(args.profile);
    const excludeSeen = args["include-seen"] !== true;

    let answer: RecommendAnswer;
    if (args.url) {
      if (args.method !== undefined && args["results-table"] !== undefined) throw new CliError("give --method or --results-table, not both");
      const body: Record<string, unknown> = { ...(user !== undefined ? { user_handle: user } : { profile }), kind, n, neighbors, using, exclude_seen: excludeSeen };
      if (exclude) body.exclude = exclude;
      if (args.method !== undefined) body.method = args.method;
      if (args["results-table"] !== undefined) body.table = args["results-table"];
      answer = JSON.parse(await askServer(args.url, "recommendations", body)) as RecommendAnswer;
    } else {
      const store = await openLocalStore(args);
      try {
        const { table } = await openTable(store, args);
        const { loadRecommender } = await import("../../src/recommender.ts");
        answer = await asCliErrors(async () => (await loadRecommender(store, table)).recommend(user ?? (profile as object), { kind, n, neighbors, using, excludeSeen, exclude }));
      } finally {
        store.close();
      }
    }
    reportUnknown(answer.unknown);
    // The API's answer byte for byte (voters' scores rounded), whether asked locally or with --url.
    if (args.json) process.stdout.write((args.url ? JSON.stringify(answer) : JSON.stringify((await import("../../src/server/queries.ts")).recommendationJson(answer))) + "\n");
    else printItems(answer, args.explain === true);
  },
});
