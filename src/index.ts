/**
 * recsys as a library: for every learner, the learners most like them.
 *
 * The flow is one way: **read** the four CSVs (`readTables`) → a **dataset** with integer ids
 * (`Dataset`) → **fit** a registered method (`fit`, `methods`) → **rank** every user
 * (`model.rankAll`) or **query** one (`model.similarUsers`) → **store** the rankings atomically
 * (`runPipeline`, `openStore`) → **serve** them over HTTP (`startServer`, `createApp`).
 * **evaluate** scores methods on held-out data. Importing this module has no side effects. Runs
 * on Bun (it uses `bun:sqlite` and Bun Workers). The data generator is `recsys/generate`.
 *
 * @example
 * import { readTables, fit } from "recsys";
 * const { dataset } = await readTables("data/sample");
 * const model = await fit(dataset, "similarity");
 * const { ids, scores } = model.similarUsers(dataset.userId("110")!, { n: 5 });
 * ids.forEach((v, k) => console.log(dataset.users[v], scores[k].toFixed(4)));
 *
 * @module
 */

// Read
export { formatSummary, InputError, parseTable, parseTables, readTables, SCHEMA, TABLE_NAMES } from "./read/index.ts";
export type { CsvSource, IngestSummary, InputErrorDetails, ReadOptions, ReadResult, Table, TableName, Tables, TableSummary } from "./read/index.ts";

// Dataset: the one owner of user and item ids
export { Dataset } from "./dataset.ts";
export type { InputColumns, Vocabulary } from "./dataset.ts";
export { compareHandles } from "./handles.ts";

// Methods: the registry, fitting, ranking and querying
export { fit } from "./fit.ts";
export { getMethod, methodNames, methods, registerMethod, UnknownMethodError } from "./methods/registry.ts";
export { booleanOption, choiceOption, integerOption, numberOption, resolveOptions } from "./methods/method.ts";
export type { EpochReport, FitContext, Method, Model, OptionSpec, QueryOptions, RankAllOptions } from "./methods/method.ts";
export { DEFAULT_WEIGHTS, parseWeights, similarity } from "./methods/similarity/index.ts";
export type { SimilarityOptions, Weights } from "./methods/similarity/index.ts";
export { factorization, FM_DEFAULTS } from "./methods/factorization/index.ts";
export type { FMOptions } from "./methods/factorization/index.ts";
export { MAX_TOP_N } from "./rank/driver.ts";
export type { QueryResult } from "./rank/driver.ts";
export type { ProgressFn, Rankings } from "./types.ts";

// Store and pipeline
export { ingest } from "./ingest.ts";
export type { IngestOptions, IngestResult } from "./ingest.ts";
export { runPipeline } from "./pipeline.ts";
export type { PipelineInput, PipelineOptions, PipelineResult } from "./pipeline.ts";
export { finalizeRun, runShard } from "./shards.ts";
export type { FinalizeRunOptions, ShardOptions, ShardResult } from "./shards.ts";
export { RunFinalizedError, ShardsNotReadyError } from "./db/shard-records.ts";
export type { FinalizeOptions, ShardRecord } from "./db/shard-records.ts";
export { MissingTableError, MissingTablesError, openStore, StaleInputError, StoreBusyError, StoreWriteError } from "./db/store.ts";
export type { NeighborRow, RankingsStore, RunRecord, RunRow, StoredInput, StoreOptions, TableReader } from "./db/store.ts";
export { validateTableName } from "./names.ts";
export { fingerprintDataset } from "./fingerprint.ts";
export type { Fingerprint } from "./fingerprint.ts";

// Serve
export { createApp } from "./server/app.ts";
export type { AppOptions } from "./server/app.ts";
export { startServer } from "./server/serve.ts";
export type { RunningServer, ServeOptions } from "./server/serve.ts";
export { openApiDocument } from "./server/openapi.ts";

// Evaluate
export { evaluate } from "./evaluate.ts";
export type { EvaluateOptions, EvaluationReport, MethodResult } from "./evaluate.ts";
