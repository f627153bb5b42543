/** The OpenAPI 3.1 description of the REST API (served at /api/openapi.json). */
import pkg from "../../package.json" with { type: "json" };

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

const neighbours = {
  description: "The user's most similar users, best first (at most n).",
  content: {
    "application/json": {
      schema: { type: "array", items: { $ref: "#/components/schemas/Neighbor" } },
      example: [
        { similar: "5537", score: 0.8957 },
        { similar: "1021", score: 0.8712 },
      ],
    },
  },
};

/**
 * Every addition of issue 11 with an example: the requests (POST bodies; GET takes the same names
 * as query parameters) and, under the same names, answers. The handles, tags and courses are the
 * bundled sample's (data/sample), and test/openapi-examples.test.ts asks each request of a server
 * over it and checks the answer has the example's form.
 */
const profileExample = { interests: ["javascript", "c#"], courses: { "website-security-playbook-3118": 2597 }, assessments: { javascript: 150 } };
const explanationExample = {
  score: 0.10546905455003322,
  blocks: { interests: 0.08564230336175431, courses: 0.019826751188278903, assessments: 0 },
  residual: 0,
  items: [
    { item: "interest:crystal-reports", block: "interests", contribution: 0.08564230336175431, shared: true },
    { item: "tag:visual-studio-2012", block: "courses", contribution: 0.007401016715651319, shared: true },
  ],
  meaning: "score = Σ over the items both have of x_a·x_b (…); a block's share is the sum over its shared items",
};
export const similarityRequestExamples = {
  seed: { summary: "The seed's request: the stored top-10, answered byte for byte as before", value: { user_handle: "110" } },
  more: { summary: "n beyond the stored top-n: answered by the run's model, the same order continued", value: { user_handle: "110", n: 50 } },
  filters: { summary: "exclude (never returned), within (only these, e.g. a cohort), min_score", value: { user_handle: "110", n: 20, exclude: ["325"], within: ["7", "25", "60", "132", "207", "273", "325", "535"], min_score: 0.05 } },
  explain: { summary: "explain=true (or a number of items): an explanation object per neighbour", value: { user_handle: "110", n: 1, explain: 2 } },
  method: { summary: "Another method's latest table, from the same server", value: { user_handle: "110", method: "als" } },
  table: { summary: "A named rankings table", value: { user_handle: "110", table: "als_ranking", n: 3 } },
  batch: { summary: "A batch of at most 100 users; an unknown one gets an error of its own", value: { user_handles: ["110", "7", "nobody"], n: 2 } },
  profile: { summary: "Someone not in the data (fold-in); unknown tags and courses are reported", value: { profile: { ...profileExample, interests: ["javascript", "c#", "cobol-for-cats"] }, n: 2 } },
};
export const similarityAnswerExamples = {
  seed: { summary: "Neighbours, best first, scores rounded to 4 decimals", value: [{ similar: "325", score: 0.1055 }, { similar: "132", score: 0.102 }] },
  explain: { summary: "With explain: blocks (plus residual) add up to the score; the largest items", value: [{ similar: "325", score: 0.1055, explanation: explanationExample }] },
  batch: { summary: "A batch", value: { results: [{ user_handle: "110", similar: [{ similar: "325", score: 0.1055 }] }, { user_handle: "nobody", error: 'unknown user "nobody": not in the data the model was fitted on' }] } },
  profile: { summary: "A profile", value: { similar: [{ similar: "721", score: 0.1547 }], unknown: { interests: ["cobol-for-cats"], courses: [], assessments: [] } } },
};
export const recommendationRequestExamples = {
  user: { summary: "Courses the user's 20 most similar users have (neighbour votes)", value: { user_handle: "110", kind: "courses", n: 2 } },
  model: { summary: "The model's own item scores (factorization, als), from another method's table", value: { user_handle: "110", kind: "interests", using: "model", method: "als", n: 2 } },
  profile: { summary: "For a profile; more voters, seen items kept, some items never", value: { profile: profileExample, kind: "courses", n: 2, neighbors: 30, exclude_seen: false, exclude: ["website-security-playbook-3118"], table: "als_ranking" } },
  batch: { summary: "A batch of at most 100 users", value: { user_handles: ["110", "7"], kind: "interests", n: 1 } },
};
const voters = [{ similar: "566", score: 0.0901 }, { similar: "64", score: 0.0712 }];
export const recommendationAnswerExamples = {
  user: { summary: "Items, best first, each with the neighbours who voted", value: { kind: "courses", using: "neighbors", items: [{ item: "resharper-deep-dive-564", score: 0.3364596172985151, votes: 0.3364596172985151, voters }] } },
  profile: { summary: "A profile's answer also names what was left out", value: { kind: "courses", using: "neighbors", items: [{ item: "resharper-deep-dive-564", score: 1.7055, votes: 1.7055, voters }], unknown: { interests: [], courses: [], assessments: [] } } },
  batch: { summary: "A batch", value: { results: [{ user_handle: "110", kind: "interests", using: "neighbors", items: [{ item: "asp.net", score: 0.21, votes: 0.21, voters }] }] } },
};

