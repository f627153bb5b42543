/**
 * A recommender you can ask (library, API, CLI) on planted taste groups: stored models answer
 * exactly as the stored tables, filters, explanations, fold-in, recommendations, stale and
 * degenerate runs.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type RankingsStore } from "../src/db/store.ts";
import { ingest } from "../src/ingest.ts";
import { DegenerateRunError, runPipeline } from "../src/pipeline.ts";
import { loadRecommender, NotSupportedError, StaleRankingsError, type Recommender } from "../src/recommender.ts";
import { openApp, type AppUnderTest } from "./fixtures/app.ts";
import { runCli } from "./fixtures/cli.ts";
import { serve } from "./fixtures/serve.ts";
import { grouped, groupOf, writeCsvDir } from "./fixtures/grouped.ts";
import { readRankings } from "./fixtures/rankings.ts";
import { registerMethod } from "../src/methods/registry.ts";
import { similarity } from "../src/methods/similarity/index.ts";

let work: string;
let db: string;
let store: RankingsStore;
let sim: Recommender;
let fm: Recommender;
let als: Recommender;
let svd: Recommender;
const TOP = 10;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "recsys-ask-"));
  db = join(work, "recsys.db");
  writeCsvDir(join(work, "data"), grouped(450, 5));
  store = await openStore(db);
  await runPipeline({ input: { dataDir: join(work, "data") }, store, method: "similarity", topN: TOP, threads: 1 });
  await runPipeline({ input: "store", store, method: "factorization", table: "fm_ranking", topN: TOP, threads: 1, options: { epochs: 3 } });
  await runPipeline({ input: "store", store, method: "als", table: "als_ranking", topN: TOP, threads: 1, options: { iterations: 5 } });
  await runPipeline({ input: "store", store, method: "similarity", table: "svd_ranking", topN: TOP, threads: 1, options: { rank: 8 } });
  sim = await loadRecommender(store, "user_ranking");
  fm = await loadRecommender(store, "fm_ranking");
  als = await loadRecommender(store, "als_ranking");
  svd = await loadRecommender(store, "svd_ranking");
}, 120_000);

afterAll(() => {
  store?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Stored rows of `table` per handle, as the recommender answers them. */
function stored(table: string, file = db): Map<string, { similar: string; score: number }[]> {
  const raw = new Database(file, { readonly: true });
  try {
    const r = readRankings(raw, table);
    return new Map(r.users.map((h, u) => [h, Array.from({ length: r.offsets[u + 1] - r.offsets[u] }, (_, k) => ({ similar: r.users[r.neighbors[r.offsets[u] + k]], score: r.scores[r.offsets[u] + k] }))]));
  } finally {
    raw.close();
  }
}

describe("a stored run's model", () => {
  it("answers with no options exactly as the stored table, row for row, for every method (and similarity --rank)", () => {
    for (const [rec, table] of [[sim, "user_ranking"], [fm, "fm_ranking"], [als, "als_ranking"], [svd, "svd_ranking"]] as const) {
      const rows = stored(table);
      expect(rows.size).toBe(rec.dataset.users.length);
      for (const [handle, expected] of rows) expect(rec.similar(handle, { n: TOP }).neighbors).toEqual(expected);
    }
  });

  it("restores the factorization model from its stored parameters; without them it is fitted again to the same answers", async () => {
    let source = "";
    await loadRecommender(store, "fm_ranking", (info) => (source = info.source));
    expect(source).toBe("stored");
    const raw = new Database(db);
    raw.exec("DELETE FROM recsys_models");
    raw.close();
    const refit = await loadRecommender(store, "fm_ranking", (info) => (source = info.source));
    expect(source).toBe("refit");
    for (const h of refit.dataset.users.slice(0, 50)) expect(refit.similar(h).neighbors).toEqual(fm.similar(h).neighbors);
  });
});

