/**
 * What every ranking method is (the `implicit` shape: one small surface every model shares).
 *
 * A method declares its name, its options (defaults, validation, CLI spelling) and `fit`, which
 * turns a {@link Dataset} into a {@link Model}. A model ranks every user's top-n (`rankAll`) and
 * answers one user's top-n on demand (`similarUsers`), with filters as an eligibility mask. The
 * pipeline, evaluation, CLI and API only ever see this interface, through the registry.
 */
import type { Dataset } from "../dataset.ts";
import type { QueryResult } from "../rank/driver.ts";
import type { ProgressFn, Rankings } from "../types.ts";

/** One option of a method: its default, how to check a library value, how to read a CLI flag. */
export interface OptionSpec<T> {
  readonly description: string;
  /** Placeholder in `--help`, e.g. `K`. */
  readonly valueHint: string;
  readonly default: T;
  /** False for tuning knobs that are library-only (no CLI flag). Default true. */
  readonly cli?: boolean;
  /** Checks (and normalizes) a library value; throws a RangeError that starts with `name`. */
  check(value: unknown, name: string): T;
  /** Parses a flag's text; throws a RangeError that starts with `name` (e.g. `--factors`). */
  parse(text: string, name: string): T;
  /** The flag spelling of a value (for `--help` defaults and "best options" lines). */
  format(value: T): string;
}

/** Option specs of a method whose options object is `O`. */
export type OptionSpecs<O> = { readonly [K in keyof O]-?: OptionSpec<O[K]> };

/** The options object a set of option specs describes (the inverse of {@link OptionSpecs}). */
export type OptionsOf<S> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

/** One training epoch of an iterative method, for progress lines and charts. */
export interface EpochReport {
  /** 1-based. */
  epoch: number;
  epochs: number;
  loss: number;
  /** A sampled ranking metric after the epoch, where the method has one (0.5 = chance). */
  auc?: number;
  learningRate?: number;
  seconds: number;
}

/** What fitting may report and use besides the options. */
export interface FitContext {
  /** Threads a method that trains in parallel may use (as {@link RankAllOptions.threads}; results never depend on it). */
  threads?: number;
  onProgress?: ProgressFn;
  onEpoch?: (epoch: EpochReport) => void;
}

/** Options of {@link Model.rankAll}. */
export interface RankAllOptions {
  /** Neighbours per user (default 10). */
  topN?: number;
  /** 1 computes on this thread; default: every core above 2,000 users. Results never depend on it. */
  threads?: number;
  onProgress?: ProgressFn;
  /** Told how many threads really ran (1 when the worker module is missing). */
  onThreads?: (threads: number) => void;
}

/** Options of {@link Model.similarUsers}. */
export interface QueryOptions {
  /** How many (default 10); any number up to all users. */
  n?: number;
  /** Only users whose entry is 1 may be returned (the user itself never is). */
  eligible?: Uint8Array | null;
}

/** A fitted model. */
export interface Model {
  /** The method's registry name. */
  readonly method: string;
  /** The data it was fitted on; user ids are this dataset's. */
  readonly dataset: Dataset;
  /** Effective options, defaults filled in (as recorded with a run). */
  readonly params: object;
  /** Seconds per fitting stage, in order (e.g. `matrix`, or `features` and `train`). */
  readonly stages: Record<string, number>;
  /** Every user's top-n most similar other users, best first, ties by lower user id. */
  rankAll(options?: RankAllOptions): Promise<Rankings>;
  /** One user's top-n, exactly as {@link rankAll} would rank them, filtered by `eligible`. */
  similarUsers(user: number, options?: QueryOptions): QueryResult;
  /** Method-specific figures of the fit and of a ranking, for `--json` and the runs table. */
  details(ranking: { rankings: Rankings; threads: number; seconds: number }): Record<string, unknown>;
  /** The same, as a few indented lines for people. */
  describe(details: Record<string, unknown>): string[];
}

/** A ranking method: one folder under `src/methods/` and one line in the registry. */
export interface Method<O extends object = Record<string, unknown>> {
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  readonly options: OptionSpecs<O>;
  /** Fits a model; `options` are checked and completed with defaults first ({@link resolveOptions}). */
  fit(dataset: Dataset, options: O, context?: FitContext): Promise<Model>;
}