/** A POST body of the model-answered routes: whom it asks about (one of three forms), the route's options, and which table answers. */
const querySchema = (options: Record<string, unknown>) => ({
  type: "object",
  additionalProperties: false,
  description: "Exactly one of user_handle, user_handles and profile, with any of the options.",
  properties: {
    user_handle: { oneOf: [{ type: "string", minLength: 1, maxLength: 256 }, { type: "integer" }] },
    user_handles: { type: "array", maxItems: 100, items: { type: "string" } },
    profile: { $ref: "#/components/schemas/Profile" },
    ...options,
    method: { type: "string" },
    table: { type: "string" },
  },
});

const similarityErrors = {
  "400": error(
    "Malformed JSON, missing or invalid user_handle, n out of range, unknown field, or conflicting values. Or malformed HTTP framing (then the connection is closed): a bare CR anywhere; in a chunked body, a line not ending in CRLF or a chunk extension outside RFC 9112's grammar; a Content-Length or Transfer-Encoding value that is not exactly a number or `chunked` (only spaces and tabs around it are ignored).",
  ),
  "401": error("Production only: missing or invalid bearer token (see WWW-Authenticate)."),
  "404": error("No rankings for that handle: an unknown user, or one without any similar user. Or an unknown `table` or `method` (or a method that made no table yet)."),
  "405": error("Method not allowed (see the Allow header)."),
  "408": error(
    "A request not completed within 30 s of its first byte, however steadily it arrives; the connection is then closed. (A keep-alive connection that sends nothing for 30 s between requests is closed without an answer.)",
  ),
  "413": error("Request body larger than 16 KiB."),
  "421": error("A dev server bound to loopback answers only Host localhost, 127.0.0.1 or [::1] (with any port): another name is a DNS-rebinding attempt."),
  "431": error("Request line and headers larger than 16 KiB."),
  "503": error(
    "The rankings table does not exist yet: run `recsys pipeline --method similarity`. Or the server already holds its connection limit (`--max-connections`): then sent as the connection opens, with Retry-After: 1, and the connection closed (the access log counts such refusals in at most one line a second).",
  ),
};

const nQuery = {
  name: "n",
  in: "query",
  required: false,
  description: "How many neighbours (default 10 or the stored top-n if smaller). Up to the stored top-n from the table; beyond it (≤ 10,000) from the run's model, the same order continued.",
  schema: { type: "integer", minimum: 1, maximum: 10000 },
  example: 50,
};

/** The query-string forms of the model's options (a JSON body takes the same names). */
const modelQuery = [
  { name: "exclude", in: "query", required: false, description: "Handles never returned, comma-separated.", schema: { type: "string" }, example: "5537,1021" },
  { name: "within", in: "query", required: false, description: "Only these handles may be returned (a cohort), comma-separated.", schema: { type: "string" }, example: "5537,1021,325" },
  { name: "min_score", in: "query", required: false, description: "Only neighbours scoring at least this.", schema: { type: "number" }, example: 0.2 },
  { name: "explain", in: "query", required: false, description: "true (or a number of items, ≤ 100): add an `explanation` to each neighbour.", schema: { type: "string" }, example: "true" },
  { name: "method", in: "query", required: false, description: "Answer from the latest rankings table made by this method (404 if the method is unknown or made no table).", schema: { type: "string" }, example: "als" },
  { name: "table", in: "query", required: false, description: "Answer from this rankings table (404 if it does not exist).", schema: { type: "string" }, example: "als_ranking" },
];

