/**
 * A small worker pool for row-parallel kernels: the rows [0, n) are handed out in chunks to Bun
 * Workers, which read their inputs from and write their outputs to SharedArrayBuffers (passed in
 * the payload, shared rather than copied). Chunks are claimed through an atomic counter, so the
 * load balances itself; each row is computed by exactly one worker, so a kernel that is
 * deterministic per row gives the same bits whatever the partition.
 *
 * Main side: {@link runRows}. Worker side: a module that calls {@link serveRows}. Locate that
 * module with {@link workerEntry}, which also works inside a `bun build --compile` executable
 * provided the worker module is given to the build as an extra entrypoint.
 */
import { availableParallelism } from "node:os";

type TypedArray = Int32Array | Float64Array | Uint8Array | Uint32Array | Float32Array;

/** Cores available to this process (at least 1). */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/** Rows (users) above which the row-parallel kernels start workers by default. */
export const PARALLEL_THRESHOLD = 2000;

/** Threads per core the row-parallel kernels accept at most. */
export const THREADS_PER_CORE = 2;

/**
 * The most threads a row-parallel kernel accepts: {@link THREADS_PER_CORE} per core. More only
 * adds start-up and memory (each worker holds its own selections): 1,000 threads on 2 cores took
 * 30 times longer and 2 GB.
 */
export function maxThreads(): number {
  return THREADS_PER_CORE * defaultThreads();
}

/**
 * The thread count a row-parallel kernel uses: `threads` if given (an integer in
 * 1..{@link maxThreads}), else every core for more than {@link PARALLEL_THRESHOLD} rows and 1
 * below, where starting workers costs more than it saves.
 */
export function autoThreads(rows: number, threads?: number): number {
  const t = threads ?? (rows > PARALLEL_THRESHOLD ? defaultThreads() : 1);
  const max = maxThreads();
  if (!Number.isInteger(t) || t < 1 || t > max) throw new RangeError(`threads must be an integer in 1..${max} (${THREADS_PER_CORE} per core), got ${t}`);
  return t;
}

/** A copy of `a` backed by a SharedArrayBuffer, so workers can read it without copying. */
export function toShared<T extends TypedArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(Math.max(a.byteLength, 0)));
  (copy as unknown as { set(x: T): void }).set(a);
  return copy;
}

/** A zero-filled typed array of `length` elements backed by a SharedArrayBuffer. */
export function sharedArray<T extends TypedArray>(Ctor: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }, length: number): T {
  return new Ctor(new SharedArrayBuffer(length * Ctor.BYTES_PER_ELEMENT));
}

/** True inside a `bun build --compile` executable, whose modules live under `$bunfs` (`~BUN` on Windows). */
export function isCompiledExecutable(): boolean {
  return import.meta.url.includes("/$bunfs/") || import.meta.url.includes("~BUN");
}

/**
 * Where to start a worker module from. `moduleUrl` is the module's own location
 * (`new URL("./worker.ts", import.meta.url)`); `projectPath` is its path from the project root
 * (`src/similarity/worker.ts`), which is the name `bun build --compile bin/recsys.ts
 * src/similarity/worker.ts` embeds it under: in the executable, `import.meta.url` points at the
 * executable's single bundle, so the module's own URL no longer leads to the worker.
 */
export function workerEntry(moduleUrl: URL, projectPath: string): URL {
  if (!isCompiledExecutable()) {
    // Compiled to JavaScript (the npm package's dist/), the worker beside this module is .js too.
    if (!import.meta.url.endsWith(".js")) return moduleUrl;
    const js = new URL(moduleUrl);
    js.pathname = js.pathname.replace(/\.ts$/, ".js");
    return js;
  }
  // The bundle sits at the root of the embedded file system; entrypoints keep their project paths.
  return new URL(`./${projectPath.replace(/^\.?\//, "")}`, import.meta.url);
}

/** What {@link runRows} needs to run a kernel over rows [0, rows). */
export interface RowTask<P> {
  /** The worker module (one that calls {@link serveRows}); see {@link workerEntry}. */
  worker: URL | string;
  /** Rows to process: [0, rows). */
  rows: number;
  /** Sent once to every worker (structured clone; SharedArrayBuffers inside are shared). */
  payload: P;
  /** Number of workers to start (at least 1; capped by the number of chunks; see {@link plannedThreads}). */
  threads: number;
  /** Rows per claim; smaller balances better, larger costs fewer messages. Default: automatic. */
  chunk?: number;
  /** Called on the main thread with rows finished so far. */
  onProgress?: (done: number, total: number) => void;
}

