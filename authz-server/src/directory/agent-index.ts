import type { ServerToolRules } from "../../../lib/src/mcp/tool-rules.js";
import type { AgentDirectory, AgentRecord, KyaFacts } from "../identity/source.js";

/**
 * The in-memory index the data plane decides from: SPIFFE ID → registration and KYA facts.
 * Lookups are a single Map read; writers (the registry feed, a static file) replace whole entries,
 * so a request sees an entry either before or after an update, never half of it.
 */
export interface DirectoryEntry {
  agent: AgentRecord;
  kya: KyaFacts;
  /** MCP servers only. */
  mcp?: McpServerFacts;
}

export interface McpServerFacts {
  /** Validated tool rules; null when none are stored or the stored document is invalid. */
  toolRules: ServerToolRules | null;
  /** Why a stored document was refused (the server's tools are then all refused); else null. */
  toolRulesProblem: string | null;
  /** Audience of bearer tokens minted for the server (RFC 8707 resource), or null. */
  resourceUri: string | null;
  /** External SaaS services the server calls on its users' behalf. */
  externalServices: string[];
}

export class AgentIndex implements AgentDirectory {
  private entries = new Map<string, DirectoryEntry>();
  private readonly mcpListeners: (() => void)[] = [];

  lookup(spiffeId: string): DirectoryEntry | undefined {
    return this.entries.get(spiffeId);
  }

  upsert(entry: DirectoryEntry): void {
    const before = this.entries.get(entry.agent.spiffe_id);
    this.entries.set(entry.agent.spiffe_id, entry);
    if (isMcpServer(before) || isMcpServer(entry)) this.mcpChanged();
  }

  remove(spiffeId: string): void {
    const before = this.entries.get(spiffeId);
    this.entries.delete(spiffeId);
    if (isMcpServer(before)) this.mcpChanged();
  }

  /** Atomically replaces the whole index (initial load, periodic resync). */
  replaceAll(entries: Iterable<DirectoryEntry>): void {
    const next = new Map<string, DirectoryEntry>();
    for (const entry of entries) next.set(entry.agent.spiffe_id, entry);
    this.entries = next;
    this.mcpChanged();
  }

  /** Every registered MCP server (any status). */
  mcpServers(): DirectoryEntry[] {
    return [...this.entries.values()].filter(isMcpServer);
  }

  /** Called after any change that may touch an MCP server (the policy data is rebuilt from them). */
  onMcpServersChanged(listener: () => void): void {
    this.mcpListeners.push(listener);
  }

  get size(): number {
    return this.entries.size;
  }

  private mcpChanged(): void {
    for (const listener of this.mcpListeners) listener();
  }
}

function isMcpServer(entry: DirectoryEntry | undefined): entry is DirectoryEntry {
  return entry?.agent.kind === "mcp_server";
}
