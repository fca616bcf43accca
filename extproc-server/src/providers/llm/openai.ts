import { openAiRoutes } from "../../../../lib/src/handoff/llm-route.js";
import type { SseEvent } from "../../sse/decoder.js";
import type { TokenUsage } from "../../usage/record.js";
import {
  count,
  isRecord,
  llmApi,
  mayCarryUsage,
  parseJson,
  stringOrNull,
  type LlmApiParts,
  type LlmRoute,
  type RequestReading,
  type StreamEventKind,
  type StreamUsageReader,
  type UsageReading,
} from "./api.js";

/**
 * OpenAI: `Authorization: Bearer <key>`; `/v1/chat/completions`, `/v1/completions`, `/v1/responses`,
 * `/v1/embeddings`. A streaming chat completion reports usage only when asked
 * (`stream_options.include_usage`), in a last chunk with empty `choices`; Warden always asks, so
 * every streamed call is priced, and keeps that chunk from an agent that did not ask for it (an SDK
 * reading `chunk.choices[0]` would fail on it). The Responses API reports usage in `response.completed` (or
 * `response.incomplete` / `response.failed`) without being asked.
 */
/** Chat and completions stream usage only when asked: ask, keeping the agent's other stream options. */
function readOpenAiRequest(route: LlmRoute, body: Record<string, unknown>): RequestReading {
  const { model, stream } = openAiRoutes.request(route, body);
  const options = isRecord(body.stream_options) ? body.stream_options : null;
  const mustAsk =
    stream &&
    (route.operation === "chat" || route.operation === "completions") &&
    options?.include_usage !== true;
  return {
    model,
    stream,
    rewritten: mustAsk ? { ...body, stream_options: { ...options, include_usage: true } } : null,
    hideUsageEvents: mustAsk,
  };
}

/** Chat/completions/embeddings (`prompt_tokens`…) and Responses (`input_tokens`…) usage objects. */
export function openAiTokenUsage(usage: Record<string, unknown>): TokenUsage {
  const responsesShape = "input_tokens" in usage || "output_tokens" in usage;
  const input = count(responsesShape ? usage.input_tokens : usage.prompt_tokens);
  const inputDetails = usage[responsesShape ? "input_tokens_details" : "prompt_tokens_details"];
  const outputDetails = usage[responsesShape ? "output_tokens_details" : "completion_tokens_details"];
  const cached = Math.min(input, count(isRecord(inputDetails) ? inputDetails.cached_tokens : 0));
  return {
    inputTokens: input - cached,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(responsesShape ? usage.output_tokens : usage.completion_tokens),
    reasoningTokens: count(isRecord(outputDetails) ? outputDetails.reasoning_tokens : 0),
  };
}

function readOpenAiJsonUsage(body: unknown): UsageReading | null {
  if (!isRecord(body) || !isRecord(body.usage)) return null;
  return { usage: openAiTokenUsage(body.usage), model: stringOrNull(body.model) };
}

// The Responses API's last event; it carries the usage.
const RESPONSES_TERMINAL: ReadonlySet<string> = new Set([
  "response.completed",
  "response.incomplete",
  "response.failed",
]);

/** Chat chunks (usage in the last one) and Responses events (usage inside `response`). */
class OpenAiStreamUsage implements StreamUsageReader {
  private usage: TokenUsage | null = null;
  private model: string | null = null;

  onEvent(event: SseEvent): StreamEventKind {
    if (event.data === "[DONE]") return "terminal";
    if (this.model !== null && !mayCarryUsage(event.data)) return undefined;
    const chunk = parseJson(event.data);
    if (!isRecord(chunk)) return undefined;
    const holder = isRecord(chunk.response) ? chunk.response : chunk;
    this.model ??= stringOrNull(holder.model);
    if (!isRecord(holder.usage)) return undefined;
    this.usage = openAiTokenUsage(holder.usage);
    if (typeof chunk.type === "string" && RESPONSES_TERMINAL.has(chunk.type)) return "terminal";
    return Array.isArray(chunk.choices) && chunk.choices.length === 0 ? "usage_only" : undefined;
  }

  reading(): UsageReading | null {
    return this.usage ? { usage: this.usage, model: this.model } : null;
  }
}

/** Bodies and usage as OpenAI's API shapes them (Azure OpenAI's too). */
export const OPENAI_SHAPES: Pick<LlmApiParts, "readRequest" | "readJsonUsage" | "streamUsage"> = {
  readRequest: readOpenAiRequest,
  readJsonUsage: readOpenAiJsonUsage,
  streamUsage: () => new OpenAiStreamUsage(),
};

export const openAiApi = llmApi({
  provider: "openai",
  keyHeader: "authorization",
  keyValue: (key) => `Bearer ${key}`,
  ...OPENAI_SHAPES,
});
