import { checkIfMatch, etagOf, parseIfMatch } from "./conditional.js";

describe("If-Match", () => {
  test("parses strong tags, lists and *; weak tags never match", () => {
    expect(parseIfMatch('"v3"')).toEqual([3]);
    expect(parseIfMatch('"v3", "v4"')).toEqual([3, 4]);
    expect(parseIfMatch("*")).toBe("any");
    expect(parseIfMatch('W/"v3"')).toEqual([]);
    expect(parseIfMatch(undefined)).toBeUndefined();
  });

  test("missing is 428 when required, stale is 412, current passes", () => {
    expect(() => checkIfMatch(undefined, 2, true)).toThrow(expect.objectContaining({ status: 428 }));
    expect(() => checkIfMatch(undefined, 2, false)).not.toThrow();
    expect(() => checkIfMatch(etagOf(1), 2, true)).toThrow(expect.objectContaining({ status: 412 }));
    expect(() => checkIfMatch("garbage", 2, true)).toThrow(expect.objectContaining({ status: 412 }));
    expect(() => checkIfMatch(etagOf(2), 2, true)).not.toThrow();
    expect(() => checkIfMatch("*", 9, true)).not.toThrow();
  });
});