interface StartMessage<P> {
  payload: P;
  /** This worker's number in [0, threads), e.g. to pick its own output slot in the payload. */
  index: number;
  counter: Int32Array;
  rows: number;
  chunk: number;
}

type WorkerMessage = { kind: "ready" } | { kind: "progress"; rows: number } | { kind: "done" } | { kind: "error"; message: string; stack?: string };

/**
 * The worker module is not there (e.g. this library bundled into someone else's
 * `bun build --compile` executable, which does not embed the worker modules) or no Worker could
 * be created. Nothing was computed; callers run the same kernel on their own thread instead.
 */
export class WorkersUnavailableError extends Error {
  override name = "WorkersUnavailableError";
}

/** How Bun reports a worker whose entry module does not exist (in a checkout or an executable). */
const ENTRY_NOT_FOUND = /ModuleNotFound resolving .*\(entry point\)/;

/** True when a worker's error event says its entry module does not exist (not that it failed). */
export function isMissingWorkerEntry(message: string): boolean {
  return ENTRY_NOT_FOUND.test(message);
}

/**
 * The chunk size and the number of workers {@link runRows} will use: workers beyond the number of
 * chunks would get nothing to do, so they are not started. Use it to size per-worker outputs.
 */
export function plannedThreads(rows: number, threads: number, chunk?: number): { chunk: number; threads: number } {
  const c = chunk ?? Math.max(1, Math.min(1024, Math.ceil(rows / (Math.max(1, threads) * 32))));
  return { chunk: c, threads: Math.max(1, Math.min(threads, Math.ceil(Math.max(rows, 1) / c))) };
}

/**
 * Runs the worker module over rows [0, task.rows) with `task.threads` workers and resolves when
 * every row is done. Rejects with the first error a worker reports (including a module that
 * throws while loading), or a worker that exits before finishing; with a
 * {@link WorkersUnavailableError} when the worker module does not exist. All workers are
 * terminated either way.
 */
export async function runRows<P>(task: RowTask<P>): Promise<void> {
  const { rows } = task;
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`rows must be a non-negative integer, got ${rows}`);
  if (rows === 0) return;
  const { chunk, threads } = plannedThreads(rows, task.threads, task.chunk);
  const counter = sharedArray(Int32Array, 1);
  const workers: Worker[] = [];
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        reject(error);
      };
      for (let i = 0; i < threads; i++) {
        let worker: Worker;
        try {
          worker = new Worker(task.worker);
        } catch (e) {
          fail(new WorkersUnavailableError(`cannot start worker ${String(task.worker)}: ${(e as Error).message}`));
          return;
        }
        workers.push(worker);
        let workerDone = false;
        let ready = false;
        worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
          const m = event.data;
          if (m.kind === "ready") ready = true;
          else if (m.kind === "progress") {
            done += m.rows;
            if (task.onProgress && !failed) {
              try {
                task.onProgress(done, rows);
              } catch (e) {
                fail(e as Error);
              }
            }
          } else if (m.kind === "done") {
            workerDone = true;
            if (++finished === threads) resolve();
          } else {
            const error = new Error(m.message);
            if (m.stack) error.stack = m.stack;
            fail(error);
          }
        };
        worker.onerror = (event: ErrorEvent) => {
          const hint =
            isCompiledExecutable() && /ModuleNotFound/.test(event.message)
              ? " (this executable was built without it: pass the worker module to `bun build --compile` as an extra entrypoint)"
              : "";
          const message = `worker ${String(task.worker)} failed: ${event.message}${hint}`;
          // Only a worker entry that is not there at all is "unavailable"; a module that is there
          // but throws or has a broken import is a bug, and must not be papered over.
          fail(!ready && isMissingWorkerEntry(event.message) ? new WorkersUnavailableError(message) : new Error(message));
        };
        worker.addEventListener("close", () => {
          if (!workerDone) fail(new Error(`worker ${String(task.worker)} exited before finishing its rows`));
        });
        const start: StartMessage<P> = { payload: task.payload, index: i, counter, rows, chunk };
        worker.postMessage(start);
      }
    });
  } finally {
    for (const w of workers) w.terminate();
  }
}

