import type { TokenUsage } from "./record.js";

/**
 * Usage that cannot be dodged: when a provider's own count is missing (a stream left before its
 * final usage chunk, a stall, a cut), the call is still charged, with tokens estimated from what
 * Warden saw: the request's text for input, the text delivered to the agent for output. Counting
 * uses OpenAI's o200k_base BPE (npm `gpt-tokenizer`, ranks shipped in the package, no network),
 * loaded on the first estimate only (≈125 ms and ≈70 MB once; nothing on calls with real usage).
 * It adds OpenAI's documented chat framing (3 tokens per message, 3 for the reply); on the stub's
 * chat calls it matches the reported prompt tokens (docs/response-path.md). For other providers'
 * tokenizers it is an approximation.
 */

/** Text beyond this many characters is not tokenized; its tokens are extrapolated from the part that was. */
export const ESTIMATE_TEXT_CAP = 256 * 1024;

export interface TokenCounter {
  count(text: string): number;
}

let counter: Promise<TokenCounter> | null = null;

/** The tokenizer, loaded once on first use. */
export function loadTokenCounter(): Promise<TokenCounter> {
  counter ??= import("gpt-tokenizer/encoding/o200k_base").then((module) => ({
    count: (text: string) => module.countTokens(text),
  }));
  return counter;
}

/** Text seen on its way to the agent, kept up to a cap; the rest is only counted. */
export class DeliveredText {
  private readonly parts: string[] = [];
  private keptChars = 0;
  private seenChars = 0;

  /** `raw`: a JSON text (an SSE event's data, a body or part of one) whose generated text counts. */
  add(raw: string): void {
    this.seenChars += raw.length;
    if (this.keptChars >= ESTIMATE_TEXT_CAP) return;
    this.parts.push(raw);
    this.keptChars += raw.length;
  }

  get isEmpty(): boolean {
    return this.seenChars === 0;
  }

  /** The generated text of what was kept, and the factor that scales its count to everything seen. */
  sample(): TextSample {
    const text = this.parts.map(generatedText).join("");
    return { text, scale: this.keptChars === 0 ? 1 : this.seenChars / this.keptChars };
  }
}

// Where providers put generated text: OpenAI `content`/`text`/`delta` (Responses)/tool `arguments`,
// Anthropic `text`/`partial_json`/`thinking`, Google `text`.
const GENERATED = /"(content|text|delta|arguments|partial_json|thinking)"\s*:\s*"((?:[^"\\]|\\.)*)"/g;

/** The generated text inside a JSON text (whole or a fragment), unescaped. */
export function generatedText(raw: string): string {
  let out = "";
  for (const match of raw.matchAll(GENERATED)) {
    try {
      out += JSON.parse(`"${match[2]!}"`) as string;
    } catch {
      out += match[2]!;
    }
  }
  return out;
}

// Fields of a request body that are not text the model reads.
const NOT_PROMPT = new Set([
  "model",
  "role",
  "type",
  "stream",
  "id",
  "tool_call_id",
  "user",
  "encoding_format",
]);

/** What an estimate counts: a text sample, the factor that scales its count, and fixed extra tokens. */
export interface TextSample {
  readonly text: string;
  readonly scale: number;
  readonly framing?: number;
}

// OpenAI's documented chat framing: 3 tokens per message and 3 to prime the reply.
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY = 3;

/** The text of a request body the model reads (messages, system, input, prompt, tools), capped. */
export function requestText(body: unknown): TextSample {
  const parts: string[] = [];
  let kept = 0;
  let seen = 0;
  const walk = (value: unknown, key: string | null): void => {
    if (typeof value === "string") {
      if (key !== null && NOT_PROMPT.has(key)) return;
      seen += value.length;
      if (kept < ESTIMATE_TEXT_CAP) {
        parts.push(value);
        kept += value.length;
      }
    } else if (Array.isArray(value)) {
      for (const item of value) walk(item, key);
    } else if (typeof value === "object" && value !== null) {
      for (const [name, item] of Object.entries(value)) walk(item, name);
    }
  };
  walk(body, null);
  const messages =
    typeof body === "object" && body !== null && Array.isArray((body as { messages?: unknown }).messages)
      ? (body as { messages: unknown[] }).messages.length
      : 0;
  return {
    text: parts.join("\n"),
    scale: kept === 0 ? 1 : seen / kept,
    framing: messages === 0 ? 0 : messages * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY,
  };
}

/** Estimated usage of a call whose provider reported none. */
export function estimateUsage(count: TokenCounter, request: TextSample, output: TextSample): TokenUsage {
  const tokens = (sample: TextSample) =>
    (sample.text.length === 0 ? 0 : Math.round(count.count(sample.text) * sample.scale)) +
    (sample.framing ?? 0);
  return {
    inputTokens: tokens(request),
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: tokens(output),
    reasoningTokens: 0,
  };
}
