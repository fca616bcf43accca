import type { RateLimitDefinition } from "./definitions.js";
import { applicableLimits, groupByTenant, type LimitSubjects } from "./applicable.js";

const limit = (overrides: Partial<RateLimitDefinition>): RateLimitDefinition => ({
  tenant: "acme",
  scope: "tenant",
  subject: "acme",
  unit: "requests",
  perMinute: 100,
  failureMode: "open",
  ...overrides,
});

const limits = groupByTenant([
  limit({}),
  limit({ scope: "team", subject: "red", failureMode: "closed" }),
  limit({ scope: "team", subject: "blue" }),
  limit({ scope: "agent", subject: "spiffe://warden.local/agent/bot", unit: "tokens", perMinute: 5000 }),
  limit({ scope: "route", subject: "openai" }),
  limit({ scope: "tool", subject: "delete_file", failureMode: "closed" }),
  limit({ tenant: "globex", subject: "globex" }),
]);

const llmCall: LimitSubjects = {
  tenant: "acme",
  team: "red",
  agentSpiffeId: "spiffe://warden.local/agent/bot",
  route: "openai",
  tool: null,
  kind: "llm",
};

describe("the limits a request falls under", () => {
  test("an LLM call of team red falls under its tenant's, team's, agent's (tokens) and route's limits", () => {
    expect(applicableLimits(limits, llmCall)).toEqual([
      { scope: "tenant", subject: "acme", unit: "requests", per_minute: 100, failure_mode: "open" },
      { scope: "team", subject: "red", unit: "requests", per_minute: 100, failure_mode: "closed" },
      {
        scope: "agent",
        subject: "spiffe://warden.local/agent/bot",
        unit: "tokens",
        per_minute: 5000,
        failure_mode: "open",
      },
      { scope: "route", subject: "openai", unit: "requests", per_minute: 100, failure_mode: "open" },
    ]);
  });

  test("another tenant's limits never apply, whatever the subjects", () => {
    const scopes = applicableLimits(limits, { ...llmCall, tenant: "globex" }).map((l) => l.subject);
    expect(scopes).toEqual(["globex"]);
  });

  test("token limits apply to LLM routes only; tool limits to MCP routes only", () => {
    const saas = applicableLimits(limits, { ...llmCall, kind: "saas", tool: "delete_file" });
    expect(saas.map((l) => l.unit)).not.toContain("tokens");
    expect(saas.map((l) => l.scope)).not.toContain("tool");
    const mcp = applicableLimits(limits, {
      ...llmCall,
      kind: "mcp",
      route: "mcp-files",
      tool: "delete_file",
    });
    expect(mcp.find((l) => l.scope === "tool")).toMatchObject({
      subject: "delete_file",
      failure_mode: "closed",
    });
  });

  test("a request without a tenant reads the limits of `unknown`", () => {
    const unknown = groupByTenant([limit({ tenant: "unknown", subject: "unknown" })]);
    expect(applicableLimits(unknown, { ...llmCall, tenant: null })).toHaveLength(1);
  });
});