/**
 * {@link runRows}, or nothing when the worker module does not exist (an executable built without
 * it): resolves true when the workers did the rows, false when none could, so the caller runs the
 * same kernel on its own thread. Any other failure rejects as with runRows.
 */
export async function runRowsIfAvailable<P>(task: RowTask<P>): Promise<boolean> {
  try {
    await runRows(task);
    return true;
  } catch (e) {
    if (e instanceof WorkersUnavailableError) return false;
    throw e;
  }
}

/**
 * Worker side: call once at the top level of a worker module. `setup` receives the payload and
 * the worker's number in [0, threads) and returns the kernel, which must process rows
 * [start, end) and write its results into shared outputs. Errors thrown by `setup` or the kernel
 * are sent to the main thread.
 */
export function serveRows<P>(setup: (payload: P, index: number) => (start: number, end: number) => void): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<StartMessage<P>>) => void) | null;
    postMessage(message: WorkerMessage): void;
  };
  scope.onmessage = (event) => {
    const { payload, index, counter, rows, chunk } = event.data;
    scope.postMessage({ kind: "ready" });
    try {
      claimRows(scope, setup(payload, index), counter, rows, chunk);
    } catch (e) {
      reportError(scope, e);
    }
  };
}

/** Messages a {@link serveRowPool} worker receives: the payload once, then any number of runs. */
type PoolRequest<P, A> = { kind: "init"; payload: P; index: number } | { kind: "run"; args: A; counter: Int32Array; rows: number; chunk: number };

/** A worker pool kept up across several runs over rows (see {@link startRowPool}). */
export interface RowPool<A> {
  /** Workers started. */
  readonly threads: number;
  /**
   * Hands rows [0, rows) out in chunks of `chunk` (claimed through an atomic counter, as
   * {@link runRows} does) to the workers' kernel for `args`; resolves when every row is done.
   * Rejects with the first error a worker reports, or when a worker exits; the pool is then
   * broken and every later run rejects too.
   */
  run(rows: number, chunk: number, args: A, onProgress?: (done: number, total: number) => void): Promise<void>;
  /** Terminates the workers (safe to call more than once). */
  close(): void;
}

/**
 * Starts `threads` workers of a module that calls {@link serveRowPool}, gives each the payload
 * once (SharedArrayBuffers inside are shared), and resolves once every worker has set up. For
 * work done in several dependent passes over the same inputs (the half-steps of ALS): unlike
 * {@link runRows}, the workers are started, and their code compiled, once, not once per pass.
 * Resolves undefined when the worker module does not exist (see {@link WorkersUnavailableError}),
 * so the caller runs the same kernel itself; any other failure rejects. Close the pool when done.
 */
