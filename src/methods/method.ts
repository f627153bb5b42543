/**
 * What every ranking method is (the `implicit` shape: one small surface every model shares).
 *
 * A method declares its name, its options (defaults, validation, CLI spelling) and `fit`, which
 * turns a {@link Dataset} into a {@link Model}. A model ranks every user's top-n (`rankAll`) and
 * answers one user's top-n on demand (`similarUsers`), with filters as an eligibility mask. The
 * pipeline, evaluation, CLI and API only ever see this interface, through the registry.
 */
import type { Dataset } from "../dataset.ts";
import type { BlockName } from "../matrix/interactions.ts";
import type { Profile, UnknownItems } from "../profile.ts";
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
  /**
   * Set when the option only has an effect while another option has one of these values (e.g.
   * BPR's epochs with training "bpr"): the CLI refuses such a flag otherwise instead of ignoring it.
   * The library accepts it (a stored run's params hold every option).
   */
  readonly appliesWhen?: { readonly option: string; readonly values: readonly unknown[] };
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
  /**
   * Rank only users [start, end) (a shard's slice), each exactly as the whole ranking ranks them;
   * the other users get no neighbours. Default: every user.
   */
  rows?: { start: number; end: number };
}

/** Options of {@link Model.similarUsers}. */
export interface QueryOptions {
  /** How many (default 10); any number up to all users. */
  n?: number;
  /** Only users whose entry is 1 may be returned (the user itself never is). */
  eligible?: Uint8Array | null;
  /** Only users scoring at least this much. */
  minScore?: number;
}

/**
 * Someone who is not (or not as such) in the data, placed in a fitted model's space by
 * {@link Model.foldIn}: a query subject like a user id, for {@link Model.similarUsers},
 * {@link Model.explain} and recommendations.
 */
export interface FoldedProfile {
  /** The method that folded it in (a folded profile only fits its own model). */
  readonly method: string;
  /** The profile as given. */
  readonly profile: Profile;
  /** Items of the profile the model does not know; they are left out (reported, not fatal). */
  readonly unknown: UnknownItems;
}

/** Whom a query is about: a user id of the model's dataset, or a folded-in profile. */
export type Subject = number | FoldedProfile;

/** One item's part in an {@link Explanation}. */
export interface ExplainedItem {
  /** Item key: `interest:<tag>`, `course:<id>`, `tag:<course tag>`, `assessment:<tag>`. */
  item: string;
  block: BlockName;
  /** Its contribution to the score (see {@link Explanation}). */
  contribution: number;
  /** Whether both users have the item. */
  shared: boolean;
}

/**
 * Why two users are similar: the score split into the blocks' contributions and, within them, the
 * items'. `blocks` (plus `residual`, where the method has one) add up to `score`; each block is
 * the sum of all its items' contributions, of which `items` lists the largest.
 */
export interface Explanation {
  score: number;
  blocks: Record<BlockName, number>;
  /** The part no block accounts for (factorization; 0 for similarity). */
  residual: number;
  items: ExplainedItem[];
  /** What the numbers mean for this method, in one sentence. */
  meaning: string;
}

/** Options of {@link Model.explain}. */
export interface ExplainOptions {
  /** Items listed, largest contribution first (default 10). */
  items?: number;
}

/** The arrays a fitted model needs besides its dataset and params to answer queries later (see {@link Method.restore}). */
export interface ModelState {
  arrays: Record<string, Float64Array>;
  /** Small JSON-serializable facts of the fit (e.g. per-epoch statistics). */
  meta: Record<string, unknown>;
}

