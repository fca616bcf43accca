import type { SseEvent } from "../../sse/decoder.js";
import type { TokenUsage } from "../../usage/record.js";
import { count, isRecord, llmApi, parseJson, stringOrNull } from "./api.js";
import type { StreamEventKind, StreamUsageReader, UsageReading } from "./api.js";

/**
 * Anthropic Messages: `x-api-key: <key>`; `/v1/messages`. A stream reports usage in `message_start`
 * (input and cache counts, the model) and in `message_delta` (cumulative output, sometimes updated
 * input counts); the last value of each field wins.
 */
type UsageFields = { -readonly [K in keyof TokenUsage]: TokenUsage[K] };

/** Copies the counts present in an Anthropic usage object onto `into` (absent fields keep their value). */
function applyAnthropicUsage(into: UsageFields, usage: Record<string, unknown>): void {
  if ("input_tokens" in usage) into.inputTokens = count(usage.input_tokens);
  if ("cache_read_input_tokens" in usage) into.cachedInputTokens = count(usage.cache_read_input_tokens);
  if ("cache_creation_input_tokens" in usage)
    into.cacheWriteTokens = count(usage.cache_creation_input_tokens);
  if ("output_tokens" in usage) into.outputTokens = count(usage.output_tokens);
}

function emptyUsage(): UsageFields {
  return { inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 };
}

class AnthropicStreamUsage implements StreamUsageReader {
  private usage: UsageFields | null = null;
  private model: string | null = null;

  onEvent(event: SseEvent): StreamEventKind {
    if (event.type === "message_stop") return "terminal";
    if (event.type !== "message_start" && event.type !== "message_delta") return undefined;
    const data = parseJson(event.data);
    if (!isRecord(data)) return undefined;
    const holder = event.type === "message_start" && isRecord(data.message) ? data.message : data;
    this.model ??= stringOrNull(holder.model);
    if (!isRecord(holder.usage)) return undefined;
    this.usage ??= emptyUsage();
    applyAnthropicUsage(this.usage, holder.usage);
    return undefined;
  }

  reading(): UsageReading | null {
    return this.usage ? { usage: { ...this.usage }, model: this.model } : null;
  }
}

function readAnthropicJsonUsage(body: unknown): UsageReading | null {
  if (!isRecord(body) || !isRecord(body.usage)) return null;
  const usage = emptyUsage();
  applyAnthropicUsage(usage, body.usage);
  return { usage, model: stringOrNull(body.model) };
}

export const anthropicApi = llmApi({
  provider: "anthropic",
  keyHeader: "x-api-key",
  readJsonUsage: readAnthropicJsonUsage,
  streamUsage: () => new AnthropicStreamUsage(),
});