export async function startRowPool<P, A>(worker: URL | string, payload: P, threads: number): Promise<RowPool<A> | undefined> {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const workers: Worker[] = [];
  let closed = false;
  let broken: Error | undefined;
  /** The phase under way (setting up, or a run): told every message and the first failure. */
  let phase: { message(m: WorkerMessage): void; fail(e: Error): void } | undefined;
  const fail = (e: Error) => {
    broken ??= e;
    phase?.fail(e);
  };
  const close = () => {
    closed = true;
    for (const w of workers) w.terminate();
  };
  /** Waits until `onMessage` resolves, or the first failure (one already there rejects at once). */
  const until = (onMessage: (m: WorkerMessage, resolve: () => void, reject: (e: Error) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      if (broken) return reject(broken);
      const settle = () => (phase = undefined);
      phase = {
        message: (m) => onMessage(m, () => (settle(), resolve()), (e) => fail(e)),
        fail: (e) => (settle(), reject(e)),
      };
    });
  const errorOf = (m: { message: string; stack?: string }) => Object.assign(new Error(m.message), m.stack ? { stack: m.stack } : {});

  let ready = 0;
  const started = until((m, resolve, reject) => {
    if (m.kind === "ready" && ++ready === threads) resolve();
    else if (m.kind === "error") reject(errorOf(m));
  });
  for (let i = 0; i < threads && !broken; i++) {
    let w: Worker;
    try {
      w = new Worker(worker);
    } catch (e) {
      fail(new WorkersUnavailableError(`cannot start worker ${String(worker)}: ${(e as Error).message}`));
      break;
    }
    workers.push(w);
    let loaded = false;
    w.onmessage = (event: MessageEvent<WorkerMessage>) => {
      loaded = true;
      if (phase) phase.message(event.data);
      else if (event.data.kind === "error") fail(errorOf(event.data));
    };
    w.onerror = (event: ErrorEvent) => {
      const hint =
        isCompiledExecutable() && /ModuleNotFound/.test(event.message)
          ? " (this executable was built without it: pass the worker module to `bun build --compile` as an extra entrypoint)"
          : "";
      const message = `worker ${String(worker)} failed: ${event.message}${hint}`;
      fail(!loaded && isMissingWorkerEntry(event.message) ? new WorkersUnavailableError(message) : new Error(message));
    };
    w.addEventListener("close", () => {
      if (!closed) fail(new Error(`worker ${String(worker)} exited`));
    });
    const init: PoolRequest<P, A> = { kind: "init", payload, index: i };
    w.postMessage(init);
  }
  try {
    await started;
  } catch (e) {
    close();
    if (e instanceof WorkersUnavailableError) return undefined;
    throw e;
  }

  return {
    threads,
    close,
    async run(rows, chunk, args, onProgress) {
      if (closed && !broken) throw new Error("the worker pool is closed");
      if (phase) throw new Error("the worker pool runs one run at a time");
      const counter = sharedArray(Int32Array, 1);
      let done = 0;
      let finished = 0;
      const all = until((m, resolve, reject) => {
        if (m.kind === "progress") {
          done += m.rows;
          try {
            onProgress?.(done, rows);
          } catch (e) {
            reject(e as Error);
          }
        } else if (m.kind === "done") {
          if (++finished === threads) resolve();
        } else if (m.kind === "error") reject(errorOf(m));
      });
      // A sequentially consistent store the workers' Atomics.add reads: everything written into
      // shared memory before it (e.g. this run's inputs) is visible to them.
      Atomics.store(counter, 0, 0);
      const request: PoolRequest<P, A> = { kind: "run", args, counter, rows, chunk };
      for (const w of workers) w.postMessage(request);
      await all;
      // And the other way: the workers' last claims came after their last writes.
      Atomics.load(counter, 0);
    },
  };
}

/**
 * Worker side of {@link startRowPool}: call once at the top level of the worker module. `setup`
 * gets the payload and the worker's number once and returns, for a run's arguments, the kernel
 * that processes rows [start, end) into shared outputs. Errors are sent to the main thread.
 */
export function serveRowPool<P, A>(setup: (payload: P, index: number) => (args: A) => (start: number, end: number) => void): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent<PoolRequest<P, A>>) => void) | null;
    postMessage(message: WorkerMessage): void;
  };
  let kernelFor: ((args: A) => (start: number, end: number) => void) | undefined;
  scope.onmessage = (event) => {
    const m = event.data;
    try {
      if (m.kind === "init") {
        kernelFor = setup(m.payload, m.index);
        scope.postMessage({ kind: "ready" });
        return;
      }
      if (!kernelFor) throw new Error("run before init");
      claimRows(scope, kernelFor(m.args), m.counter, m.rows, m.chunk);
    } catch (e) {
      reportError(scope, e);
    }
  };
}

/** A worker's loop: claims `chunk` rows at a time from the shared counter until none are left, reporting each. */
function claimRows(scope: { postMessage(message: unknown): void }, kernel: (start: number, end: number) => void, counter: Int32Array, rows: number, chunk: number): void {
  for (;;) {
    const start = Atomics.add(counter, 0, chunk);
    if (start >= rows) break;
    const end = Math.min(rows, start + chunk);
    kernel(start, end);
    scope.postMessage({ kind: "progress", rows: end - start });
  }
  scope.postMessage({ kind: "done" });
}

/** A worker's failure, sent to the main thread (which rejects the run with it). */
function reportError(scope: { postMessage(message: unknown): void }, e: unknown): void {
  const error = e instanceof Error ? e : new Error(String(e));
  scope.postMessage({ kind: "error", message: error.message, stack: error.stack });
}
