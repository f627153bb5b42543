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
};

/** The query-string forms of the model's options (a JSON body takes the same names). */
const modelQuery = [
  { name: "exclude", in: "query", required: false, description: "Handles never returned, comma-separated.", schema: { type: "string" }, example: "5537,1021" },
  { name: "within", in: "query", required: false, description: "Only these handles may be returned (a cohort), comma-separated.", schema: { type: "string" } },
  { name: "min_score", in: "query", required: false, description: "Only neighbours scoring at least this.", schema: { type: "number" } },
  { name: "explain", in: "query", required: false, description: "true (or a number of items, ≤ 100): add an `explanation` to each neighbour.", schema: { type: "string" } },
  { name: "method", in: "query", required: false, description: "Answer from the latest rankings table made by this method (404 if the method is unknown or made no table).", schema: { type: "string" } },
  { name: "table", in: "query", required: false, description: "Answer from this rankings table (404 if it does not exist).", schema: { type: "string" } },
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
            { name: "user_handle", in: "query", required: false, description: "The user (or give it in the JSON body).", schema: { type: "string" } },
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
            ...body,
            required: true,
            description:
              'One user (`{"user_handle":"110"}`, the seed\'s request, answered byte for byte as before), a batch (`{"user_handles":["110","5537"]}`, ≤ 100: `{"results":[{"user_handle":"110","similar":[…]}, {"user_handle":"x","error":"…"}]}`), or someone not in the data (`{"profile":{"interests":["python"],"courses":{"python-intro":3600},"assessments":{"python":180}}}`: `{"similar":[…],"unknown":{"interests":[],"courses":[],"assessments":[]}}`), with any of the options.',
          },
          responses: { "200": neighbours, ...similarityErrors, ...modelErrors },
        },
      },
      "/api/recommendations/": {
        summary: "Items for a user (or a batch, or a profile) from its most similar users (also without the trailing slash, or /api/recommendations/{user_handle}).",
        get: {
          operationId: "recommendGet",
          parameters: [
            { name: "user_handle", in: "query", required: false, schema: { type: "string" } },
            { name: "kind", in: "query", required: false, description: "courses (default), interests or assessments.", schema: { enum: ["courses", "interests", "assessments"] } },
            { name: "n", in: "query", required: false, description: "How many items (default 10).", schema: { type: "integer", minimum: 1, maximum: 10000 } },
            { name: "neighbors", in: "query", required: false, description: "Most similar users that vote (default 20, as `recsys evaluate`).", schema: { type: "integer", minimum: 1, maximum: 1000 } },
            { name: "using", in: "query", required: false, description: "neighbors (default) or model (the factorization machine's own item scores).", schema: { enum: ["neighbors", "model"] } },
            { name: "exclude_seen", in: "query", required: false, description: "Leave out what the user already has (default true).", schema: { type: "boolean" } },
            { name: "exclude", in: "query", required: false, description: "Items never recommended, comma-separated.", schema: { type: "string" } },
            ...modelQuery.filter((p) => p.name === "method" || p.name === "table"),
          ],
          requestBody: { ...body, description: "The same fields as a JSON object (user_handle, user_handles or profile; kind, n, …)." },
          responses: { "200": recommendations, ...similarityErrors, ...modelErrors },
        },
        post: { operationId: "recommendPost", requestBody: { ...body, required: true }, responses: { "200": recommendations, ...similarityErrors, ...modelErrors } },
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
        SimilarityQuery: {
          type: "object",
          additionalProperties: false,
          required: ["user_handle"],
          properties: {
            user_handle: { oneOf: [{ type: "string", minLength: 1, maxLength: 256 }, { type: "integer" }] },
            user_handles: { type: "array", maxItems: 100, items: { type: "string" } },
            profile: { $ref: "#/components/schemas/Profile" },
            n: { type: "integer", minimum: 1, maximum: 10000 },
            exclude: { type: "array", items: { type: "string" } },
            within: { type: "array", items: { type: "string" } },
            min_score: { type: "number" },
            explain: { oneOf: [{ type: "boolean" }, { type: "integer", minimum: 1, maximum: 100 }] },
            method: { type: "string" },
            table: { type: "string" },
          },
        },
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
