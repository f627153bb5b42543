/**
 * What one server process can answer from: every rankings table of a store (chosen per request by
 * `table` or `method`), and the model behind each table's latest run, loaded once, lazily, and
 * again when a new run replaces the table (noticed as the table's reader notices the swap).
 */
import { MissingTableError, type RankingsStore, type TableReader } from "../db/store.ts";
import { getMethod } from "../methods/registry.ts";
import { validateTableName } from "../names.ts";
import { loadRecommender, type LoadInfo } from "../recommender.ts";
import { localModel, WorkerModel, type ModelHost } from "./model-host.ts";

/** Most tables one server keeps readers for (a table must exist to get one, so this only bounds a store with very many). */
const MAX_TABLES = 64;

/** Most models loaded at once (each holds its own copy of the input): the least recently loaded goes first. */
const MAX_MODELS = 4;

/** No such rankings table, or none made by that method: the API's 404. */
export class UnknownTableError extends Error {
  override name = "UnknownTableError";
}

export class Catalog {
  private readonly readers = new Map<string, TableReader>();
  private readonly models = new Map<string, { runId: number; generation: number; model: Promise<ModelHost> }>();
  private opened: RankingsStore | undefined;

  constructor(
    /** The store now (the server reopens a database file replaced at its path: readers and models of the old one are dropped). */
    private readonly storeOf: () => RankingsStore,
    /** The default table's reader (the server's `--results-table`). */
    readonly main: TableReader,
    private readonly checkEveryMs = 100,
    private readonly onLoad?: (table: string, info: LoadInfo) => void,
    /**
     * Where workers open the store themselves (the path or URL, credentials included; never
     * logged): models are then loaded and asked off the server's thread (see model-host.ts).
     * Without it they are asked on this thread.
     */
    private readonly location?: string,
  ) {
    this.readers.set(main.table, main);
  }

  /** The current store; a different one than last time drops what was read from the old one. (Public for the explorer's read-only routes, explore.ts.) */
  get store(): RankingsStore {
    const store = this.storeOf();
    if (store !== this.opened) {
      if (this.opened) {
        for (const r of this.readers.values()) if (r !== this.main) r.close();
        this.readers.clear();
        this.readers.set(this.main.table, this.main);
        for (const m of this.models.values()) m.model.then((host) => host.close(), () => {});
        this.models.clear();
      }
      this.opened = store;
    }
    return store;
  }

  /** The reader of an existing rankings table. @throws {UnknownTableError} */
  async table(name: string): Promise<TableReader> {
    try {
      validateTableName(name);
    } catch (e) {
      throw new UnknownTableError((e as Error).message);
    }
    let reader = this.readers.get(name);
    if (!reader) {
      const tables = await this.store.rankingsTables();
      if (!tables.some((t) => t.table === name)) throw new UnknownTableError(`no rankings table ${JSON.stringify(name)}; tables: ${tables.map((t) => t.table).join(", ") || "none yet"}`);
      if (this.readers.size >= MAX_TABLES) throw new UnknownTableError(`this server already serves ${MAX_TABLES} tables`);
      reader = this.store.reader(name, { checkEveryMs: this.checkEveryMs });
      this.readers.set(name, reader);
    }
    await reader.sync();
    if (!reader.exists) throw new UnknownTableError(new MissingTableError(name).message);
    return reader;
  }

  /** The rankings table whose latest run used `method` (the most recent such run). @throws {UnknownTableError} */
  async tableOf(method: string): Promise<TableReader> {
    getMethod(method); // an unknown method name answers 404, as an unknown table does
    const tables = (await this.store.rankingsTables()).filter((t) => t.run?.method === method);
    if (tables.length === 0) throw new UnknownTableError(`no rankings table was made by method ${method}; run \`recsys pipeline --method ${method} --results-table T\``);
    const latest = tables.reduce((a, b) => ((b.run?.id ?? 0) > (a.run?.id ?? 0) ? b : a));
    return this.table(latest.table);
  }

  /** The model behind `reader`'s table, as of its latest run (cached per run; loaded in a worker when it can be). */
  async recommender(reader: TableReader): Promise<ModelHost> {
    await reader.sync();
    const store = this.store;
    const table = reader.table;
    const cached = this.models.get(table);
    // A new run moves the reader's generation: until then the cached model is current, with no query for the run.
    const usable = async () => {
      const host = await cached!.model;
      return host instanceof WorkerModel && host.failed ? null : host;
    };
    if (cached && cached.generation === reader.generation) {
      const host = await usable();
      if (host) return host;
    }
    const run = await reader.lastRun();
    if (cached && run && cached.runId === run.id) {
      cached.generation = reader.generation;
      const host = await usable();
      if (host) return host;
    }
    if (cached) cached.model.then((host) => host.close(), () => {});
    const onLoad = (info: LoadInfo) => this.onLoad?.(table, info);
    const model = this.location ? WorkerModel.start(this.location, table, onLoad) : loadRecommender(store, table, onLoad).then(localModel);
    // A failed load (e.g. stale input) is not cached: the next request tries again.
    this.models.delete(table);
    this.models.set(table, { runId: run?.id ?? -1, generation: reader.generation, model });
    model.catch(() => {
      if (this.models.get(table)?.model === model) this.models.delete(table);
    });
    while (this.models.size > MAX_MODELS) {
      const [oldest, entry] = this.models.entries().next().value!;
      this.models.delete(oldest);
      entry.model.then((host) => host.close(), () => {});
    }
    return model;
  }


  close(): void {
    for (const r of this.readers.values()) if (r !== this.main) r.close();
    this.readers.clear();
    for (const m of this.models.values()) m.model.then((host) => host.close(), () => {});
    this.models.clear();
  }
}
