import type { LlmApi, UsageReading } from "../providers/llm/api.js";
import { SseDecoder } from "../sse/decoder.js";
import type { TokenUsage } from "../usage/record.js";

/** Token counts for an expectation: the ones named, zero for the rest. */
export function tokenUsage(counts: Partial<TokenUsage>): TokenUsage {
  return {
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    ...counts,
  };
}

/** What a provider module reads from an SSE body sent in answer to `POST path`. */
export function streamUsageOf(api: LlmApi, path: string, sse: string): UsageReading | null {
  const reader = api.streamUsage(api.route("POST", path));
  new SseDecoder().push(Buffer.from(sse), (event) => reader.onEvent(event));
  return reader.reading();
}
