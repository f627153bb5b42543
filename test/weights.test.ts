import { describe, expect, it } from "bun:test";
import { DEFAULT_WEIGHTS, formatWeights, normalizeWeights, parseWeights } from "../src/methods/similarity/weights.ts";

describe("parseWeights", () => {
  it("reads the defaults' spelling as the defaults", () => {
    expect(parseWeights("interests=0.5,courses=0.3,assessments=0.2")).toEqual({ ...DEFAULT_WEIGHTS });
  });

  it("normalizes the weights to sum to 1", () => {
    expect(parseWeights("interests=5,courses=3,assessments=2")).toEqual({ interests: 0.5, courses: 0.3, assessments: 0.2 });
    const w = parseWeights("interests=1,courses=1,assessments=1");
    expect(w.interests).toBe(1 / 3);
    expect(w.courses).toBe(1 / 3);
    expect(w.assessments).toBe(1 / 3);
  });

  it("gives blocks that are not named weight 0", () => {
    expect(parseWeights("courses=2")).toEqual({ interests: 0, courses: 1, assessments: 0 });
    expect(parseWeights("assessments=1,interests=3")).toEqual({ interests: 0.75, courses: 0, assessments: 0.25 });
  });

  it("accepts an explicit zero, names in any order, whitespace, and scientific notation", () => {
    expect(parseWeights(" assessments = 0 , interests=1e0,courses=.5 ")).toEqual({ interests: 1 / 1.5, courses: 0.5 / 1.5, assessments: 0 });
    expect(parseWeights("interests=2.")).toEqual({ interests: 1, courses: 0, assessments: 0 });
  });

  it("round-trips through formatWeights", () => {
    const w = parseWeights("interests=0.6,courses=0.4");
    expect(parseWeights(formatWeights(w))).toEqual(w);
  });

  const rejections: [string, string, RegExp][] = [
    ["an empty string", "", /empty; expected e\.g\. interests=0\.5/],
    ["blank text", "   ", /empty/],
    ["an unknown block", "interests=1,videos=2", /unknown block "videos".*expected one of interests, courses, assessments/],
    ["a misspelt block (names are exact)", "Interests=1", /unknown block "Interests"/],
    ["a duplicated block", "courses=1,courses=2", /block "courses" is given more than once/],
    ["a negative value", "interests=-0.5,courses=1", /interests must not be negative, got -0\.5/],
    ["NaN", "interests=NaN", /interests must be a non-negative number, got "NaN"/],
    ["Infinity", "courses=Infinity", /courses must be a non-negative number, got "Infinity"/],
    ["an overflowing number", "courses=1e999", /courses is too large \(1e999\)/],
    ["a non-number", "assessments=high", /assessments must be a non-negative number, got "high"/],
    ["a hex number", "assessments=0x10", /must be a non-negative number, got "0x10"/],
    ["a trailing unit", "interests=0.5x", /got "0\.5x"/],
    ["a missing value", "interests=", /interests has no value/],
    ["a missing name", "=0.5", /entry 1 \("=0\.5"\) has no block name/],
    ["a missing '='", "interests:0.5", /entry 1 \("interests:0\.5"\) has no "="/],
    ["an empty entry (trailing comma)", "interests=1,", /entry 2 is empty/],
    ["an empty entry (double comma)", "interests=1,,courses=1", /entry 2 is empty/],
    ["all zero", "interests=0,courses=0,assessments=0", /all weights are zero/],
    ["a single zero", "courses=0", /all weights are zero/],
    // Each is finite; their sum is not, which used to divide every weight to 0.
    ["weights whose sum overflows", "interests=1e308,courses=1e308", /weights: their sum overflows \(past 1\.8e308\); weights are relative/],
  ];
  for (const [what, text, message] of rejections) {
    it(`rejects ${what}, saying what is wrong`, () => {
      expect(() => parseWeights(text)).toThrow(message);
      expect(() => parseWeights(text)).toThrow(RangeError);
    });
  }
});

describe("normalizeWeights", () => {
  it("fills missing blocks with 0 and normalizes", () => {
    expect(normalizeWeights({ interests: 1, courses: 3 })).toEqual({ interests: 0.25, courses: 0.75, assessments: 0 });
  });

  it("rejects unknown blocks, negatives, non-finite values and all zeros", () => {
    expect(() => normalizeWeights({ videos: 1 })).toThrow(/unknown block "videos"/);
    expect(() => normalizeWeights({ interests: -1, courses: 2 })).toThrow(/interests must not be negative/);
    expect(() => normalizeWeights({ interests: Number.NaN })).toThrow(/interests must be a finite number, got NaN/);
    expect(() => normalizeWeights({ courses: Number.POSITIVE_INFINITY })).toThrow(/courses must be a finite number/);
    expect(() => normalizeWeights({})).toThrow(/all weights are zero/);
  });
});
