import type { ExchangeHooks, ExchangeStart, Provider } from "../providers.js";
import { McpExchange, type McpExchangeDeps } from "./exchange.js";

/**
 * Attaches an McpExchange to every exchange on an MCP route (`kind: "mcp"` in the ext_authz
 * decision, which comes from the Envoy route, never from the agent).
 */
export class McpProvider implements Provider {
  readonly name = "mcp";

  constructor(private readonly deps: McpExchangeDeps) {}

  attach({ handOff }: ExchangeStart): ExchangeHooks | null {
    if (handOff.kind !== "mcp") return null;
    return new McpExchange(handOff, this.deps);
  }
}
