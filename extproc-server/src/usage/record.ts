/**
 * Token counts of one LLM call, normalised across providers so one price table applies:
 *
 * - `inputTokens`: prompt tokens billed at the plain input price (cache reads and cache writes
 *   excluded: OpenAI's `prompt_tokens` minus `cached_tokens`; Anthropic's `input_tokens`; Google's
 *   `promptTokenCount` minus `cachedContentTokenCount`).
 * - `cachedInputTokens`: prompt tokens read from the provider's cache (cheaper).
 * - `cacheWriteTokens`: prompt tokens written to the cache (Anthropic `cache_creation_input_tokens`).
 * - `outputTokens`: every billed output token, reasoning included (Google's `thoughtsTokenCount` is
 *   added, as Google bills it as output; OpenAI already counts reasoning in `completion_tokens`).
 * - `reasoningTokens`: the part of `outputTokens` spent on reasoning, for reports only.
 */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly cacheWriteTokens: number;
  readonly outputTokens: number;
  readonly reasoningTokens: number;
}

export const NO_TOKENS: TokenUsage = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/** How the exchange ended, as far as usage is concerned. */
export type UsageOutcome =
  /** The response arrived whole. */
  | "completed"
  /** The stream or body stopped early (client gone, upstream cut, timeout): usage is what was seen. */
  | "cut"
  /** Warden refused or failed before the request went upstream (no upstream cost). */
  | "not_forwarded";

/**
 * One row per LLM request: who (from the ext_authz decision, never from agent headers), what (provider,
 * operation, model), how much (tokens; cost is added from the versioned price table when the row is
 * stored), how it went. `usageSource` says where the numbers come from, so "100% attributed" can be
 * checked: every request has a row, and a row with `usageSource: "none"` is visible as unpriced.
 */
export interface UsageRecord {
  readonly decisionId: string;
  readonly startedAt: string;
  readonly agentSpiffeId: string | null;
  readonly agentId: string | null;
  readonly tenant: string | null;
  readonly userId: string | null;
  readonly delegationId: string | null;
  readonly provider: string;
  /** `chat`, `responses`, `embeddings`, `messages`, `generate`, or `other` (e.g. a model listing). */
  readonly operation: string;
  /** The model the agent asked for (body or path). */
  readonly requestedModel: string | null;
  /** The model the provider says answered (it may add a version suffix). */
  readonly responseModel: string | null;
  readonly stream: boolean;
  /** Upstream HTTP status, 0 when no response came. */
  readonly status: number;
  readonly outcome: UsageOutcome;
  readonly usage: TokenUsage;
  /** `body`: read from the JSON body; `stream`: from SSE events; `none`: the provider reported nothing we saw. */
  readonly usageSource: "body" | "stream" | "none";
  /** From request headers to the end of the exchange. */
  readonly latencyMs: number;
  /** From request headers to response headers; null when no response came. */
  readonly timeToFirstByteMs: number | null;
}

/** Where usage records go: the log for now; the audit store and usage table when the control plane has them. */
export interface UsageSink {
  record(record: UsageRecord): void;
}
