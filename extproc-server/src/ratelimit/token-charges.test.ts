import { NO_TOKENS } from "../usage/record.js";
import { tokenChargeRequest } from "./token-charges.js";

const subjects = {
  tenant: "acme",
  team: "red",
  agentSpiffeId: "spiffe://warden.local/agent/bot",
  route: "openai",
};

describe("charging a call's LLM tokens to the rate-limit service", () => {
  test("every billed token is charged, less the 1 the sidecar's check already counted", () => {
    const request = tokenChargeRequest(subjects, {
      ...NO_TOKENS,
      inputTokens: 9,
      cachedInputTokens: 3,
      cacheWriteTokens: 2,
      outputTokens: 5,
      reasoningTokens: 4,
    });
    // Reasoning tokens are part of the output already.
    expect(request?.hitsAddend).toBe(18);
    expect(request?.domain).toBe("warden");
  });

  test("it charges the tenant, team, agent and route token limits the sidecar checked", () => {
    const request = tokenChargeRequest(subjects, { ...NO_TOKENS, outputTokens: 10 });
    expect(request?.descriptors).toEqual([
      {
        entries: [
          { key: "unit", value: "tokens" },
          { key: "scope", value: "tenant" },
          { key: "tenant", value: "acme" },
        ],
      },
      ...[
        ["team", "red"],
        ["agent", "spiffe://warden.local/agent/bot"],
        ["route", "openai"],
      ].map(([scope, subject]) => ({
        entries: [
          { key: "unit", value: "tokens" },
          { key: "scope", value: scope },
          { key: "tenant", value: "acme" },
          { key: "subject", value: subject },
        ],
      })),
    ]);
  });

  test("a call without tenant or team counts under the tenant `unknown`, with no team descriptor", () => {
    const request = tokenChargeRequest(
      { tenant: null, team: null, agentSpiffeId: null, route: "openai" },
      { ...NO_TOKENS, outputTokens: 3 },
    );
    expect(request?.descriptors?.map((d) => d.entries?.map((e) => e.value))).toEqual([
      ["tokens", "tenant", "unknown"],
      ["tokens", "route", "unknown", "openai"],
    ]);
  });

  test("a call that used no more than the one token already counted charges nothing", () => {
    expect(tokenChargeRequest(subjects, NO_TOKENS)).toBeNull();
    expect(tokenChargeRequest(subjects, { ...NO_TOKENS, outputTokens: 1 })).toBeNull();
  });
});