describe("the model is kept with its run", () => {
  it("in the rankings' own transaction, keyed by recsys_runs.id: a model that cannot be stored publishes nothing; a new run's model replaces the old", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-model-tx-"));
    const path = join(dir, "recsys.db");
    const own = await openStore(path);
    // A similarity whose state cannot be written (JSON.stringify throws on a BigInt): it fails after the rows are in.
    const unregister = registerMethod({
      ...similarity,
      name: "unstorable-similarity",
      async fit(dataset, options, context) {
        const model = await similarity.fit(dataset, options, context);
        return Object.assign(Object.create(Object.getPrototypeOf(model)), model, { state: () => ({ arrays: {}, meta: { n: 1n } }) });
      },
    });
    const snapshot = () => {
      const raw = new Database(path, { readonly: true });
      try {
        return {
          runs: raw.query("SELECT id, method FROM recsys_runs ORDER BY id").all() as { id: number; method: string }[],
          models: (raw.query("SELECT DISTINCT run_id FROM recsys_models ORDER BY run_id").all() as { run_id: number }[]).map((r) => r.run_id),
          rows: raw.query('SELECT * FROM "user_ranking" ORDER BY user_handle, rank').all(),
        };
      } finally {
        raw.close();
      }
    };
    try {
      await runPipeline({ input: { dataDir: join(work, "data") }, store: own, method: "similarity", topN: TOP, threads: 1 });
      const first = snapshot();
      expect(first.runs.map((r) => r.method)).toEqual(["similarity"]);
      expect(first.models).toEqual([first.runs[0].id]);
      await expect(runPipeline({ input: "store", store: own, method: "unstorable-similarity", topN: 5, threads: 1 })).rejects.toThrow(/BigInt/);
      expect(snapshot()).toEqual(first);
      await runPipeline({ input: "store", store: own, method: "similarity", topN: 5, threads: 1 });
      const second = snapshot();
      expect(second.runs).toHaveLength(2);
      // Only the served run's model is kept, under that run's id.
      expect(second.models).toEqual([second.runs[1].id]);
      let source = "";
      const rec = await loadRecommender(own, "user_ranking", (info) => (source = info.source));
      expect(source).toBe("stored");
      const rows = stored("user_ranking", path);
      for (const h of ["7", "8", "30"]) expect(rec.similar(h, { n: 5 }).neighbors).toEqual(rows.get(h)!);
    } finally {
      unregister();
      own.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("similar users with filters", () => {
  const users = () => sim.dataset.users;

  it("within a taste group returns only that group, also for a user of another group", () => {
    const cohort = users().filter((h) => groupOf(h) === 1);
    for (const rec of [sim, fm, als, svd]) {
      for (const h of ["3", "4", "5"]) {
        const found = rec.similar(h, { n: 25, within: cohort }).neighbors;
        expect(found.length).toBeGreaterThan(0);
        for (const x of found) expect(groupOf(x.similar)).toBe(1);
      }
    }
  });

  it("never returns excluded handles, even when n is all users; the rest is the unfiltered list in order", () => {
    const all = users().length;
    const exclude = users().filter((_, i) => i % 4 === 0);
    for (const rec of [sim, fm, als, svd]) {
      const full = rec.similar("7", { n: all }).neighbors;
      const filtered = rec.similar("7", { n: all, exclude }).neighbors;
      const banned = new Set(exclude);
      for (const x of filtered) expect(banned.has(x.similar)).toBe(false);
      expect(filtered).toEqual(full.filter((x) => !banned.has(x.similar)));
      expect(full.length).toBeGreaterThan(TOP);
    }
  });

  it("min score keeps only neighbours at or above it; unknown handles in filters are reported, not fatal", () => {
    // A threshold inside the user's own score range (the 5th best), whatever the method's options.
    const floor = sim.similar("7", { n: 5 }).neighbors[4].score;
    const a = sim.similar("7", { n: 100, minScore: floor, exclude: ["no-such-user"], within: [...users(), "ghost"] });
    expect(a.neighbors.length).toBeGreaterThanOrEqual(5);
    expect(a.neighbors.length).toBeLessThan(sim.similar("7", { n: 100 }).neighbors.length);
    for (const x of a.neighbors) expect(x.score).toBeGreaterThanOrEqual(floor);
    expect(a.ignored).toEqual({ exclude: ["no-such-user"], within: ["ghost"] });
    expect(() => sim.similar("nobody")).toThrow(/unknown user "nobody"/);
  });
});

describe("explain", () => {
  it("similarity: the blocks and the items add up to the score exactly (1e-12), and the score is the ranked one", () => {
    for (const h of ["1", "2", "30", "77"]) {
      for (const x of sim.similar(h, { n: 5, explain: 100 }).neighbors) {
        const e = x.explanation!;
        expect(e.score).toBe(x.score);
        expect(Math.abs(e.blocks.interests + e.blocks.courses + e.blocks.assessments - e.score)).toBeLessThan(1e-12);
        expect(Math.abs(e.items.reduce((s, i) => s + i.contribution, 0) - e.score)).toBeLessThan(1e-12);
        for (const i of e.items) expect(i.shared).toBe(true);
        expect(e.residual).toBe(0);
      }
    }
  });

  it("factorization and als: blocks plus residual add up to the factor cosine (1e-12); items add up to their blocks", () => {
    for (const [rec, h] of [[fm, "1"], [fm, "2"], [fm, "30"], [als, "1"], [als, "30"]] as const) {
      for (const x of rec.similar(h, { n: 5, explain: 100 }).neighbors) {
        const e = x.explanation!;
        expect(e.score).toBe(x.score);
        expect(Math.abs(e.blocks.interests + e.blocks.courses + e.blocks.assessments + e.residual - e.score)).toBeLessThan(1e-12);
        const own = rec.profile(h);
        const items = own.interests.length + Object.keys(own.courses).length + Object.keys(own.assessments).length;
        if (items <= 100) expect(Math.abs(e.items.reduce((s, i) => s + i.contribution, 0) - (e.score - e.residual))).toBeLessThan(1e-12);
      }
    }
  });
});

describe("new users (fold-in)", () => {
  it("similarity: an existing user's own profile gets that user's stored neighbours, identically", () => {
    const rows = stored("user_ranking");
    for (const h of sim.dataset.users.slice(0, 120)) {
      const mine = sim.similar(sim.profile(h), { n: TOP, exclude: [h] });
      expect(mine.neighbors).toEqual(rows.get(h)!);
    }
  });

  it("similarity: a run recorded before item weighting existed is reloaded as the original contract", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-legacy-"));
    const path = join(dir, "recsys.db");
    const legacy = await openStore(path);
    try {
      await runPipeline({ input: { dataDir: join(work, "data") }, store: legacy, method: "similarity", topN: TOP, threads: 1, options: { itemWeighting: "none", shrinkage: 0 } });
      // What an older version recorded: the weights and the run's own figures, nothing else.
      const raw = new Database(path);
      const params = JSON.parse(String((raw.query("SELECT params FROM recsys_runs").get() as { params: string }).params));
      for (const key of ["itemWeighting", "idfExponent", "bm25K1", "bm25B", "normalize", "shrinkage", "shrinkageCount"]) delete params[key];
      raw.run("UPDATE recsys_runs SET params = ?", [JSON.stringify(params)]);
      raw.close();
      const old = await loadRecommender(legacy, "user_ranking");
      expect(old.model.params).toMatchObject({ itemWeighting: "none", normalize: "blocks", shrinkage: 0 });
      const rows = stored("user_ranking", path);
      // The contract's rows, which today's defaults would not give.
      expect(rows.get("7")).not.toEqual(sim.similar("7", { n: TOP }).neighbors);
      for (const h of old.dataset.users.slice(0, 60)) expect(old.similar(old.profile(h), { n: TOP, exclude: [h] }).neighbors).toEqual(rows.get(h)!);
    } finally {
      legacy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("similarity: a run recorded before shrinkageCount existed is reloaded counting every column, as it was ranked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-legacy-count-"));
    const path = join(dir, "recsys.db");
    const legacy = await openStore(path);
    try {
      await runPipeline({ input: { dataDir: join(work, "data") }, store: legacy, method: "similarity", topN: TOP, threads: 1, options: { shrinkageCount: "columns" } });
      const raw = new Database(path);
      const params = JSON.parse(String((raw.query("SELECT params FROM recsys_runs").get() as { params: string }).params));
      expect(params).toMatchObject({ shrinkage: 5, shrinkageCount: "columns" });
      delete params.shrinkageCount;
      raw.run("UPDATE recsys_runs SET params = ?", [JSON.stringify(params)]);
      raw.close();
      const old = await loadRecommender(legacy, "user_ranking");
      expect(old.model.params).toMatchObject({ shrinkage: 5, shrinkageCount: "columns" });
      const rows = stored("user_ranking", path);
      let differ = 0;
      for (const h of old.dataset.users.slice(0, 60)) {
        expect(old.similar(old.profile(h), { n: TOP, exclude: [h] }).neighbors).toEqual(rows.get(h)!);
        if (JSON.stringify(rows.get(h)) !== JSON.stringify(sim.similar(h, { n: TOP }).neighbors)) differ++;
      }
      // Today's default (counting items) ranks differently, so the test tells the two apart.
      expect(differ).toBeGreaterThan(0);
    } finally {
      legacy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("factorization: an existing user's own profile gets that user's stored neighbours, identically", () => {
    // Training's final user pass fits every user exactly as fold-in fits a profile (before it, the
    // folded profile shared 0.68 of the stored top-10 on the sample).
    const rows = stored("fm_ranking");
    let compared = 0;
    for (const h of fm.dataset.users.slice(0, 120)) {
      const folded = fm.similar(fm.profile(h), { n: TOP, exclude: [h] }).neighbors;
      expect(folded).toEqual(rows.get(h)!);
      compared += folded.length > 0 ? 1 : 0;
    }
    expect(compared).toBeGreaterThan(100);
  });

  it("als: a profile is the exact user half-step; its neighbours share the profile's taste group", () => {
    const folded = als.similar({ interests: ["g2-tag0", "g2-tag1", "g2-tag3"], courses: { "g2-course2": 900 } }, { n: 10 });
    expect(folded.neighbors.filter((x) => groupOf(x.similar) === 2).length).toBeGreaterThanOrEqual(8);
    expect(als.similar({ interests: ["g2-tag0", "g2-tag1", "g2-tag3"], courses: { "g2-course2": 900 } }, { n: 10 })).toEqual(folded);
  });

  it("reports unknown tags and courses and ranks with the rest; a profile of nothing known has no neighbours", () => {
    const a = sim.similar({ interests: ["g1-tag0", "No-Such-Tag"], courses: { "g1-course1": 600, ghost: 60 }, assessments: { python: 150, cobol: 10 } }, { n: 20 });
    expect(a.unknown).toEqual({ interests: ["no-such-tag"], courses: ["ghost"], assessments: ["cobol"] });
    expect(a.neighbors.filter((x) => groupOf(x.similar) === 1).length).toBeGreaterThan(15);
    expect(sim.similar({ interests: ["nothing-known"] }).neighbors).toEqual([]);
    expect(() => sim.similar({ courses: { c: -5 } })).toThrow(/profile.courses\["c"\] must be a number ≥ 0/);
    expect(() => sim.similar({})).toThrow(/profile is empty/);
  });
});

describe("recommend", () => {
  it("neighbour votes: items the user lacks, each vote the sum of the similarities of the neighbours who have it", () => {
    for (const rec of [sim, fm, als, svd]) {
      const a = rec.recommend("7", { kind: "courses", n: 5, neighbors: 20 });
      const own = new Set(Object.keys(rec.profile("7").courses));
      const neighbors = new Map(rec.similar("7", { n: 20 }).neighbors.map((x) => [x.similar, x.score]));
      expect(a.items.length).toBeGreaterThan(0);
      for (const item of a.items) {
        expect(own.has(item.item)).toBe(false);
        expect(item.item.startsWith(`g${groupOf("7")}-`)).toBe(true);
        for (const v of item.voters) {
          expect(neighbors.get(v.similar)).toBe(v.score);
          expect(Object.keys(rec.profile(v.similar).courses)).toContain(item.item);
        }
        expect(Math.abs(item.votes - item.voters.reduce((s, v) => s + v.score, 0))).toBeLessThan(1e-12);
        expect(item.score).toBe(item.votes);
      }
      for (let i = 1; i < a.items.length; i++) expect(a.items[i].score).toBeLessThanOrEqual(a.items[i - 1].score);
    }
  });

  it("the factorization machine's own scores rank items too (similarity has none); interests for a profile", () => {
    for (const rec of [fm, als]) {
      const a = rec.recommend("7", { kind: "interests", using: "model", n: 8 });
      expect(a.items).toHaveLength(8);
      for (let i = 1; i < a.items.length; i++) expect(a.items[i].score).toBeLessThanOrEqual(a.items[i - 1].score);
    }
    expect(() => sim.recommend("7", { using: "model" })).toThrow(NotSupportedError);
    const p = sim.recommend({ interests: ["g2-tag1", "g2-tag2"] }, { kind: "interests", n: 5 });
    for (const item of p.items) expect(["g2-tag1", "g2-tag2"]).not.toContain(item.item);
    expect(p.items.filter((i) => i.item.startsWith("g2-")).length).toBeGreaterThanOrEqual(4);
  });
});

describe("the API", () => {
  let app: AppUnderTest;
  beforeAll(() => (app = openApp(db)));
  afterAll(() => app.close());

  it("keeps the seed's answer; n beyond the stored top-n, filters and explanations come from the model", async () => {
    const seed = app.call("/api/similarity/", { body: '{"user_handle":"7"}' });
    expect(seed.status).toBe(200);
    const expected = stored("user_ranking").get("7")!.map((x) => ({ similar: x.similar, score: Math.round(x.score * 1e4) / 1e4 }));
    expect(seed.body).toEqual(expected);
    const more = await app.ask("/api/similarity/", { method: "POST", body: '{"user_handle":"7","n":30}' });
    expect(more.status).toBe(200);
    expect(more.body.slice(0, TOP)).toEqual(expected);
    expect(more.body.length).toBe(30);
    const cohort = sim.dataset.users.filter((h) => groupOf(h) === 2);
    const within = await app.ask("/api/similarity/", { method: "POST", body: JSON.stringify({ user_handle: "8", within: cohort, exclude: [cohort[0]], min_score: 0.01, explain: true }) });
    expect(within.status).toBe(200);
    expect(within.body.length).toBeGreaterThan(0);
    for (const x of within.body) {
      expect(groupOf(x.similar)).toBe(2);
      expect(x.similar).not.toBe(cohort[0]);
      const b = x.explanation.blocks;
      expect(Math.abs(b.interests + b.courses + b.assessments - x.explanation.score)).toBeLessThan(1e-12);
    }
  });

  it("answers per request from another method's table, a profile, a batch, and recommendations", async () => {
    const byMethod = await app.ask("/api/similarity/?user_handle=7&method=factorization");
    expect(byMethod.body).toEqual(stored("fm_ranking").get("7")!.map((x) => ({ similar: x.similar, score: Math.round(x.score * 1e4) / 1e4 })));
    const byTable = await app.ask("/api/similarity/?user_handle=7&table=fm_ranking&n=3");
    expect(byTable.body).toEqual(byMethod.body.slice(0, 3));
    const profile = await app.ask("/api/similarity/", { method: "POST", body: JSON.stringify({ profile: sim.profile("7"), exclude: ["7"] }) });
    expect(profile.body.similar).toEqual(app.call("/api/similarity/7").body);
    const batch = await app.ask("/api/similarity/", { method: "POST", body: '{"user_handles":["7","8","ghost"],"n":3}' });
    expect(batch.body.results.map((r: { user_handle: string }) => r.user_handle)).toEqual(["7", "8", "ghost"]);
    expect(batch.body.results[2].error).toMatch(/unknown user/);
    const recs = await app.ask("/api/recommendations/7?kind=courses&n=3");
    expect(recs.status).toBe(200);
    expect(recs.body.items).toHaveLength(3);
    expect(recs.body.items[0].voters.length).toBeGreaterThan(0);
  });

  it("refuses bad input with 400 naming the field, unknown tables 404, never 5xx", async () => {
    const cases: [string, object, number, RegExp][] = [
      ["/api/similarity/", { user_handle: "7", method: "nope" }, 404, /method: unknown method "nope"/],
      ["/api/recommendations/", { user_handle: "7", method: "nope" }, 404, /method: unknown method "nope"/],
      ["/api/similarity/", { user_handle: "7", table: "nope" }, 404, /no rankings table "nope"/],
      ["/api/similarity/", { user_handle: "7", table: "bad name;" }, 404, /table name/],
      ["/api/similarity/", { user_handle: "7", exclude: "x" }, 200, /./],
      ["/api/similarity/", { user_handle: "7", within: 5 }, 400, /within must be an array/],
      ["/api/similarity/", { user_handle: "7", min_score: "high" }, 400, /min_score must be a finite number/],
      ["/api/similarity/", { user_handle: "7", explain: "maybe" }, 400, /explain must be true or false/],
      ["/api/similarity/", { user_handle: "7", n: 0, explain: true }, 400, /n must be an integer between 1 and 10000/],
      ["/api/similarity/", { user_handles: Array.from({ length: 101 }, (_, i) => String(i)) }, 400, /at most 100/],
      ["/api/similarity/", { profile: { courses: { c: "long" } } }, 400, /profile.courses\["c"\] must be a number/],
      ["/api/similarity/", { profile: {}, user_handle: "7" }, 400, /not user_handle and profile/],
      ["/api/similarity/", { user_handle: "7", table: "user_ranking", method: "similarity" }, 400, /table or method, not both/],
      ["/api/recommendations/", { user_handle: "7", kind: "books" }, 400, /kind must be one of courses, interests, assessments/],
      ["/api/recommendations/", { user_handle: "7", using: "model" }, 400, /no item scores/],
      ["/api/recommendations/", { user_handle: "ghost" }, 404, /unknown user "ghost"/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await app.ask(path, { method: "POST", body: JSON.stringify(body) });
      expect([path, body, r.status]).toEqual([path, body, status]);
      if (status !== 200) expect(r.body.error).toMatch(message);
    }
    expect(app.errors).toEqual([]);
  });
});

describe("a server process: models loaded and asked in workers", () => {
  it("answers the model's queries exactly as the in-process app, and keeps answering the stored top-n meanwhile", async () => {
    const app = openApp(db);
    const server = await serve(["--db", db]);
    try {
      const post = (path: string, body: object) => fetch(`${server.url}${path}`, { method: "POST", headers: { Host: "localhost" }, body: JSON.stringify(body) });
      const asks: [string, object][] = [
        ["/api/similarity/", { user_handle: "7", n: 40, explain: true }],
        ["/api/similarity/", { user_handle: "7", method: "factorization", exclude: ["1"] }],
        ["/api/similarity/", { profile: sim.profile("7"), method: "als" }],
        ["/api/similarity/", { user_handles: ["7", "ghost"], n: 15 }],
        ["/api/recommendations/", { user_handle: "7", kind: "courses", n: 4 }],
        ["/api/recommendations/", { user_handle: "ghost" }],
      ];
      // All at once, with seed requests among them: every answer as the in-process app gives it.
      const seeds = Array.from({ length: 20 }, () => post("/api/similarity/", { user_handle: "8" }));
      const answers = await Promise.all(asks.map(([path, body]) => post(path, body)));
      for (const [i, [path, body]] of asks.entries()) {
        const local = await app.ask(path, { method: "POST", body: JSON.stringify(body) });
        expect([path, body, answers[i].status, await answers[i].json()]).toEqual([path, body, local.status, local.body]);
      }
      for (const r of await Promise.all(seeds)) expect(await r.json()).toEqual(app.call("/api/similarity/8").body);
      expect(server.stderr()).toMatch(/model of user_ranking (loaded|fitted again) in/);
    } finally {
      await server.stop();
      app.close();
    }
  }, 60_000);
});

describe("serve notices a new run", () => {
  it("answers model queries from the new run's model after a pipeline re-writes the served table, without a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recsys-new-run-"));
    const path = join(dir, "recsys.db");
    const own = await openStore(path);
    await runPipeline({ input: { dataDir: join(work, "data") }, store: own, method: "similarity", topN: 5, threads: 1 });
    const server = await serve(["--db", path, "--quiet"]);
    try {
      type Answer = { similar: string; score: number; explanation: { blocks: { assessments: number } } }[];
      const ask = async () => (await (await fetch(`${server.url}/api/similarity/`, { method: "POST", headers: { Host: "localhost" }, body: '{"user_handle":"7","n":20,"explain":true}' })).json()) as Answer;
      const rowsOf = (answer: { similar: string; score: number }[]) => answer.map((x) => ({ similar: x.similar, score: x.score }));
      const before = await ask();
      // Another weighting ranks differently: the answer must come from the new run's model.
      await runPipeline({ input: "store", store: own, method: "similarity", topN: 5, threads: 1, options: { weights: { interests: 0.1, courses: 0.1, assessments: 0.8 } } });
      const fresh = await loadRecommender(own, "user_ranking");
      const expected = fresh.similar("7", { n: 20 }).neighbors.map((x) => ({ similar: x.similar, score: Math.round(x.score * 1e4) / 1e4 }));
      expect(rowsOf(before)).not.toEqual(expected);
      let after = before;
      const t0 = performance.now();
      while (JSON.stringify(rowsOf(after)) !== JSON.stringify(expected) && performance.now() - t0 < 10_000) {
        await Bun.sleep(50);
        after = await ask();
      }
      expect(rowsOf(after)).toEqual(expected);
      expect(after[0].explanation.blocks.assessments).toBeCloseTo(fresh.explain("7", after[0].similar).blocks.assessments, 12);
    } finally {
      await server.stop();
      own.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("the CLI", () => {
  const cli = (...args: string[]) => runCli([...args, "--db", db]);

  it("similar: --n beyond the table, --exclude, --within FILE, --min-score, --explain, --method, --profile, --user_id", () => {
    const cohort = join(work, "cohort.txt");
    writeFileSync(cohort, sim.dataset.users.filter((h) => groupOf(h) === 1).join("\n") + "\n");
    const r = cli("similar", "7", "--n", "40", "--exclude", "1,4", "--within", cohort, "--min-score", "0.01", "--json");
    expect(r.code).toBe(0);
    const list = JSON.parse(r.out) as { similar: string }[];
    expect(list.length).toBeGreaterThan(TOP);
    for (const x of list) {
      expect(groupOf(x.similar)).toBe(1);
      expect(["1", "4"]).not.toContain(x.similar);
    }
    const explained = cli("similar", "7", "--explain", "--n", "2");
    expect(explained.code).toBe(0);
    expect(explained.out).toMatch(/interests \d\.\d{4}\s+courses \d\.\d{4}\s+assessments/);
    const byMethod = cli("similar", "--user_id", "7", "--method", "factorization", "--json");
    expect(JSON.parse(byMethod.out)).toEqual(stored("fm_ranking").get("7")!.map((x) => ({ similar: x.similar, score: Math.round(x.score * 1e4) / 1e4 })));
    const profile = join(work, "profile.json");
    writeFileSync(profile, JSON.stringify({ interests: ["g0-tag1", "martian"] }));
    const folded = cli("similar", "--profile", profile, "--json");
    expect(folded.code).toBe(0);
    expect(folded.err).toMatch(/1 unknown interests left out: martian/);
  });

  it("usage errors exit 2: extra positionals, both --method and --results-table, an unknown user", () => {
    expect(cli("similar", "7", "8").code).toBe(2);
    expect(cli("similar", "7", "8").err).toMatch(/unexpected argument "8"/);
    expect(cli("similar", "7", "--method", "factorization", "--results-table", "x").err).toMatch(/not both/);
    expect(cli("similar", "ghost").code).toBe(2);
    expect(cli("recommend", "7", "--kind", "books").err).toMatch(/--kind must be one of/);
    for (const args of [["recommend", "7", "8"], ["export", "user_ranking"]]) {
      const r = cli(...args);
      expect([args, r.code, /unexpected argument/.test(r.err)]).toEqual([args, 2, true]);
    }
    // Options of another method are refused, not ignored.
    // And so are the flags of the training not chosen (BPR's under the default ALS, and the reverse).
    for (const [args, message] of [
      [["--epochs", "0"], "--epochs applies only with --training bpr (factorization has --training als, the default)"],
      [["--learning-rate", "1000"], "--learning-rate applies only with --training bpr"],
      [["--training", "bpr", "--als-iterations", "3"], "--als-iterations applies only with --training als (factorization has --training bpr)"],
    ] as const) {
      const r = runCli(["pipeline", "--method", "factorization", ...args, "--db", join(work, "never.db")]);
      expect([args, r.code, r.err]).toEqual([args, 2, expect.stringContaining(message)]);
    }
    for (const [method, flag] of [["similarity", "--factors"], ["factorization", "--rank"], ["als", "--shrinkage"]]) {
      const r = runCli(["pipeline", "--method", method, flag, "8", "--db", join(work, "never.db")]);
      expect([method, flag, r.code, r.err]).toEqual([method, flag, 2, expect.stringContaining(`${flag} does not apply to ${method}`)]);
    }
  }, 30_000);

  it("--url passes every option to the server: the same bytes as from the database, for every form", async () => {
    const cohort = join(work, "cohort-url.txt");
    writeFileSync(cohort, sim.dataset.users.filter((h) => groupOf(h) === 2).join("\n") + "\n");
    const profile = join(work, "profile-url.json");
    writeFileSync(profile, JSON.stringify({ interests: ["g1-tag0", "g1-tag2", "martian"], courses: { "g1-course1": 600 } }));
    const server = await serve(["--db", db, "--quiet"]);
    try {
      // Each form differs from the plain `similar 7` / `recommend 7` answer, so an option the
      // client dropped (as --results-table once was) shows as a difference.
      const forms: string[][] = [
        ["similar", "7", "--results-table", "fm_ranking"],
        ["similar", "7", "--method", "als", "--n", "3"],
        ["similar", "7", "--n", "40", "--exclude", "1,4", "--within", cohort, "--min-score", "0.01"],
        ["similar", "7", "--explain", "--n", "2", "--results-table", "als_ranking"],
        ["similar", "--user_id", "7", "--n", "12"],
        ["similar", "--profile", profile, "--method", "factorization"],
        ["recommend", "7", "--results-table", "fm_ranking", "--kind", "interests", "--n", "4", "--neighbors", "7"],
        ["recommend", "7", "--method", "als", "--using", "model", "--include-seen", "--exclude", "g2-course1", "--n", "3"],
        ["recommend", "--profile", profile, "--kind", "assessments", "--n", "2"],
      ];
      const plain = { similar: cli("similar", "7", "--json").out, recommend: cli("recommend", "7", "--json").out };
      for (const form of forms) {
        const local = cli(...form, "--json");
        const remote = runCli([...form, "--json", "--url", server.url]);
        expect([form, remote.code, remote.out]).toEqual([form, 0, local.out]);
        expect([form, local.code]).toEqual([form, 0]);
        expect([form, local.out === plain[form[0] as "similar" | "recommend"]]).toEqual([form, false]);
      }
      // The table chosen is the one answering: fm_ranking's stored rows, not the served default's.
      expect(JSON.parse(runCli(["similar", "7", "--results-table", "fm_ranking", "--json", "--url", server.url]).out)).toEqual(stored("fm_ranking").get("7")!.map((x) => ({ similar: x.similar, score: Math.round(x.score * 1e4) / 1e4 })));
      // A profile's answer names what was left out, in both.
      expect(JSON.parse(cli("similar", "--profile", profile, "--json").out).unknown).toEqual({ interests: ["martian"], courses: [], assessments: [] });
    } finally {
      await server.stop();
    }
  }, 60_000);

  it("recommend and export", () => {
    const r = cli("recommend", "7", "--n", "3", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).items).toHaveLength(3);
    const out = join(work, "export.csv");
    const e = cli("export", "--results-table", "fm_ranking", "--out", out);
    expect(e.code).toBe(0);
    const lines = Bun.file(out).size > 0 ? require("node:fs").readFileSync(out, "utf8").trimEnd().split("\n") : [];
    expect(lines[0]).toBe("user_handle,rank,similar,score");
    expect(lines.length - 1).toBe([...stored("fm_ranking").values()].reduce((s, r) => s + r.length, 0));
    const jsonl = cli("export", "--results-table", "als_ranking", "--format", "jsonl").out.trimEnd().split("\n").map((l) => JSON.parse(l));
    const alsRows = stored("als_ranking");
    expect(jsonl.length).toBe([...alsRows.values()].reduce((s, r) => s + r.length, 0));
    for (const row of jsonl.slice(0, 50)) expect(alsRows.get(row.user_handle)![row.rank - 1]).toEqual({ similar: row.similar, score: row.score });
    expect(cli("export", "--runs").out.split("\n")[0]).toBe("id,results_table,method,params,input,users_ranked,rows_written,started_at,finished_at,stages");
    const runs = cli("export", "--runs", "--format", "jsonl");
    expect(runs.out.trim().split("\n").map((l) => JSON.parse(l).results_table)).toEqual(["user_ranking", "fm_ranking", "als_ranking", "svd_ranking"]);
  }, 30_000);
});

describe("stale and degenerate runs", () => {
  it("a degenerate run (epochs 0) fails and leaves the table served; --allow-empty publishes it", async () => {
    const before = stored("fm_ranking");
    await expect(runPipeline({ input: "store", store, method: "factorization", table: "fm_ranking", options: { training: "bpr", epochs: 0 }, threads: 1 })).rejects.toThrow(DegenerateRunError);
    expect(stored("fm_ranking")).toEqual(before);
    const cli = runCli(["pipeline", "--method", "factorization", "--training", "bpr", "--epochs", "0", "--results-table", "fm_ranking", "--db", db]);
    expect(cli.code).toBe(1);
    expect(cli.err).toMatch(/ranked no neighbours.*--allow-empty/);
    const diverged = runCli(["pipeline", "--method", "factorization", "--training", "bpr", "--learning-rate", "1000", "--results-table", "fm_ranking", "--db", db]);
    expect(diverged.code).toBe(1);
    expect(stored("fm_ranking")).toEqual(before);
    await runPipeline({ input: "store", store, method: "factorization", table: "empty_ranking", options: { training: "bpr", epochs: 0 }, threads: 1, allowEmpty: true });
    expect(stored("empty_ranking").size).toBe(0);
  }, 60_000);

  it("after a re-ingest of other data the table is stale: similar warns, ingest says so, the API answers 409, healthz says stale", async () => {
    const other = writeCsvDir(join(work, "other"), grouped(300, 9));
    const r = runCli(["ingest", "--data-dir", other, "--db", db]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/rankings table user_ranking is now out of date: run recsys pipeline/);
    expect(runCli(["similar", "7", "--db", db]).err).toMatch(/out of date/);
    await expect(loadRecommender(store, "user_ranking")).rejects.toThrow(StaleRankingsError);
    const app = openApp(db);
    try {
      const health = app.call("/healthz");
      expect(health.body.stale).toBe(true);
      expect(health.body.input.ranked).not.toBe(health.body.input.current);
      expect((await app.ask("/api/similarity/", { method: "POST", body: '{"user_handle":"7","n":40}' })).status).toBe(409);
      // Within its stored rows the table still answers, as the seed's request does: a lookup by
      // table or method, and a batch, are read from the rows, not asked of the (stale) model.
      const rows = stored("user_ranking");
      const served = (h: string) => rows.get(h)!.slice(0, 3).map((x) => ({ similar: x.similar, score: Math.round(x.score * 1e4) / 1e4 }));
      const byTable = await app.ask("/api/similarity/", { method: "POST", body: '{"user_handle":"7","table":"user_ranking","n":3}' });
      expect(byTable.status).toBe(200);
      expect(byTable.body).toEqual(served("7"));
      const batch = await app.ask("/api/similarity/", { method: "POST", body: '{"user_handles":["7","8"],"table":"user_ranking","n":3}' });
      expect(batch.status).toBe(200);
      expect(batch.body).toEqual({ results: [{ user_handle: "7", similar: served("7") }, { user_handle: "8", similar: served("8") }] });
      // A user the table does not hold is the model's to explain: 409 here.
      expect((await app.ask("/api/similarity/", { method: "POST", body: '{"user_handles":["7","ghost"],"n":3}' })).status).toBe(409);
    } finally {
      app.close();
    }
  }, 60_000);
});
