/**
 * Where the server's models live. A model answers queries that take milliseconds (a fold-in, a
 * recommendation, n = thousands) and takes a second or more to load after each pipeline run; on
 * the server's own thread either would hold up every other request, the stored top-n lookups
 * included. So each table's model is loaded and asked in a worker of its own
 * ({@link WorkerModel}, `model-worker.ts`): the server's thread only parses, routes and answers
 * from the rankings table, and a client asking heavy questions waits for its own answers only.
 * Where no worker can open the store (a store handed to the server already open, as the tests
 * do), the model is asked on this thread ({@link localModel}).
 */
import type { RunRow } from "../db/store.ts";
import type { Explanation, ItemKind } from "../methods/method.ts";
import { workerEntry } from "../parallel.ts";
import type { Profile } from "../profile.ts";
import type { LoadInfo, RecommendAnswer, Recommender, RecommendQuery, SimilarAnswer, SimilarOptions, Who } from "../recommender.ts";

/** The queries a served model answers (a `Recommender`, here or in a worker). */
export interface ModelHost {
  readonly run: RunRow | null;
  similar(who: Who, options: SimilarOptions): Promise<SimilarAnswer>;
  recommend(who: Who, options: RecommendQuery): Promise<RecommendAnswer>;
  explain(who: Who, other: string, items?: number): Promise<Explanation>;
  profile(handle: string): Promise<Required<Profile>>;
  suggest(kind: "users" | ItemKind, prefix: string, limit: number): Promise<string[]>;
  close(): void;
}

/** A recommender asked on this thread. */
export function localModel(rec: Recommender): ModelHost {
  const run = <T>(f: () => T) => new Promise<T>((resolve) => resolve(f()));
  return {
    run: rec.run,
    similar: (who, options) => run(() => rec.similar(who, options)),
    recommend: (who, options) => run(() => rec.recommend(who, options)),
    explain: (who, other, items) => run(() => rec.explain(who, other, items)),
    profile: (handle) => run(() => rec.profile(handle)),
    suggest: (kind, prefix, limit) => run(() => rec.suggest(kind, prefix, limit)),
    close() {},
  };
}

const WORKER = workerEntry(new URL("./model-worker.ts", import.meta.url), "src/server/model-worker.ts");

/** An error as a worker reports it: its class name and message (the API maps names to statuses). */
function revive(e: { name: string; message: string }): Error {
  const error = e.name === "RangeError" ? new RangeError(e.message) : new Error(e.message);
  error.name = e.name;
  return error;
}

/** A recommender loaded and asked in a worker of its own (see the module comment). */
export class WorkerModel implements ModelHost {
  private next = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private failure: Error | null = null;

  private loaded: RunRow | null = null;

  private constructor(private readonly worker: Worker) {
    worker.addEventListener("message", (event: MessageEvent) => this.settle(event.data));
    worker.addEventListener("error", (event: ErrorEvent) => this.fail(new Error(`the model worker failed: ${event.message}`)));
  }

  /** The run whose model the worker loaded. */
  get run(): RunRow | null {
    return this.loaded;
  }

  /**
   * Starts a worker that opens the store at `location` (a path or URL with its credentials, never
   * logged) and loads the model of `table`'s latest run. Rejects as `loadRecommender` does.
   */
  static async start(location: string, table: string, onLoad?: (info: LoadInfo) => void): Promise<WorkerModel> {
    const host = new WorkerModel(new Worker(WORKER));
    try {
      const { run, info } = (await host.call("load", { location, table })) as { run: RunRow; info: LoadInfo };
      host.loaded = run;
      onLoad?.(info);
      return host;
    } catch (e) {
      host.worker.terminate();
      throw e;
    }
  }

  /** Whether the worker died (the catalog then starts another). */
  get failed(): boolean {
    return this.failure !== null;
  }

  similar(who: Who, options: SimilarOptions): Promise<SimilarAnswer> {
    return this.call("similar", { who, options }) as Promise<SimilarAnswer>;
  }

  recommend(who: Who, options: RecommendQuery): Promise<RecommendAnswer> {
    return this.call("recommend", { who, options }) as Promise<RecommendAnswer>;
  }

  explain(who: Who, other: string, items?: number): Promise<Explanation> {
    return this.call("explain", { who, other, items }) as Promise<Explanation>;
  }

  profile(handle: string): Promise<Required<Profile>> {
    return this.call("profile", { handle }) as Promise<Required<Profile>>;
  }

  suggest(kind: "users" | ItemKind, prefix: string, limit: number): Promise<string[]> {
    return this.call("suggest", { kind, prefix, limit }) as Promise<string[]>;
  }

  close(): void {
    this.fail(new Error("the model was closed"));
    this.worker.terminate();
  }

  private call(op: string, args: unknown): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  private settle(m: { id: number; ok: boolean; result?: unknown; error?: { name: string; message: string } }): void {
    const waiting = this.pending.get(m.id);
    if (!waiting) return;
    this.pending.delete(m.id);
    if (m.ok) waiting.resolve(m.result);
    else waiting.reject(revive(m.error!));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.pending.values()) w.reject(e);
    this.pending.clear();
  }
}
