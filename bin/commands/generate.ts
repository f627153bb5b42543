/** `recsys generate`: faithful synthetic data (the four CSVs plus taste_groups.csv). */
import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { generate } from "../../src/generate/index.ts";
import { InputError } from "../../src/read/errors.ts";
import { CliError, jsonArg, log, positiveInt, printJson, progress, seconds } from "../common.ts";
import { MAX_SEED } from "../../src/methods/method.ts";

/** Most users generated: 100k users are 300 MB of CSV, so this is 30 GB of disk. */
const MAX_USERS = 10_000_000;

export default defineCommand({
  meta: { name: "generate", description: "Write synthetic user_interests, user_course_views, user_assessment_scores, course_tags and taste_groups CSVs" },
  args: {
    users: { type: "string", valueHint: "N", description: `Number of users (handles 1..N), at most ${MAX_USERS.toLocaleString("en-US")}`, required: true },
    out: { type: "string", valueHint: "DIR", description: "Output directory (created if missing)", required: true },
    seed: { type: "string", valueHint: "S", description: "Random seed; same seed, same bytes", default: "42" },
    "course-tags": {
      type: "string",
      valueHint: "FILE",
      description: "A real course_tags.csv to take course ids and tags from (default: invent a catalogue of the same shape)",
    },
    ...jsonArg,
  },
  async run({ args }) {
    const users = positiveInt(args.users, "users", 0, 1, MAX_USERS);
    const seed = positiveInt(args.seed, "seed", 42, 0, MAX_SEED);
    if (!args.out) throw new CliError("--out DIR is required");
    const courseTags = args["course-tags"];
    if (courseTags && !existsSync(courseTags)) throw new CliError(`--course-tags: no such file: ${courseTags}`);
    const bar = progress(!args.json);
    const t0 = performance.now();
    let summary;
    try {
      summary = await generate({ users, seed, outDir: args.out, courseTagsFile: courseTags, onProgress: bar.report });
    } catch (e) {
      if (e instanceof InputError) throw new CliError(e.message);
      throw e;
    } finally {
      bar.done();
    }
    const secs = seconds(t0);
    if (args.json) {
      printJson({ ...summary, seconds: secs });
      return;
    }
    const r = summary.rows;
    log.success(
      `generated ${users.toLocaleString("en-US")} users into ${args.out} in ${secs} s: ` +
        `${r.user_interests.toLocaleString("en-US")} interest rows, ${r.user_course_views.toLocaleString("en-US")} view rows, ` +
        `${r.user_assessment_scores.toLocaleString("en-US")} assessment rows, ${summary.courses.toLocaleString("en-US")} courses (${summary.courseSource})`,
    );
  },
});
