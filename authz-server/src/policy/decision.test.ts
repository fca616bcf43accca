import { decisionFromResults, decisionProblems } from "./decision.js";

const allow = { allow: true, status: 200, reason: "ok", headers: { "x-warden-tier": "gold" }, metadata: {} };

describe("the policy's decision, checked before anyone acts on it", () => {
  it("keeps a well-formed allow, its five fields only, stamped with the revision", () => {
    const decision = decisionFromResults([{ result: { ...allow, extra: "dropped" } }], "rev-1");
    expect(decision).toEqual({ ...allow, metadata: { policy_revision: "rev-1" } });
  });

  it("keeps a well-formed denial", () => {
    const denial = { allow: false, status: 403, reason: "kya_missing", headers: {}, metadata: { x: 1 } };
    expect(decisionFromResults([{ result: denial }], "r")).toMatchObject({ allow: false, status: 403 });
  });

  it.each([
    ["an allow with an error status", { ...allow, status: 403 }, /allow must carry a 2xx/],
    ["a denial with a success status", { ...allow, allow: false, status: 200 }, /denial must carry a 4xx/],
    ["a status out of range", { ...allow, status: 99 }, /status: expected an integer/],
    ["a fractional status", { ...allow, status: 200.5 }, /status: expected an integer/],
    ["allow as a string", { ...allow, allow: "true" }, /allow: expected a boolean/],
    ["an empty reason", { ...allow, reason: "" }, /reason: expected a non-empty string/],
    [
      "an upper-case header name",
      { ...allow, headers: { "X-Tier": "a" } },
      /header names must be lower-case/,
    ],
    [
      "a header value that is not a string",
      { ...allow, headers: { "x-n": 1 } },
      /headers\.x-n: expected a string/,
    ],
    ["headers as an array", { ...allow, headers: [] }, /headers: expected an object/],
    ["no metadata", { ...allow, metadata: undefined }, /metadata: expected an object/],
    ["not an object", "allow", /decision: expected an object/],
  ])("turns %s into a 500 denial that says why", (_name, result, detail) => {
    const decision = decisionFromResults([{ result }], "r");
    expect(decision).toMatchObject({ allow: false, status: 500, reason: "policy_decision_invalid" });
    expect(String(decision.metadata.detail)).toMatch(detail);
  });

  it("names at most three problems", () => {
    expect(
      decisionProblems({ allow: 1, status: "x", reason: 2, headers: null, metadata: null })?.split("; "),
    ).toHaveLength(3);
  });

  it("refuses an undefined entrypoint and a result set of several", () => {
    expect(decisionFromResults([], "r").metadata.detail).toBe("the entrypoint is undefined for this input");
    expect(decisionFromResults([{ result: allow }, { result: allow }], "r").reason).toBe(
      "policy_decision_invalid",
    );
  });
});
