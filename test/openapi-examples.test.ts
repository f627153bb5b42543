/**
 * The OpenAPI document's examples of issue 11's additions are real: every option has one, and
 * each example request, asked of the API over the bundled sample (data/sample), is answered 200
 * in the form of the example answer of the same name.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../src/db/store.ts";
import { runPipeline } from "../src/pipeline.ts";
import { openApiDocument, recommendationAnswerExamples, recommendationRequestExamples, similarityAnswerExamples, similarityRequestExamples } from "../src/server/openapi.ts";
import { openApp, type AppUnderTest } from "./fixtures/app.ts";

const ROOT = join(import.meta.dir, "..");
let work: string;
let app: AppUnderTest;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "recsys-openapi-"));
  const db = join(work, "recsys.db");
  const store = await openStore(db);
  try {
    await runPipeline({ input: { dataDir: join(ROOT, "data/sample") }, store, method: "similarity", topN: 10, threads: 1 });
    await runPipeline({ input: "store", store, method: "als", table: "als_ranking", topN: 10, threads: 1, options: { iterations: 3 } });
  } finally {
    store.close();
  }
  app = openApp(db);
}, 120_000);

afterAll(() => {
  app?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The form of a JSON value: object keys (sorted) with their forms, an array as its first element's form, else the type. */
function form(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? [form(v[0])] : [];
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, form((v as Record<string, unknown>)[k])]));
  return typeof v;
}

type Examples = Record<string, { summary: string; value: unknown }>;
const routes: [string, Examples, Examples][] = [
  ["/api/similarity/", similarityRequestExamples, similarityAnswerExamples],
  ["/api/recommendations/", recommendationRequestExamples, recommendationAnswerExamples],
];

describe("the OpenAPI examples", () => {
  it("are the document's: the request examples on each POST, the answers on its 200", () => {
    const doc = openApiDocument() as any;
    for (const [path, requests, answers] of routes) {
      const post = doc.paths[path].post;
      expect(post.requestBody.content["application/json"].examples).toBe(requests);
      expect(post.responses["200"].content["application/json"].examples).toBe(answers);
      // Every answer example answers a request example of the same name.
      for (const name of Object.keys(answers)) expect([path, name, name in requests]).toEqual([path, name, true]);
    }
  });

  it("cover every option: each body property is in some request example, each GET parameter has an example", () => {
    const doc = openApiDocument() as any;
    const schemas = doc.components.schemas;
    for (const [path, requests, schema] of [
      ["/api/similarity/", similarityRequestExamples, "SimilarityQuery"],
      ["/api/recommendations/", recommendationRequestExamples, "RecommendationQuery"],
    ] as const) {
      const used = new Set(Object.values(requests as Examples).flatMap((e) => Object.keys(e.value as object)));
      expect([path, Object.keys(schemas[schema].properties).filter((p) => !used.has(p))]).toEqual([path, []]);
      for (const e of Object.values(requests as Examples)) for (const k of Object.keys(e.value as object)) expect([path, k, k in schemas[schema].properties]).toEqual([path, k, true]);
      const missing = doc.paths[path].get.parameters.filter((p: { example?: unknown }) => p.example === undefined).map((p: { name: string }) => p.name);
      expect([path, missing]).toEqual([path, []]);
    }
  });

  it("are answered 200 over the sample, in the form of the example answer of the same name", async () => {
    for (const [path, requests, answers] of routes) {
      for (const [name, { value }] of Object.entries(requests)) {
        const r = await app.ask(path, { method: "POST", body: JSON.stringify(value) });
        expect([path, name, r.status]).toEqual([path, name, 200]);
        const expected = answers[name];
        if (expected) expect([path, name, form(r.body)]).toEqual([path, name, form(expected.value)]);
      }
    }
    // The examples show what they say: the filters filter, a batch's unknown user errs alone, a profile's unknown tag is named.
    const f = similarityRequestExamples.filters.value;
    const filtered = (await app.ask("/api/similarity/", { method: "POST", body: JSON.stringify(f) })).body as { similar: string; score: number }[];
    expect(filtered.length).toBeGreaterThan(0);
    for (const x of filtered) {
      expect(f.within).toContain(x.similar);
      expect(f.exclude).not.toContain(x.similar);
      expect(x.score).toBeGreaterThanOrEqual(f.min_score);
    }
    const batch = (await app.ask("/api/similarity/", { method: "POST", body: JSON.stringify(similarityRequestExamples.batch.value) })).body;
    expect(batch.results.map((r: { error?: string }) => r.error === undefined)).toEqual([true, true, false]);
    const profile = (await app.ask("/api/similarity/", { method: "POST", body: JSON.stringify(similarityRequestExamples.profile.value) })).body;
    expect(profile.unknown).toEqual(similarityAnswerExamples.profile.value.unknown);
    const more = (await app.ask("/api/similarity/", { method: "POST", body: JSON.stringify(similarityRequestExamples.more.value) })).body;
    expect(more).toHaveLength(50);
    expect(app.errors).toEqual([]);
  }, 60_000);

  it("as GET query parameters too: each route's parameter examples together are answered 200", async () => {
    const doc = openApiDocument() as any;
    for (const path of ["/api/similarity/", "/api/recommendations/"]) {
      // method and table are alternatives: ask once with each.
      for (const leave of ["method", "table"]) {
        const params = doc.paths[path].get.parameters.filter((p: { name: string }) => p.name !== leave);
        const query = params.map((p: { name: string; example: unknown }) => `${p.name}=${encodeURIComponent(String(p.example))}`).join("&");
        const r = await app.ask(`${path}?${query}`);
        expect([path, query, r.status]).toEqual([path, query, 200]);
      }
    }
  }, 60_000);
});