const modelErrors = {
  "409": error("The table's run cannot answer beyond its stored rows: its input changed since (stale: run the pipeline again), it has no recorded run, or the database has no input tables."),
};

const recommendations = {
  description: "Items the user's most similar users have and the user does not (or, with using=model, the model's own item scores), each with the neighbours who have it.",
  content: {
    "application/json": {
      schema: { $ref: "#/components/schemas/Recommendations" },
      example: { kind: "courses", using: "neighbors", items: [{ item: "python-fundamentals", score: 1.7311, votes: 1.7311, voters: [{ similar: "5537", score: 0.8957 }] }] },
    },
  },
};

const body = {
  required: false,
  description:
    'Also accepted on GET (the original tool\'s form: `curl -X GET -H "Content-type: application/json" -d \'{"user_handle":"110"}\' …`).',
  content: { "application/json": { schema: { $ref: "#/components/schemas/SimilarityQuery" } } },
};

/** Choosing the rankings table whose data answers (the explorer's routes). */
const tableChoice = modelQuery.filter((p) => p.name === "method" || p.name === "table");
const prefix = { name: "prefix", in: "query", required: false, description: "What the keys start with (default: any).", schema: { type: "string", maxLength: 256 } };
const limit = { name: "limit", in: "query", required: false, description: "How many (default 10).", schema: { type: "integer", minimum: 1, maximum: 50 } };
const exploreErrors = {
  "400": error("An unknown query parameter, or a bad value (each message names the parameter)."),
  "401": similarityErrors["401"],
  "405": error("Method not allowed: these routes are read-only (GET)."),
  "409": modelErrors["409"],
  "503": error("The rankings table does not exist yet, or the database is being replaced."),
};
function json(schema: unknown, description: string, example?: unknown) {
  return { description, content: { "application/json": example === undefined ? { schema } : { schema, example } } };
}

