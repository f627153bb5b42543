/**
 * recsys as a library: read the four learner tables, build the interaction matrices, rank every
 * user's most similar users by exact weighted cosine or by a factorization machine, evaluate, and
 * read/write rankings in SQLite. Everything here is a function of its arguments; importing this
 * module has no side effects. Runs on Bun (uses `bun:sqlite` and Bun Workers).
 *
 * @module
 */

// Shapes
export type { CourseTags, Dataset, ProgressFn, Rankings, TableName, Tables, UserAssessmentScores, UserCourseViews, UserInterests } from "./types.ts";
export { TABLE_NAMES } from "./types.ts";
export { compareHandles, distinctHandles, indexHandles } from "./handles.ts";

// Reading
export { formatSummary, InputError, parseTable, parseTables, readTables, SCHEMA } from "./read/index.ts";
export type { CsvSource, IngestSummary, InputErrorDetails, ReadOptions, ReadResult, TableSummary } from "./read/index.ts";

// Method 1: similarity
export { buildInteractions, BLOCK_NAMES } from "./matrix/interactions.ts";
export type { BlockName, InteractionBlock, Interactions } from "./matrix/interactions.ts";
export type { CSR } from "./matrix/csr.ts";
export {
  buildUserItemMatrix,
  DEFAULT_WEIGHTS,
  formatWeights,
  normalizeWeights,
  parseWeights,
  rankBySimilarity,
  similarityRun,
  similarityTopN,
  weightInteractions,
} from "./similarity/index.ts";
export type { BlockStats, SimilarityOptions, SimilarityStats, TopNOptions, UserItemMatrix, Weights } from "./similarity/index.ts";

// Method 2: factorization
export { factorizationRun, FM_DEFAULTS, fmParameters, predict, rankByFactorization, rankByFactors, trainFM, userFactors } from "./fm/index.ts";
export type { EpochStats, FactorizationOptions, FactorizationStats, FMModel, FMOptions } from "./fm/index.ts";

// Either method, and evaluation
export { METHODS, rankUsers } from "./pipeline.ts";
export type { Method, RankOptions, RankResult } from "./pipeline.ts";
export { evaluate, indexItems, recommendFromNeighbors, recommendPopular, scoreRecommendations, splitHoldout } from "./evaluate.ts";
export type { EvaluateOptions, EvaluationReport, HoldoutSplit, ItemIndex, MethodResult, Recommendations, Scores } from "./evaluate.ts";
export { factorTopN } from "./rank/factors.ts";

// Storage
export { ingest, INGESTS_TABLE, writeTables } from "./db/ingest.ts";
export type { IngestOptions, IngestResult, WriteOptions } from "./db/ingest.ts";
export { loadDataset, MissingTablesError } from "./db/load.ts";
export { openDatabase, tableExists } from "./db/open.ts";
export { lastRun, readNeighbors, readRankings, storedTopN, writeRankings } from "./db/rankings.ts";
export type { Neighbor, RunRecord, RunRow } from "./db/rankings.ts";
export { validateTableName } from "./names.ts";
export { fingerprintDataset } from "./fingerprint.ts";
export type { Fingerprint } from "./fingerprint.ts";

// Serving
export { createApp } from "./server/app.ts";
export type { AppOptions } from "./server/app.ts";
export { RankingsReader } from "./server/reader.ts";
export { startServer } from "./server/serve.ts";
export type { RunningServer, ServeOptions } from "./server/serve.ts";
export { openApiDocument } from "./server/openapi.ts";

// Data generation
export { generate } from "./generate/index.ts";
export type { GenerateOptions, GenerateSummary } from "./generate/index.ts";
