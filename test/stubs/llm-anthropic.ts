import type { ServerResponse } from "node:http";
import {
  sendJson,
  startLlmStub,
  streamControl,
  writeSse,
  type LlmStub,
  type RecordedRequest,
  type SentStream,
} from "./llm-stub-server.js";

/**
 * An Anthropic-like provider: `POST /v1/messages`, JSON or (with `stream: true`) the Messages SSE
 * sequence message_start → content blocks → message_delta (final usage) → message_stop. A request
 * without a valid `x-api-key` gets Anthropic's 401. Usage: input = 20 + message count, output =
 * content events.
 */
export interface AnthropicStubOptions {
  validKeys: () => readonly string[];
}

export function startAnthropicStub(options: AnthropicStubOptions): Promise<LlmStub> {
  return startLlmStub((request, res, stub) => handle(request, res, stub, options));
}

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function handle(
  request: RecordedRequest,
  res: ServerResponse,
  stub: LlmStub,
  options: AnthropicStubOptions,
): void {
  const key = String(request.headers["x-api-key"] ?? "");
  if (!options.validKeys().includes(key)) {
    return sendJson(res, 401, {
      type: "error",
      error: { type: "authentication_error", message: "invalid x-api-key" },
    });
  }
  const path = request.path.split("?")[0];
  if (request.method !== "POST" || path !== "/v1/messages") {
    return sendJson(res, 404, {
      type: "error",
      error: { type: "not_found_error", message: `unknown path ${path}` },
    });
  }
  const body = JSON.parse(request.body) as { model: string; stream?: boolean; messages?: unknown[] };
  const control = streamControl(request.headers);
  const inputTokens = 20 + (body.messages?.length ?? 0);
  const model = `${body.model}-20250929`;
  const id = "msg_stub";
  if (body.stream !== true) {
    return sendJson(res, 200, {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [
        { type: "text", text: control.echoKey ? `Hello, your key is ${key}` : "Hello from the stub." },
      ],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: inputTokens,
        output_tokens: 5,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  }
  const events = [
    event("message_start", {
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: inputTokens,
          output_tokens: 1,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        },
      },
    }),
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  ];
  for (let i = 0; i < control.events; i++) {
    events.push(event("content_block_delta", { index: 0, delta: { type: "text_delta", text: `w${i} ` } }));
  }
  const split = new Set<number>();
  if (control.echoKey) {
    split.add(events.length);
    events.push(
      event("content_block_delta", { index: 0, delta: { type: "text_delta", text: `key ${key}` } }),
    );
  }
  events.push(
    event("content_block_stop", { index: 0 }),
    event("message_delta", {
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: control.events },
    }),
    event("message_stop", {}),
  );
  const stream: SentStream = { path, sentAt: [], finished: false };
  stub.streams.push(stream);
  writeSse(res, stream, events, control.intervalMs, {}, split);
}
