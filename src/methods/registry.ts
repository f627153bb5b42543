/**
 * The method registry: the one list of ranking methods. Pipeline, evaluation, the CLI's flags and
 * help, and the API read it; no other file names a method. Adding a method is one folder under
 * `src/methods/` and one line here (or {@link registerMethod} at run time, e.g. in a test or a
 * plug-in).
 */
import { als } from "./als/index.ts";
import { factorization } from "./factorization/index.ts";
import { flagName, type Method, type OptionSpec } from "./method.ts";
import { similarity } from "./similarity/index.ts";

/** Any method, whatever its options type (the registry holds several). */
// biome-ignore lint: the registry is heterogeneous by design
export type AnyMethod = Method<any>;

const registry = new Map<string, AnyMethod>([
  [similarity.name, similarity],
  [factorization.name, factorization],
  [als.name, als],
]);

/** The registered methods, in registration order. */
export function methods(): AnyMethod[] {
  return [...registry.values()];
}

/** Names of the registered methods, in registration order. */
export function methodNames(): string[] {
  return [...registry.keys()];
}

/** An unknown method name: an error everywhere (never a silent fallback to another method). */
export class UnknownMethodError extends RangeError {
  override name = "UnknownMethodError";
  constructor(readonly method: string) {
    super(`unknown method ${JSON.stringify(method)}; methods: ${methodNames().join(", ")}`);
  }
}

/** The method registered as `name`. @throws {UnknownMethodError} */
export function getMethod(name: string): AnyMethod {
  const m = registry.get(name);
  if (!m) throw new UnknownMethodError(name);
  return m;
}

/**
 * Registers a method (a name must be new, made of lower-case letters, digits and dashes). Returns
 * a function that removes it again.
 */
export function registerMethod(method: AnyMethod): () => void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(method.name)) throw new RangeError(`method name ${JSON.stringify(method.name)}: expected lower-case letters, digits and dashes`);
  if (registry.has(method.name)) throw new RangeError(`a method named ${JSON.stringify(method.name)} is already registered`);
  registry.set(method.name, method);
  return () => {
    if (registry.get(method.name) === method) registry.delete(method.name);
  };
}

/** One CLI flag and the methods whose option it sets. */
export interface MethodFlag {
  /** Flag name without dashes, e.g. `learning-rate`. */
  flag: string;
  /** Option key in the methods' options, e.g. `learningRate`. */
  option: string;
  methods: { method: AnyMethod; spec: OptionSpec<unknown> }[];
}

/** Every CLI flag the registered methods declare (options with `cli: false` have none). */
export function methodFlags(): MethodFlag[] {
  const flags = new Map<string, MethodFlag>();
  for (const method of registry.values()) {
    for (const [option, spec] of Object.entries<OptionSpec<unknown>>(method.options)) {
      if (spec.cli === false) continue;
      const flag = flagName(option);
      let f = flags.get(flag);
      if (!f) flags.set(flag, (f = { flag, option, methods: [] }));
      f.methods.push({ method, spec });
    }
  }
  return [...flags.values()];
}
