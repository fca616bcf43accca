import type { LoadedPolicy } from "./engine.js";
import { PolicyHolder } from "./holder.js";
import { NO_MCP_DATA, type McpPolicyData } from "./mcp-data.js";
import type { PolicyConfig } from "./policy-data.js";

function fakePolicy(revision: string): LoadedPolicy & { applied: McpPolicyData[] } {
  const applied: McpPolicyData[] = [];
  return {
    revision,
    config: {} as PolicyConfig,
    applied,
    evaluate: () => ({ allow: false, status: 403, reason: "x", headers: {}, metadata: {} }),
    setMcpData: (data) => applied.push(data),
  };
}

const FILES: McpPolicyData = {
  mcp_servers: { files: { default: "allow", tools: {}, prompts: {}, resources: {} } },
  mcp_external_services: { files: [] },
};

describe("the policy holder keeps the registry's MCP rules as policy data", () => {
  test("a registry change is applied to the serving policy at once", () => {
    const policy = fakePolicy("a");
    const holder = new PolicyHolder({ initial: policy });
    holder.setMcpData(FILES);
    expect(policy.applied.at(-1)).toBe(FILES);
  });

  test("a new bundle gets the current MCP rules before it serves", async () => {
    const next = fakePolicy("b");
    const holder = new PolicyHolder({ initial: fakePolicy("a"), loader: async () => next });
    holder.setMcpData(FILES);
    expect(await holder.load(Buffer.from("bundle"), { requireSignature: false })).toBe(true);
    expect(holder.current()).toBe(next);
    expect(next.applied).toEqual([FILES]);
  });

  test("before any registry load, a bundle serves with no MCP servers (every MCP call is refused)", () => {
    const policy = fakePolicy("a");
    new PolicyHolder({ initial: policy });
    expect(policy.applied).toEqual([NO_MCP_DATA]);
  });
});
