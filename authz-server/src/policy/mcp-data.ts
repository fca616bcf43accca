import type { ServerToolRules } from "../../../lib/src/mcp/tool-rules.js";
import type { DirectoryEntry } from "../directory/agent-index.js";

/**
 * The MCP part of the policy data, rebuilt from the registry whenever an MCP server changes:
 * `data.warden.mcp_servers[<name>]` (ServerToolRules) and `data.warden.mcp_external_services[<name>]`.
 * Only active servers are listed: a call to any other is refused as destination_unknown.
 */
export interface McpPolicyData {
  mcp_servers: Record<string, ServerToolRules>;
  mcp_external_services: Record<string, string[]>;
}

/** What a server without usable rules gets: every tool, prompt and resource refused. */
export const DENY_ALL_RULES: ServerToolRules = Object.freeze({
  default: "deny",
  tools: {},
  prompts: {},
  resources: {},
}) as ServerToolRules;

export const NO_MCP_DATA: McpPolicyData = Object.freeze({ mcp_servers: {}, mcp_external_services: {} });

export interface McpDataProblem {
  name: string;
  problem: string;
}

/**
 * Routes name an MCP server by its name (`/mcp/<name>/`), so two active servers of one name are
 * ambiguous: neither is listed (fail closed) and the problem is reported.
 */
export function mcpPolicyData(servers: Iterable<DirectoryEntry>): {
  data: McpPolicyData;
  problems: McpDataProblem[];
} {
  const byName = new Map<string, DirectoryEntry[]>();
  for (const entry of servers) {
    if (entry.agent.kind !== "mcp_server" || entry.agent.status !== "active") continue;
    byName.set(entry.agent.name, [...(byName.get(entry.agent.name) ?? []), entry]);
  }
  const data: McpPolicyData = { mcp_servers: {}, mcp_external_services: {} };
  const problems: McpDataProblem[] = [];
  for (const [name, entries] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (entries.length > 1) {
      problems.push({
        name,
        problem: `${entries.length} active MCP servers share this name; none is served`,
      });
      continue;
    }
    const entry = entries[0]!;
    // Own properties, whatever the name ("__proto__" included).
    define(data.mcp_servers, name, entry.mcp?.toolRules ?? DENY_ALL_RULES);
    define(data.mcp_external_services, name, entry.mcp?.externalServices ?? []);
  }
  return { data, problems };
}

function define<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