/** Throws a RangeError unless `user` is a user id of `dataset`. */
export function checkUser(user: number, dataset: Dataset): void {
  if (!Number.isInteger(user) || user < 0 || user >= dataset.users.length) throw new RangeError(`user id ${user} is not a user of this dataset (0..${dataset.users.length - 1})`);
}

/**
 * Checks `given` against a method's option specs and fills in defaults. Unknown options are an
 * error, never ignored.
 */
export function resolveOptions<O extends object>(method: Method<O>, given: Partial<Record<string, unknown>> = {}): O {
  const specs: Record<string, OptionSpec<unknown>> = method.options;
  for (const key of Object.keys(given)) {
    if (!(key in specs) && given[key] !== undefined) {
      throw new RangeError(`${method.name} has no option ${JSON.stringify(key)} (options: ${Object.keys(specs).join(", ")})`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) out[key] = given[key] === undefined ? spec.default : spec.check(given[key], key);
  return out as O;
}

/** `learningRate` → `learning-rate`: the CLI spelling of an option. */
export function flagName(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

// Option kinds the methods share.

const INTEGER_TEXT = /^[+]?\d+$/;
const NUMBER_TEXT = /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A number option: `valid` decides, `what` says what is expected in messages, and flag text must
 * match `text` before it is converted.
 */
function numeric(o: { default: number; description: string; valueHint: string; cli?: boolean }, what: string, valid: (v: number) => boolean, text: RegExp): OptionSpec<number> {
  const check = (v: unknown, name: string, shown: string): number => {
    if (typeof v !== "number" || !valid(v)) throw new RangeError(`${name} must be ${what}, got ${shown}`);
    return v;
  };
  return {
    description: o.description,
    valueHint: o.valueHint,
    default: o.default,
    cli: o.cli,
    check: (v, name) => check(v, name, String(v)),
    parse: (t, name) => check(text.test(t.trim()) ? Number(t) : NaN, name, JSON.stringify(t)),
    format: String,
  };
}

/** An integer option ≥ `min`. */
export function integerOption(o: { default: number; min: number; description: string; valueHint?: string; cli?: boolean }): OptionSpec<number> {
  return numeric({ ...o, valueHint: o.valueHint ?? "N" }, `an integer ≥ ${o.min}`, (v) => Number.isInteger(v) && v >= o.min, INTEGER_TEXT);
}

/** A finite number option: positive, or non-negative with `allowZero`; at most `max` if given. */
export function numberOption(o: { default: number; allowZero?: boolean; max?: number; description: string; valueHint?: string; cli?: boolean }): OptionSpec<number> {
  const what = o.max !== undefined ? `a number in ${o.allowZero ? "[" : "("}0, ${o.max}]` : `a ${o.allowZero ? "non-negative" : "positive"} number`;
  const valid = (v: number) => Number.isFinite(v) && (o.allowZero ? v >= 0 : v > 0) && (o.max === undefined || v <= o.max);
  return numeric({ ...o, valueHint: o.valueHint ?? "X" }, what, valid, NUMBER_TEXT);
}

/** One of a few words. */
export function choiceOption<T extends string>(o: { default: T; choices: readonly T[]; description: string; cli?: boolean }): OptionSpec<T> {
  const check = (v: unknown, name: string): T => {
    const found = o.choices.find((c) => c === v);
    if (found === undefined) throw new RangeError(`${name} must be one of ${o.choices.join(", ")}, got ${JSON.stringify(v)}`);
    return found;
  };
  return { description: o.description, valueHint: o.choices.join("|"), default: o.default, cli: o.cli, check, parse: (text, name) => check(text.trim(), name), format: String };
}

/** true or false. */
export function booleanOption(o: { default: boolean; description: string; cli?: boolean }): OptionSpec<boolean> {
  const check = (v: unknown, name: string): boolean => {
    if (typeof v !== "boolean") throw new RangeError(`${name} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    description: o.description,
    valueHint: "true|false",
    default: o.default,
    cli: o.cli,
    check,
    parse: (text, name) => check(text === "true" ? true : text === "false" ? false : text, name),
    format: String,
  };
}
