import { messageCount, providerStub, type ProviderCall, type StubEvent } from "./llm-stub-server.js";

/**
 * An Anthropic-like provider: `POST /v1/messages`, JSON or (with `stream: true`) the Messages SSE
 * sequence message_start (input usage) → content blocks → message_delta (final output usage) →
 * message_stop. A request without a valid `x-api-key` gets Anthropic's 401. Usage: input = 20 +
 * message count (or `x-stub-input-tokens`, of which `x-stub-cached-tokens` are cache reads),
 * output = content events.
 */
export const startAnthropicStub = providerStub({
  credential: (request) => String(request.headers["x-api-key"] ?? ""),
  unauthorized: {
    status: 401,
    body: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
  },
  notFound: (path) => ({
    type: "error",
    error: { type: "not_found_error", message: `unknown path ${path}` },
  }),
  route: (method, path) => (method === "POST" && path === "/v1/messages" ? messages : null),
});

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function messages(call: ProviderCall): void {
  const { control, key, body } = call;
  const prompt = control.inputTokens ?? 20 + messageCount(body);
  const cached = Math.min(control.cachedTokens, prompt);
  const usage = {
    input_tokens: prompt - cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
  const model = `${String(body.model)}-20250929`;
  const id = "msg_stub";
  if (body.stream !== true) {
    return call.json(
      200,
      {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [
          { type: "text", text: control.echoKey ? `Hello, your key is ${key}` : "Hello from the stub." },
        ],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { ...usage, output_tokens: 5 },
      },
      { input: prompt - cached, cached, cacheWrite: 0, output: 5 },
    );
  }
  const events: StubEvent[] = [
    {
      text: event("message_start", {
        message: {
          id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      }),
      usage: { input: prompt - cached, cached, cacheWrite: 0, output: 1 },
    },
    { text: event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) },
  ];
  for (let i = 0; i < control.events; i++) {
    events.push({
      text: event("content_block_delta", { index: 0, delta: { type: "text_delta", text: `w${i} ` } }),
    });
  }
  const split = new Set<number>();
  if (control.echoKey) {
    split.add(events.length);
    events.push({
      text: event("content_block_delta", { index: 0, delta: { type: "text_delta", text: `key ${key}` } }),
    });
  }
  events.push(
    { text: event("content_block_stop", { index: 0 }) },
    {
      text: event("message_delta", {
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: control.events },
      }),
      usage: { output: control.events },
    },
    { text: event("message_stop", {}) },
  );
  call.sse(events, { split });
}
