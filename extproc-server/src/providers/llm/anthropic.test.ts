import { HeaderEdits } from "../../header-edits.js";
import { streamUsageOf, tokenUsage } from "../../testing/llm-usage.js";
import { anthropicApi } from "./anthropic.js";

// Recorded from the Messages API (abridged): prompt caching on, so cache counts appear.
const MESSAGES_STREAM =
  'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,"output_tokens":2}}}\n\n' +
  'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
  'event: ping\ndata: {"type": "ping"}\n\n' +
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n' +
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n' +
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n' +
  'event: message_stop\ndata: {"type":"message_stop"}\n\n';

const route = anthropicApi.route("POST", "/anthropic/v1/messages");

const read = (stream: string) => streamUsageOf(anthropicApi, "/anthropic/v1/messages", stream);

test("the key goes in x-api-key", () => {
  const edits = new HeaderEdits();
  anthropicApi.injectKey(edits, "sk-ant-tenant");
  expect(edits.valueOf("x-api-key")).toBe("sk-ant-tenant");
});

test("only POST /v1/messages is a billed operation", () => {
  expect(route.operation).toBe("messages");
  expect(anthropicApi.route("POST", "/anthropic/v1/messages/count_tokens").operation).toBe("other");
  expect(anthropicApi.route("GET", "/anthropic/v1/models").operation).toBe("other");
});

test("the request's model and stream flag are read; the body is never rewritten", () => {
  expect(anthropicApi.readRequest(route, { model: "claude-3-5-haiku-latest", stream: true })).toEqual({
    model: "claude-3-5-haiku-latest",
    stream: true,
    rewritten: null,
    hideUsageEvents: false,
  });
});

test("stream usage: message_start gives input and cache counts, message_delta the final output", () => {
  expect(read(MESSAGES_STREAM)).toEqual({
    model: "claude-sonnet-4-5-20250929",
    usage: tokenUsage({ inputTokens: 472, cachedInputTokens: 2048, outputTokens: 15 }),
  });
});

test("a stream cut after message_start still reports the input it saw", () => {
  const cut = MESSAGES_STREAM.slice(0, MESSAGES_STREAM.indexOf("event: message_delta"));
  expect(read(cut)?.usage).toMatchObject({ inputTokens: 472, outputTokens: 2 });
});

test("JSON usage", () => {
  expect(
    anthropicApi.readJsonUsage(route, {
      model: "claude-3-5-haiku-20241022",
      usage: {
        input_tokens: 12,
        output_tokens: 30,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 0,
      },
    }),
  ).toEqual({
    model: "claude-3-5-haiku-20241022",
    usage: tokenUsage({ inputTokens: 12, cacheWriteTokens: 100, outputTokens: 30 }),
  });
});