/** Item namespaces that can be recommended. */
export type ItemKind = "courses" | "interests" | "assessments";

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
  /**
   * One user's (or a folded profile's) top-n, filtered by `eligible` and `minScore`; for a user id
   * exactly as {@link rankAll} ranks them (same scores, same tie order).
   */
  similarUsers(subject: Subject, options?: QueryOptions): QueryResult;
  /**
   * Places a profile in the model's space without refitting (similarity: one more row of the
   * matrix; factorization: its factors fitted with every other parameter fixed). Deterministic.
   * Optional: a method without it cannot answer for new users (the API says so).
   */
  foldIn?(profile: Profile): FoldedProfile;
  /** Why `other` is similar to `subject` (see {@link Explanation}). */
  explain?(subject: Subject, other: number, options?: ExplainOptions): Explanation;
  /**
   * The model's own score of every item of `kind` for `subject` (ids in the dataset's vocabulary
   * of that kind), where the method has one (factorization's ŷ); else undefined.
   */
  scoreItems?(subject: Subject, kind: ItemKind): Float64Array;
  /** A reason the fit is unusable (e.g. training diverged), or null/undefined if it is sound. */
  problem?(): string | null;
  /**
   * What to keep so that {@link Method.restore} gives back this model from the same dataset.
   * Without it (and `restore`), a stored run's model is fitted again from its recorded options,
   * which gives the same model only for a deterministic method.
   */
  state?(): ModelState;
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
  /**
   * The values of options a stored run lacks because it was recorded before they existed (its
   * model must be rebuilt as it was made, not with today's defaults).
   */
  readonly recordedDefaults?: Partial<O>;
  /**
   * Checks options against each other once each is valid on its own, knowing which were given
   * (`given`) and which are defaults; returns the options to use (e.g. a default that does not
   * apply dropped). Throws a RangeError naming the options at fault.
   */
  combine?(options: O, given: Partial<Record<string, unknown>>): O;
  /** Fits a model; `options` are checked and completed with defaults first ({@link resolveOptions}). */
  fit(dataset: Dataset, options: O, context?: FitContext): Promise<Model>;
  /**
   * The model {@link Model.state} described, on the dataset it was fitted on (the caller checks
   * that by fingerprint): the same answers, without fitting again.
   */
  restore?(dataset: Dataset, options: O, state: ModelState): Model;
}

/** Throws a RangeError unless `user` is a user id of `dataset`. */
export function checkUser(user: number, dataset: Dataset): void {
  if (!Number.isInteger(user) || user < 0 || user >= dataset.users.length) throw new RangeError(`user id ${user} is not a user of this dataset (0..${dataset.users.length - 1})`);
}

/** Checks a subject: a user id of `dataset`, or a profile folded in by the method `method`. */
export function checkSubject(subject: Subject, dataset: Dataset, method: string): void {
  if (typeof subject === "number") checkUser(subject, dataset);
  else if (subject.method !== method) throw new RangeError(`a profile folded in by ${subject.method} cannot be asked of a ${method} model`);
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
  return method.combine ? method.combine(out as O, given) : (out as O);
}

/** `learningRate` → `learning-rate`: the CLI spelling of an option. */
export function flagName(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

// Option kinds the methods share.

/**
 * Largest seed: the generators (src/random.ts) fold a seed to 32 bits, so 2^32 would silently be
 * seed 0 again; a larger seed is refused rather than aliased.
 */
export const MAX_SEED = 0xffff_ffff;

/** A random-seed option: an integer in 0..{@link MAX_SEED}. */
export function seedOption(o: { default: number; description: string }): OptionSpec<number> {
  return integerOption({ ...o, min: 0, max: MAX_SEED, valueHint: "S" });
}

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

/** An integer option ≥ `min`, and ≤ `max` if given (options that size memory or time have one). */
export function integerOption(o: { default: number; min: number; max?: number; description: string; valueHint?: string; cli?: boolean }): OptionSpec<number> {
  const max = o.max ?? Infinity;
  const what = max < Infinity ? `an integer in ${o.min}..${max}` : `an integer ≥ ${o.min}`;
  return numeric({ ...o, valueHint: o.valueHint ?? "N" }, what, (v) => Number.isInteger(v) && v >= o.min && v <= max, INTEGER_TEXT);
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
