import type { SseEvent } from "../../sse/decoder.js";
import type { TokenUsage } from "../../usage/record.js";
import { count, isRecord, llmApi, parseJson, stringOrNull } from "./api.js";
import type { StreamEventKind, StreamUsageReader, UsageReading } from "./api.js";

/**
 * Google AI (Gemini API): `x-goog-api-key: <key>`; the model and streaming are in the path
 * (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`). Every response, and
 * every event of a stream, may carry `usageMetadata` with running totals: the last one wins.
 */
export function googleTokenUsage(metadata: Record<string, unknown>): TokenUsage {
  const prompt = count(metadata.promptTokenCount);
  const cached = Math.min(prompt, count(metadata.cachedContentTokenCount));
  const thoughts = count(metadata.thoughtsTokenCount);
  return {
    inputTokens: prompt - cached,
    cachedInputTokens: cached,
    cacheWriteTokens: 0,
    outputTokens: count(metadata.candidatesTokenCount) + thoughts,
    reasoningTokens: thoughts,
  };
}

function readGoogleUsage(body: unknown): UsageReading | null {
  if (!isRecord(body) || !isRecord(body.usageMetadata)) return null;
  return { usage: googleTokenUsage(body.usageMetadata), model: stringOrNull(body.modelVersion) };
}

class GoogleStreamUsage implements StreamUsageReader {
  private last: UsageReading | null = null;

  /** Google's stream has no terminal event: it is complete when its body ends. */
  onEvent(event: SseEvent): StreamEventKind {
    if (event.data.includes('"usageMetadata"'))
      this.last = readGoogleUsage(parseJson(event.data)) ?? this.last;
    return undefined;
  }

  reading(): UsageReading | null {
    return this.last;
  }
}

export const googleAiApi = llmApi({
  provider: "google-ai",
  keyHeader: "x-goog-api-key",
  readJsonUsage: readGoogleUsage,
  streamUsage: () => new GoogleStreamUsage(),
});
