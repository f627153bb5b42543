/**
 * Block weights of the similarity: w_interests, w_courses, w_assessments, non-negative, not all
 * zero, normalized to sum to 1 so that scores stay in [0, 1].
 */
import { BLOCK_NAMES, type BlockName } from "../../matrix/interactions.ts";

export type Weights = Record<BlockName, number>;

/** The defaults of the contract: interests 0.5, courses 0.3, assessments 0.2. */
export const DEFAULT_WEIGHTS: Readonly<Weights> = Object.freeze({ interests: 0.5, courses: 0.3, assessments: 0.2 });

/** The `--weights` spelling of a weight set, e.g. `interests=0.5,courses=0.3,assessments=0.2`. */
export function formatWeights(w: Weights): string {
  return BLOCK_NAMES.map((b) => `${b}=${w[b]}`).join(",");
}

const EXAMPLE = "interests=0.5,courses=0.3,assessments=0.2";
// Plain decimal or scientific notation; signs are handled separately for a precise message.
const NUMBER = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function isBlockName(name: string): name is BlockName {
  return (BLOCK_NAMES as readonly string[]).includes(name);
}

/**
 * Validates weights given as an object and normalizes them to sum to 1. Blocks not mentioned get
 * weight 0. Throws a `RangeError` naming the offending block for an unknown name or a negative,
 * non-finite or non-numeric value, and when every weight is zero.
 */
export function normalizeWeights(given: Partial<Record<string, number>>): Weights {
  const w: Weights = { interests: 0, courses: 0, assessments: 0 };
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (!isBlockName(name)) throw new RangeError(`weights: unknown block "${name}" (expected ${BLOCK_NAMES.join(", ")})`);
    if (typeof value !== "number" || !Number.isFinite(value)) throw new RangeError(`weights: ${name} must be a finite number, got ${String(value)}`);
    if (value < 0) throw new RangeError(`weights: ${name} must not be negative, got ${value}`);
    w[name] = value;
  }
  const sum = w.interests + w.courses + w.assessments;
  if (sum === 0) throw new RangeError(`weights: all weights are zero; give at least one positive weight, e.g. ${EXAMPLE}`);
  // Finite weights can still overflow their sum (1e308 + 1e308), which would divide them all to 0.
  if (!Number.isFinite(sum)) throw new RangeError(`weights: their sum overflows (past 1.8e308); weights are relative, so use smaller numbers, e.g. ${EXAMPLE}`);
  // Division by an exact 1 (the defaults) leaves the values untouched.
  for (const b of BLOCK_NAMES) w[b] = w[b] / sum;
  return w;
}

/**
 * Parses `name=value[,name=value…]` (names: interests, courses, assessments; each at most once;
 * values non-negative decimal numbers, not all zero) and normalizes the weights to sum to 1.
 * Blocks not named get weight 0, so `courses=1` ranks by courses alone. Whitespace around names,
 * values and commas is ignored. Every rejection is a `RangeError` saying exactly what is wrong.
 *
 * @example parseWeights("interests=0.5,courses=0.3,assessments=0.2") // { interests: 0.5, courses: 0.3, assessments: 0.2 }
 * @example parseWeights("interests=2,courses=2") // { interests: 0.5, courses: 0.5, assessments: 0 }
 */
export function parseWeights(text: string): Weights {
  if (text.trim() === "") throw new RangeError(`weights: empty; expected e.g. ${EXAMPLE}`);
  const given: Partial<Record<BlockName, number>> = {};
  const entries = text.split(",");
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i].trim();
    const where = `entry ${i + 1} ("${entry}")`;
    if (entry === "") throw new RangeError(`weights: entry ${i + 1} is empty; expected name=value pairs separated by commas, e.g. ${EXAMPLE}`);
    const eq = entry.indexOf("=");
    if (eq < 0) throw new RangeError(`weights: ${where} has no "="; expected name=value, e.g. interests=0.5`);
    const name = entry.slice(0, eq).trim();
    const raw = entry.slice(eq + 1).trim();
    if (name === "") throw new RangeError(`weights: ${where} has no block name; expected one of ${BLOCK_NAMES.join(", ")}`);
    if (!isBlockName(name)) throw new RangeError(`weights: unknown block "${name}" in ${where}; expected one of ${BLOCK_NAMES.join(", ")}`);
    if (given[name] !== undefined) throw new RangeError(`weights: block "${name}" is given more than once`);
    if (raw === "") throw new RangeError(`weights: ${name} has no value; expected a non-negative number`);
    if (raw.startsWith("-") && NUMBER.test(raw.slice(1))) throw new RangeError(`weights: ${name} must not be negative, got ${raw}`);
    if (!NUMBER.test(raw)) throw new RangeError(`weights: ${name} must be a non-negative number, got "${raw}"`);
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new RangeError(`weights: ${name} is too large (${raw})`);
    given[name] = value;
  }
  return normalizeWeights(given);
}
