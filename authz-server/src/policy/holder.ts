import { PolicyLoadError } from "../../../lib/src/policy-bundle/errors.js";
import { loadBundle, type LoadedPolicy, type LoadOptions } from "./engine.js";
import { NO_MCP_DATA, type McpPolicyData } from "./mcp-data.js";

/**
 * Holds the policy that is serving. A new bundle is read, verified and instantiated before the
 * swap, which is a single reference assignment: evaluation is synchronous on the event loop, so a
 * request sees either the old policy or the new one, never a half-loaded one, and none is dropped.
 * A bundle that fails to load is refused and the last good policy keeps serving.
 */
export interface PolicyStatus {
  revision: string | null;
  loaded_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  swaps: number;
}

export class PolicyHolder {
  private active: LoadedPolicy | undefined;
  private loadedAt: Date | undefined;
  private lastErrorAt: Date | undefined;
  private loadsStarted = 0;
  private newestSwapped = 0;
  private swaps = 0;
  private mcpData: McpPolicyData = NO_MCP_DATA;
  /** Why the most recent load was refused; cleared by the next successful swap. */
  lastError?: string;

  private readonly loader: (bytes: Buffer, opts: LoadOptions) => Promise<LoadedPolicy>;

  constructor(
    options: {
      initial?: LoadedPolicy;
      loader?: (bytes: Buffer, opts: LoadOptions) => Promise<LoadedPolicy>;
    } = {},
  ) {
    this.loader = options.loader ?? loadBundle;
    if (options.initial) this.swap(options.initial);
  }

  current(): LoadedPolicy | undefined {
    return this.active;
  }

  get revision(): string | undefined {
    return this.active?.revision;
  }

  /**
   * The registered MCP servers' rules, kept as policy data of whichever bundle serves: applied now,
   * and to every new bundle before it is swapped in (a new bundle never serves without them).
   */
  setMcpData(data: McpPolicyData): void {
    this.mcpData = data;
    this.active?.setMcpData(data);
  }

  swap(policy: LoadedPolicy): void {
    policy.setMcpData(this.mcpData);
    this.active = policy;
    this.loadedAt = new Date();
    this.lastError = undefined;
    this.lastErrorAt = undefined;
    this.swaps += 1;
  }

  /**
   * Loads a bundle and swaps it in. Returns false (and records lastError) when it is refused.
   * When loads overlap, a slower older load never replaces a newer policy that is already serving.
   */
  async load(bytes: Buffer, opts: LoadOptions): Promise<boolean> {
    const ticket = ++this.loadsStarted;
    try {
      const policy = await this.loader(bytes, opts);
      if (ticket < this.newestSwapped) return false;
      this.newestSwapped = ticket;
      this.swap(policy);
      return true;
    } catch (error) {
      this.lastError = error instanceof PolicyLoadError ? error.describe() : `load_failed: ${String(error)}`;
      this.lastErrorAt = new Date();
      return false;
    }
  }

  status(): PolicyStatus {
    return {
      revision: this.active?.revision ?? null,
      loaded_at: this.loadedAt?.toISOString() ?? null,
      last_error: this.lastError ?? null,
      last_error_at: this.lastErrorAt?.toISOString() ?? null,
      swaps: this.swaps,
    };
  }
}
