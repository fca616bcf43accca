import type { HeaderEdits } from "../../header-edits.js";
import type { SseEvent } from "../../sse/decoder.js";
import type { TokenUsage } from "../../usage/record.js";
import {
  decodedRequestPath,
  llmRouteReader,
  pathOnly,
  type LlmOperation,
  type LlmRoute,
} from "../../../../lib/src/handoff/llm-route.js";

/**
 * One module per LLM API shape (openai.ts, anthropic.ts, google-ai.ts, azure-openai.ts) implements
 * this: where the key goes and where usage sits in a JSON body and in an SSE stream. Which operation
 * a path is and which model a request names is lib/src/handoff/llm-route.ts, the code authz-server
 * decides with. Modules are pure: bytes and parsed JSON in, facts out.
 */
export type { LlmOperation, LlmRoute };

export interface RequestReading {
  readonly model: string | null;
  readonly stream: boolean;
  /** A body to send upstream instead (e.g. with `stream_options.include_usage` added); null to keep it. */
  readonly rewritten: Record<string, unknown> | null;
  /**
   * Warden asked the provider for usage events the agent did not ask for: they are read, then kept
   * from the agent, who gets exactly the stream it asked for.
   */
  readonly hideUsageEvents: boolean;
}

export interface UsageReading {
  readonly usage: TokenUsage;
  /** The model the provider reports (often with a version suffix). */
  readonly model: string | null;
}

/**
 * What an event means for the exchange: `terminal` ends the stream as far as the agent is concerned
 * (`[DONE]`, `message_stop`, `response.completed`: the call is complete once the agent got it,
 * whatever happens after); `usage_only` carries usage and nothing else (OpenAI's last chunk with
 * `choices: []`).
 */
export type StreamEventKind = "terminal" | "usage_only" | undefined;

/** Reads usage from a stream's events as they pass; never holds events. */
export interface StreamUsageReader {
  onEvent(event: SseEvent): StreamEventKind;
  /** What the stream has reported so far (a cut stream still gives what it saw); null if nothing. */
  reading(): UsageReading | null;
}

export interface LlmApi {
  /** The destination service (`destination.service` of the Envoy route). */
  readonly provider: string;
  /** `path` is Envoy's `:path` (the route prefix still on it, the query string possibly too). */
  route(method: string, path: string): LlmRoute;
  /** Puts the tenant's key in this provider's header; the agent's credential headers are already removed. */
  injectKey(edits: HeaderEdits, key: string): void;
  readRequest(route: LlmRoute, body: Record<string, unknown>): RequestReading;
  readJsonUsage(route: LlmRoute, body: unknown): UsageReading | null;
  streamUsage(route: LlmRoute): StreamUsageReader;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A token count from provider JSON: a non-negative integer, or 0. */
export function count(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

export function stringOrNull(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 ? value : null;
}

export { pathOnly };

/** Parses JSON that came from an upstream or an agent; undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// Usage appears as an object only in the events that carry it (OpenAI sends `"usage":null` elsewhere).
const USAGE_OBJECT = /"usage"\s*:\s*\{/;

export function mayCarryUsage(data: string): boolean {
  return USAGE_OBJECT.test(data);
}

/** What a provider module says about itself; `llmApi` adds the route and request reading from lib. */
export interface LlmApiParts {
  readonly provider: string;
  /** The header the tenant's key goes in, and its value (the key itself unless given). */
  readonly keyHeader: string;
  readonly keyValue?: (key: string) => string;
  /** Reads the request beyond its model and stream flag (OpenAI asks for stream usage). */
  readonly readRequest?: (route: LlmRoute, body: Record<string, unknown>) => RequestReading;
  readonly readJsonUsage: (body: unknown) => UsageReading | null;
  readonly streamUsage: () => StreamUsageReader;
}

export function llmApi(parts: LlmApiParts): LlmApi {
  const routes = llmRouteReader(parts.provider);
  return {
    provider: parts.provider,
    route: (method, path) => routes.route(method, decodedRequestPath(path)),
    injectKey: (edits, key) => edits.set(parts.keyHeader, parts.keyValue ? parts.keyValue(key) : key),
    readRequest:
      parts.readRequest ??
      ((route, body) => ({ ...routes.request(route, body), rewritten: null, hideUsageEvents: false })),
    readJsonUsage: (_route, body) => parts.readJsonUsage(body),
    streamUsage: () => parts.streamUsage(),
  };
}
