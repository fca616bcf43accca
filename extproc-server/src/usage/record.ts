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
  /**
   * The stream or body stopped early, or no answer came at all (client gone, upstream cut, timeout):
   * usage is what was seen.
   */
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
  /** The agent's team, as the policy reported it in the decision. */
  readonly team: string | null;
  readonly userId: string | null;
  readonly delegationId: string | null;
  readonly provider: string;
  /** `chat`, `responses`, `embeddings`, `messages`, `generate`, or `other` (e.g. a model listing). */
  readonly operation: string;
  /** The model the agent asked for (body or path), possibly an alias. */
  readonly requestedModel: string | null;
  /** The model sent upstream: the policy's resolution of an alias, else the requested one. */
  readonly model: string | null;
  /** The model the provider says answered (it may add a version suffix). */
  readonly responseModel: string | null;
  readonly stream: boolean;
  /** The status the agent got: the upstream's, Warden's refusal (e.g. 402, 503), or 0 when neither came. */
  readonly status: number;
  /** Warden's error code when it refused the call (e.g. `budget_exceeded`), else null. */
  readonly errorCode: string | null;
  readonly outcome: UsageOutcome;
  readonly usage: TokenUsage;
  /**
   * `body`: read from the JSON body; `stream`: from SSE events; `estimated`: the provider reported
   * none (a stream left before its usage chunk, a stall, a cut), so Warden counted the request's and
   * the delivered text's tokens (usage/estimate.ts); `none`: nothing to count (an error answer, a
   * call that never went upstream).
   */
  readonly usageSource: "body" | "stream" | "estimated" | "none";
  /** From request headers to the end of the exchange. */
  readonly latencyMs: number;
  /** From request headers to response headers; null when no response came. */
  readonly timeToFirstByteMs: number | null;
}

/** Where the LLM exchange hands its record (accounting.ts prices it and passes it on). */
export interface UsageSink {
  record(record: UsageRecord): void;
}

/** A usage record with its cost from the price table. */
export interface PricedUsageRecord extends UsageRecord {
  /** Exact cost in pico-dollars (10^-12 USD); null when the price table has no price for the model. */
  readonly costPicoUsd: bigint | null;
  /** The price table's version. */
  readonly priceVersion: string;
  /** The price table entry used (a model or a `prefix*`), null when none matched. */
  readonly priceKey: string | null;
  /** The extproc-server instance that recorded it, and its sequence number there. */
  readonly recordedBy: string;
  readonly recordSeq: number;
}

/** Where priced records are stored: the audit log and usage table (db-sink.ts), or the log. */
export interface PricedUsageSink {
  record(record: PricedUsageRecord): void;
}

/** A priced record as plain JSON (the cost as a decimal string of pico-dollars: JSON numbers are doubles). */
export function usageJson(record: PricedUsageRecord): Record<string, unknown> {
  return { ...record, costPicoUsd: record.costPicoUsd === null ? null : record.costPicoUsd.toString() };
}
