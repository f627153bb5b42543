import { describe, expect, it } from "bun:test";
import { compareBytes, compareHandles } from "../src/handles.ts";

describe("canonical handle order", () => {
  it("orders integer handles numerically", () => {
    expect(["10", "9", "110", "2"].sort(compareHandles)).toEqual(["2", "9", "10", "110"]);
  });

  it("orders other handles by UTF-8 bytes, after all integers", () => {
    expect(["b", "1a", "10", "B", "2", "é", "a"].sort(compareHandles)).toEqual(["2", "10", "1a", "B", "a", "b", "é"]);
  });

  it("is a total order even where 'numeric else bytes' would cycle (2 < 10 < 1a < 2)", () => {
    const xs = ["2", "10", "1a"];
    for (const a of xs) for (const b of xs) for (const c of xs) {
      if (compareHandles(a, b) < 0 && compareHandles(b, c) < 0) expect(compareHandles(a, c)).toBeLessThan(0);
    }
  });

  it("compares integers beyond 2^53 exactly and breaks equal values by spelling", () => {
    expect(compareHandles("90071992547409931", "90071992547409930")).toBeGreaterThan(0);
    expect(compareHandles("007", "7")).toBeLessThan(0);
    expect(compareHandles("-3", "2")).toBeLessThan(0);
  });

  it("compares non-ASCII text by bytes, not UTF-16 code units", () => {
    // U+FF5E is one UTF-16 unit above the surrogates of U+1F600 but its UTF-8 bytes are smaller.
    expect(compareBytes("\uff5e", "😀")).toBeLessThan(0);
    expect("\uff5e" < "😀").toBe(false);
  });
});
