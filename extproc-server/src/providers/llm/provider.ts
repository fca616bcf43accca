import { performance } from "node:perf_hooks";
import type { BudgetGuard } from "../../budgets/budget-guard.js";
import type { BudgetReservations } from "../../budgets/budget-reserver.js";
import type { LlmKeySource } from "../../credentials/key-source.js";
import type { ExchangeHooks, ExchangeStart, Provider } from "../../providers.js";
import type { TokenCharges } from "../../ratelimit/token-charges.js";
import type { TokenCounter } from "../../usage/estimate.js";
import type { UsageSink } from "../../usage/record.js";
import type { LlmApi } from "./api.js";
import { refuseUnknownService } from "../response-scrub.js";
import { LlmExchange, type LlmExchangeDeps } from "./exchange.js";
import { LLM_APIS } from "./registry.js";

export interface LlmProviderOptions {
  keys: LlmKeySource;
  usage: UsageSink;
  defaultTenant?: string | null;
  budgets?: BudgetGuard | null;
  reservations?: BudgetReservations | null;
  /** Where calls' tokens are charged against token rate limits. */
  tokenCharges?: TokenCharges;
  apis?: ReadonlyMap<string, LlmApi>;
  monotonicMs?: () => number;
  wallClock?: () => Date;
  /** The tokenizer for usage estimates (default: loaded on first use). */
  tokenCounter?: () => Promise<TokenCounter>;
}

/**
 * Attaches an LlmExchange to every exchange on an LLM route (`kind: "llm"` in the ext_authz
 * decision, which comes from the Envoy route, never from the agent), with the module of its service.
 */
export class LlmProvider implements Provider {
  readonly name = "llm";
  private readonly apis: ReadonlyMap<string, LlmApi>;
  private readonly shared: Omit<LlmExchangeDeps, "api">;

  constructor(options: LlmProviderOptions) {
    this.apis = options.apis ?? LLM_APIS;
    this.shared = {
      keys: options.keys,
      usage: options.usage,
      defaultTenant: options.defaultTenant ?? null,
      budgets: options.budgets ?? null,
      reservations: options.reservations ?? null,
      monotonicMs: options.monotonicMs ?? (() => performance.now()),
      wallClock: options.wallClock ?? (() => new Date()),
      ...(options.tokenCounter ? { tokenCounter: options.tokenCounter } : {}),
      ...(options.tokenCharges ? { tokenCharges: options.tokenCharges } : {}),
    };
  }

  attach({ handOff, requestHeaders }: ExchangeStart): ExchangeHooks | null {
    if (handOff.kind !== "llm") return null;
    const service = handOff.service ?? "";
    const api = this.apis.get(service);
    // Nothing could put a key in, so nothing goes upstream.
    if (!api) return refuseUnknownService(`no LLM provider module for service ${service}`);
    return new LlmExchange(handOff, requestHeaders, { ...this.shared, api });
  }
}
