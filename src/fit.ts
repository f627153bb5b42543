/**
 * Fitting a registered method by name: the one-call entry point of the library.
 */
import { toDataset, type Dataset, type InputColumns } from "./dataset.ts";
import { resolveOptions, type FitContext, type Model } from "./methods/method.ts";
import { getMethod } from "./methods/registry.ts";

/**
 * Fits method `method` (a registered name, e.g. `similarity` or `factorization`) on `data` (a
 * {@link Dataset}, or tables as `readTables` returns them). Options are checked and completed with
 * the method's defaults; an unknown method or option is an error.
 *
 * @example
 * const { dataset } = await readTables("data/sample");
 * const model = await fit(dataset, "similarity");
 * const top = model.similarUsers(dataset.userId("110")!, { n: 5 });
 */
export async function fit(data: Dataset | InputColumns, method: string, options: Record<string, unknown> = {}, context: FitContext = {}): Promise<Model> {
  const m = getMethod(method);
  return m.fit(toDataset(data), resolveOptions(m, options), context);
}