/** Builds the document (a fresh object each call). */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "recsys",
      version: pkg.version,
      description:
        "Users most similar to a given learner, from the rankings table written by `recsys pipeline`. Errors are JSON objects `{\"error\": \"…\"}`.",
    },
    servers: [{ url: "http://127.0.0.1:5000" }],
    security: [{}, { bearer: [] }],
    paths: {
      "/api/similarity/": {
        summary: "Similar users, handle in the body or the query (also without the trailing slash).",
        get: {
          operationId: "similarGet",
          parameters: [
            { name: "user_handle", in: "query", required: false, description: "The user (or give it in the JSON body).", schema: { type: "string" }, example: "110" },
            nQuery,
            ...modelQuery,
          ],
          requestBody: body,
          responses: { "200": neighbours, ...similarityErrors, ...modelErrors },
        },
        post: {
          operationId: "similarPost",
          parameters: [nQuery],
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/SimilarityQuery" }, examples: similarityRequestExamples } },
            description:
              'One user (`{"user_handle":"110"}`, the seed\'s request, answered byte for byte as before), a batch (`{"user_handles":["110","5537"]}`, ≤ 100: `{"results":[{"user_handle":"110","similar":[…]}, {"user_handle":"x","error":"…"}]}`), or someone not in the data (`{"profile":{"interests":["python"],"courses":{"python-intro":3600},"assessments":{"python":180}}}`: `{"similar":[…],"unknown":{"interests":[],"courses":[],"assessments":[]}}`), with any of the options.',
          },
          responses: {
            "200": {
              description: "The neighbours (an array, as for GET); for a batch `{results: […]}`; for a profile `{similar: […], unknown: {…}}`.",
              content: { "application/json": { schema: { oneOf: [{ type: "array", items: { $ref: "#/components/schemas/Neighbor" } }, { type: "object", properties: { results: { type: "array" } } }, { type: "object", properties: { similar: { type: "array" }, unknown: { type: "object" } } }] }, examples: similarityAnswerExamples } },
            },
            ...similarityErrors,
            ...modelErrors,
          },
        },
      },
      "/api/recommendations/": {
        summary: "Items for a user (or a batch, or a profile) from its most similar users (also without the trailing slash, or /api/recommendations/{user_handle}).",
        get: {
          operationId: "recommendGet",
          parameters: [
            { name: "user_handle", in: "query", required: false, schema: { type: "string" }, example: "110" },
            { name: "kind", in: "query", required: false, description: "courses (default), interests or assessments.", schema: { enum: ["courses", "interests", "assessments"] }, example: "interests" },
            { name: "n", in: "query", required: false, description: "How many items (default 10).", schema: { type: "integer", minimum: 1, maximum: 10000 }, example: 5 },
            { name: "neighbors", in: "query", required: false, description: "Most similar users that vote (default 20, as `recsys evaluate`).", schema: { type: "integer", minimum: 1, maximum: 1000 }, example: 30 },
            { name: "using", in: "query", required: false, description: "neighbors (default) or model (the factorization machine's own item scores).", schema: { enum: ["neighbors", "model"] }, example: "model" },
            { name: "exclude_seen", in: "query", required: false, description: "Leave out what the user already has (default true).", schema: { type: "boolean" }, example: false },
            { name: "exclude", in: "query", required: false, description: "Items never recommended, comma-separated.", schema: { type: "string" }, example: "resharper-deep-dive-564" },
            ...modelQuery.filter((p) => p.name === "method" || p.name === "table"),
          ],
          requestBody: { ...body, description: "The same fields as a JSON object (user_handle, user_handles or profile; kind, n, …).", content: { "application/json": { schema: { $ref: "#/components/schemas/RecommendationQuery" } } } },
          responses: { "200": recommendations, ...similarityErrors, ...modelErrors },
        },
        post: {
          operationId: "recommendPost",
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/RecommendationQuery" }, examples: recommendationRequestExamples } } },
          responses: { "200": { ...recommendations, content: { "application/json": { schema: { $ref: "#/components/schemas/Recommendations" }, examples: recommendationAnswerExamples } } }, ...similarityErrors, ...modelErrors },
        },
      },
      "/api/similarity/{user_handle}": {
        get: {
          operationId: "similarByPath",
          parameters: [
            { name: "user_handle", in: "path", required: true, description: "The user, percent-encoded.", schema: { type: "string" } },
            nQuery,
          ],
          responses: { "200": neighbours, ...similarityErrors },
        },
      },
      "/api/users/{user_handle}": {
        get: {
          operationId: "profile",
          summary: "What a learner has: interests, seconds viewed per course, best score per assessment (from the chosen table's data).",
          parameters: [{ name: "user_handle", in: "path", required: true, description: "The user, percent-encoded.", schema: { type: "string" } }, ...tableChoice],
          responses: {
            "200": json({ $ref: "#/components/schemas/UserProfile" }, "The learner's profile.", { user_handle: "110", interests: ["python"], courses: { "python-fundamentals-1234": 5400 }, assessments: { python: 182 } }),
            ...exploreErrors,
            "404": error("An unknown user, or an unknown table (or none made by that method)."),
          },
        },
      },
      "/api/users": {
        get: {
          operationId: "suggestUsers",
          summary: "Handles starting with a prefix, shortest first (for a search box).",
          parameters: [prefix, limit, ...tableChoice],
          responses: { "200": json({ type: "object", properties: { users: { type: "array", items: { type: "string" } } } }, "At most limit handles.", { users: ["11", "110", "111"] }), ...exploreErrors },
        },
      },
      "/api/items": {
        get: {
          operationId: "suggestItems",
          summary: "Interest tags, course ids or assessment tags the data knows, starting with a prefix (for a new learner's profile).",
          parameters: [{ name: "kind", in: "query", required: false, description: "courses (default), interests or assessments.", schema: { enum: ["courses", "interests", "assessments"] } }, prefix, limit, ...tableChoice],
          responses: { "200": json({ type: "object", properties: { kind: { type: "string" }, items: { type: "array", items: { type: "string" } } } }, "At most limit keys.", { kind: "interests", items: ["python"] }), ...exploreErrors },
        },
      },
      "/api/tables": {
        get: {
          operationId: "tables",
          summary: "Every rankings table with its latest run (method, parameters, stage timings, input fingerprint), whether it is stale, and for factorization the loss and sampled AUC per epoch.",
          responses: { "200": json({ $ref: "#/components/schemas/Tables" }, "The tables, by name."), ...exploreErrors },
        },
      },
      "/api/tables/{table}/histogram": {
        get: {
          operationId: "histogram",
          summary: "Over all users: the distribution of the top-1 score and of the score at rank 10 (20 equal-width bins over [min, max]); with compare, overlap@10 with another table.",
          parameters: [
            { name: "table", in: "path", required: true, schema: { type: "string" } },
            { name: "compare", in: "query", required: false, description: "Another rankings table: counts[j] is the number of users whose two top-10 lists share j users.", schema: { type: "string" } },
          ],
          responses: { "200": json({ $ref: "#/components/schemas/Histograms" }, "The histograms."), ...exploreErrors, "404": error("No such table.") },
        },
      },
      "/": {
        get: {
          operationId: "explorer",
          security: [],
          summary: "The explorer page (HTML; its script and style at /assets/app-<hash>.js|css, cached for a year). It holds no data: in prod it asks for the token and sends it with its API requests.",
          responses: { "200": { description: "The page.", content: { "text/html": {} } }, "405": error("Method not allowed.") },
        },
      },
      "/healthz": {
        get: {
          operationId: "health",
          security: [],
          responses: {
            "200": { description: "Database reachable and rankings table present.", content: { "application/json": { schema: { $ref: "#/components/schemas/Health" } } } },
            "503": { description: "Table missing or database unreachable.", content: { "application/json": { schema: { $ref: "#/components/schemas/Health" } } } },
            "405": error("Method not allowed."),
          },
        },
      },
      "/api/openapi.json": {
        get: {
          operationId: "openapi",
          responses: { "200": { description: "This document.", content: { "application/json": {} } }, "401": similarityErrors["401"], "405": error("Method not allowed.") },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "Required on /api routes with --env prod ($RECSYS_API_TOKEN)." },
      },
      schemas: {
        SimilarityQuery: querySchema({
          n: { type: "integer", minimum: 1, maximum: 10000 },
          exclude: { type: "array", items: { type: "string" } },
          within: { type: "array", items: { type: "string" } },
          min_score: { type: "number" },
          explain: { oneOf: [{ type: "boolean" }, { type: "integer", minimum: 1, maximum: 100 }] },
        }),
        RecommendationQuery: querySchema({
          kind: { enum: ["courses", "interests", "assessments"] },
          n: { type: "integer", minimum: 1, maximum: 10000 },
          neighbors: { type: "integer", minimum: 1, maximum: 1000 },
          using: { enum: ["neighbors", "model"] },
          exclude_seen: { type: "boolean" },
          exclude: { type: "array", items: { type: "string" }, description: "Items never recommended." },
        }),
        Profile: {
          type: "object",
          additionalProperties: false,
          properties: {
            interests: { type: "array", items: { type: "string" } },
            courses: { type: "object", additionalProperties: { type: "number", minimum: 0 }, description: "Seconds viewed per course id." },
            assessments: { type: "object", additionalProperties: { type: "number", minimum: 0 }, description: "Best score per assessment tag." },
          },
        },
        Explanation: {
          type: "object",
          description: "Why two users are similar: the blocks (plus residual) add up to score; each block is the sum of its items' contributions, of which the largest are listed.",
          properties: {
            score: { type: "number" },
            blocks: { type: "object", properties: { interests: { type: "number" }, courses: { type: "number" }, assessments: { type: "number" } } },
            residual: { type: "number", description: "0 for similarity; for factorization, what the first user's items do not account for." },
            items: { type: "array", items: { type: "object", properties: { item: { type: "string" }, block: { type: "string" }, contribution: { type: "number" }, shared: { type: "boolean" } } } },
            meaning: { type: "string" },
          },
        },
        Recommendations: {
          type: "object",
          properties: {
            kind: { enum: ["courses", "interests", "assessments"] },
            using: { enum: ["neighbors", "model"] },
            items: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  item: { type: "string" },
                  score: { type: "number" },
                  votes: { type: "number" },
                  voters: { type: "array", items: { $ref: "#/components/schemas/Neighbor" } },
                },
              },
            },
          },
        },
        Neighbor: {
          type: "object",
          required: ["similar", "score"],
          properties: {
            similar: { type: "string", description: "Handle of the similar user." },
            score: { type: "number", description: "Similarity, rounded to 4 decimals." },
            explanation: { $ref: "#/components/schemas/Explanation" },
          },
        },
        UserProfile: {
          type: "object",
          properties: {
            user_handle: { type: "string" },
            interests: { type: "array", items: { type: "string" } },
            courses: { type: "object", additionalProperties: { type: "number" }, description: "Seconds viewed per course id." },
            assessments: { type: "object", additionalProperties: { type: "number" }, description: "Best score per assessment tag." },
          },
        },
        Tables: {
          type: "object",
          properties: {
            served: { type: "string", description: "The server's default table (--results-table)." },
            input: { type: ["string", "null"], description: "sha256 of the input the database holds now." },
            tables: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  table: { type: "string" },
                  run: {
                    oneOf: [
                      { type: "null" },
                      {
                        type: "object",
                        properties: {
                          id: { type: "integer" },
                          method: { type: "string" },
                          params: { type: "object" },
                          startedAt: { type: "string", format: "date-time" },
                          finishedAt: { type: "string", format: "date-time" },
                          users: { type: "integer" },
                          rows: { type: "integer" },
                          stages: { type: "object", additionalProperties: { type: "number" }, description: "Seconds per stage, in order." },
                          input: { description: "The fingerprint of the input the run ranked (row counts and sha256)." },
                        },
                      },
                    ],
                  },
                  stale: { type: "boolean" },
                  epochs: {
                    oneOf: [
                      { type: "null" },
                      { type: "array", items: { type: "object", properties: { epoch: { type: "integer" }, loss: { type: "number" }, auc: { type: "number" }, learningRate: { type: "number" } } } },
                    ],
                    description: "Factorization: per training epoch, the mean BPR loss, sampled AUC and learning rate (`--training bpr`), or per ALS iteration the loss normalised by Σ c alone (`--training als`, the default).",
                  },
                },
              },
            },
          },
        },
        Histograms: {
          type: "object",
          properties: {
            table: { type: "string" },
            users: { type: "integer" },
            top1: { $ref: "#/components/schemas/Histogram" },
            top10: { $ref: "#/components/schemas/Histogram" },
            overlap: {
              type: "object",
              properties: { compare: { type: "string" }, k: { type: "integer" }, users: { type: "integer" }, counts: { type: "array", items: { type: "integer" } }, mean: { type: "number" } },
            },
          },
        },
        Histogram: {
          type: "object",
          properties: { min: { type: "number" }, max: { type: "number" }, counts: { type: "array", items: { type: "integer" }, description: "Users per equal-width bin of [min, max]." } },
        },
        Error: { type: "object", required: ["error"], properties: { error: { type: "string" } } },
        Health: {
          type: "object",
          required: ["status"],
          properties: {
            status: { enum: ["ok", "unavailable"] },
            database: { enum: ["reachable", "unreachable"] },
            table: {
              type: "object",
              properties: { name: { type: "string" }, present: { type: "boolean" }, topN: { type: "integer" } },
            },
            lastRun: {
              oneOf: [
                { type: "null" },
                {
                  type: "object",
                  properties: { id: { type: "integer" }, method: { type: "string" }, finishedAt: { type: "string", format: "date-time" }, users: { type: "integer" } },
                },
              ],
            },
            stale: { type: "boolean", description: "The table's run ranked other input than the database now holds (re-ingested since): run the pipeline again." },
            input: { type: "object", properties: { ranked: { type: ["string", "null"] }, current: { type: ["string", "null"] } }, description: "sha256 of the input the run ranked and of the input held now." },
            error: { type: "string" },
          },
        },
      },
    },
  };
}
