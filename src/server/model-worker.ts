/**
 * The worker behind `WorkerModel` (model-host.ts): opens the store read-only, loads one table's
 * model, and answers its queries one at a time, in the order they were sent.
 */
import { openStore, type RankingsStore } from "../db/store.ts";
import { loadRecommender, type LoadInfo, type Recommender } from "../recommender.ts";

declare const self: { onmessage: ((event: MessageEvent) => void) | null; postMessage(message: unknown): void };

let store: RankingsStore | undefined;
let rec: Recommender | undefined;
// Queries wait for the load (and for each other): one at a time, in order.
let queue: Promise<void> = Promise.resolve();

async function answer(op: string, args: Record<string, any>): Promise<unknown> {
  if (op === "load") {
    store = await openStore(args.location, { readonly: true });
    let info: LoadInfo | undefined;
    rec = await loadRecommender(store, args.table, (i) => (info = i));
    return { run: rec.run, info };
  }
  if (!rec) throw new Error("no model loaded");
  if (op === "similar") return rec.similar(args.who, args.options);
  if (op === "recommend") return rec.recommend(args.who, args.options);
  if (op === "explain") return rec.explain(args.who, args.other, args.items);
  if (op === "profile") return rec.profile(args.handle);
  if (op === "suggest") return rec.suggest(args.kind, args.prefix, args.limit);
  throw new Error(`unknown model query ${op}`);
}

self.onmessage = (event: MessageEvent) => {
  const { id, op, args } = event.data as { id: number; op: string; args: Record<string, any> };
  queue = queue.then(async () => {
    try {
      self.postMessage({ id, ok: true, result: await answer(op, args) });
    } catch (e) {
      const error = e as Error;
      self.postMessage({ id, ok: false, error: { name: error?.name ?? "Error", message: error?.message ?? String(e) } });
    }
  });
};
