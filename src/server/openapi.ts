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
  "404": error("No rankings for that handle: an unknown user, or one without any similar user."),
  "405": error("Method not allowed (see the Allow header)."),
  "408": error(
    "A request not completed within 30 s of its first byte, however steadily it arrives; the connection is then closed. (A keep-alive connection that sends nothing for 30 s between requests is closed without an answer.)",
  ),
  "413": error("Request body larger than 16 KiB."),
  "431": error("Request line and headers larger than 16 KiB."),
  "503": error(
    "The rankings table does not exist yet: run `recsys pipeline --method similarity`. Or the server already holds its connection limit (`--max-connections`): then sent as the connection opens, with Retry-After: 1, and the connection closed (the access log counts such refusals in at most one line a second).",
  ),
};

const nQuery = {
  name: "n",
  in: "query",
  required: false,
  description: "How many neighbours (1..stored top-n; default 10 or the stored top-n if smaller).",
  schema: { type: "integer", minimum: 1 },
};

const body = {
  required: false,
  description:
    'Also accepted on GET (the original tool\'s form: `curl -X GET -H "Content-type: application/json" -d \'{"user_handle":"110"}\' …`).',
  content: { "application/json": { schema: { $ref: "#/components/schemas/SimilarityQuery" } } },
};

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
          ],
          requestBody: body,
          responses: { "200": neighbours, ...similarityErrors },
        },
        post: {
          operationId: "similarPost",
          parameters: [nQuery],
          requestBody: { ...body, required: true, description: "The user and optional n." },
          responses: { "200": neighbours, ...similarityErrors },
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
            n: { type: "integer", minimum: 1 },
          },
        },
        Neighbor: {
          type: "object",
          required: ["similar", "score"],
          properties: {
            similar: { type: "string", description: "Handle of the similar user." },
            score: { type: "number", description: "Similarity, rounded to 4 decimals." },
          },
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
            error: { type: "string" },
          },
        },
      },
    },
  };
}
