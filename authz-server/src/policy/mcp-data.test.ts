import type { DirectoryEntry } from "../directory/agent-index.js";
import { NO_KYA } from "../identity/source.js";
import { serverToolRulesSchema } from "../../../lib/src/mcp/tool-rules.js";
import { mcpServerFacts } from "../directory/registry-rows.js";
import { DENY_ALL_RULES, mcpPolicyData } from "./mcp-data.js";

function server(
  name: string,
  overrides: {
    status?: DirectoryEntry["agent"]["status"];
    tool_rules?: unknown;
    external_services?: string[];
  } = {},
  n = 1,
): DirectoryEntry {
  return {
    agent: {
      id: `id-${name}-${n}`,
      spiffe_id: `spiffe://warden.local/mcp/${name}-${n}`,
      kind: "mcp_server",
      name,
      owner: "o",
      team: "t",
      type: "mcp",
      environment: "prod",
      tenant: "acme",
      status: overrides.status ?? "active",
      capabilities: [],
    },
    kya: NO_KYA,
    mcp: mcpServerFacts({ tool_rules: overrides.tool_rules, external_services: overrides.external_services }),
  };
}

const RULES = { default: "allow", tools: { "delete_*": { deny: true } } };

describe("the MCP policy data from the registry", () => {
  test("active servers are listed with their validated rules and external services", () => {
    const { data, problems } = mcpPolicyData([
      server("files", { tool_rules: RULES, external_services: ["google-drive"] }),
    ]);
    expect(problems).toEqual([]);
    expect(data.mcp_servers.files).toEqual(serverToolRulesSchema.parse(RULES));
    expect(data.mcp_external_services.files).toEqual(["google-drive"]);
  });

  test("suspended, revoked and archived servers are not listed (their calls are destination_unknown)", () => {
    const { data } = mcpPolicyData(
      (["suspended", "revoked", "archived"] as const).map((status) =>
        server(status, { status, tool_rules: RULES }),
      ),
    );
    expect(data.mcp_servers).toEqual({});
  });

  test("a server without rules, or with a stored document that does not validate, refuses every tool", () => {
    const invalid = server("bad", { tool_rules: { default: "allow", tools: { "a*b": {} } } });
    expect(invalid.mcp?.toolRulesProblem).toMatch(/wildcard/);
    const { data } = mcpPolicyData([server("none"), invalid]);
    expect(data.mcp_servers).toEqual({ bad: DENY_ALL_RULES, none: DENY_ALL_RULES });
  });

  test("two active servers of one name are ambiguous: neither is served, and the problem is reported", () => {
    const { data, problems } = mcpPolicyData([
      server("dup", { tool_rules: RULES }, 1),
      server("dup", { tool_rules: RULES }, 2),
    ]);
    expect(data.mcp_servers).toEqual({});
    expect(problems).toEqual([{ name: "dup", problem: expect.stringContaining("share this name") }]);
  });

  test("a server named like an Object property is an ordinary entry", () => {
    const { data } = mcpPolicyData([server("__proto__", { tool_rules: RULES })]);
    expect(Object.keys(data.mcp_servers)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(data.mcp_servers)).toBe(Object.prototype);
  });
});
