import { HeaderEdits } from "../../header-edits.js";
import { streamUsageOf, tokenUsage } from "../../testing/llm-usage.js";
import { azureOpenAiApi } from "./azure-openai.js";
import { openAiApi } from "./openai.js";

// Recorded from the Chat Completions API with stream_options.include_usage (ids shortened).
const CHAT_STREAM = [
  'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}',
  'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}',
  'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}',
  'data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":0}}}',
  "data: [DONE]",
]
  .map((line) => `${line}\n\n`)
  .join("");

// The Responses API names its events.
const RESPONSES_STREAM =
  'event: response.created\ndata: {"type":"response.created","response":{"id":"r1","model":"o3-mini","usage":null}}\n\n' +
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n' +
  'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r1","model":"o3-mini","usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":123}}}\n\n';

describe("OpenAI", () => {
  test("the key goes in Authorization as a bearer token", () => {
    const edits = new HeaderEdits().remove("authorization");
    openAiApi.injectKey(edits, "sk-tenant");
    expect(edits.valueOf("authorization")).toBe("Bearer sk-tenant");
    expect(edits.removes("authorization")).toBe(false);
  });

  test("routes: chat, responses, embeddings; anything else is 'other'", () => {
    expect(openAiApi.route("POST", "/openai/v1/chat/completions").operation).toBe("chat");
    expect(openAiApi.route("POST", "/openai/v1/responses?x=1").operation).toBe("responses");
    expect(openAiApi.route("POST", "/openai/v1/embeddings").operation).toBe("embeddings");
    expect(openAiApi.route("GET", "/openai/v1/models").operation).toBe("other");
  });

  test("a streaming chat request is rewritten to ask for usage, keeping other stream options", () => {
    const route = openAiApi.route("POST", "/openai/v1/chat/completions");
    const reading = openAiApi.readRequest(route, {
      model: "gpt-4o",
      stream: true,
      stream_options: { include_obfuscation: false },
      messages: [],
    });
    expect(reading).toEqual({
      model: "gpt-4o",
      stream: true,
      hideUsageEvents: true,
      rewritten: {
        model: "gpt-4o",
        stream: true,
        stream_options: { include_obfuscation: false, include_usage: true },
        messages: [],
      },
    });
  });

  test("a request that already asks for usage, or does not stream, is left alone", () => {
    const route = openAiApi.route("POST", "/openai/v1/chat/completions");
    expect(openAiApi.readRequest(route, { model: "m", stream: false }).rewritten).toBeNull();
    expect(
      openAiApi.readRequest(route, { model: "m", stream: true, stream_options: { include_usage: true } })
        .rewritten,
    ).toBeNull();
    // An explicit include_usage: false is overridden upstream, but the agent still gets no usage chunk.
    const declined = openAiApi.readRequest(route, {
      model: "m",
      stream: true,
      stream_options: { include_usage: false },
    });
    expect(declined.rewritten).toMatchObject({ stream_options: { include_usage: true } });
    expect(declined.hideUsageEvents).toBe(true);
    const responses = openAiApi.route("POST", "/openai/v1/responses");
    expect(openAiApi.readRequest(responses, { model: "m", stream: true }).rewritten).toBeNull();
  });

  test("chat JSON usage: cached tokens are split from plain input", () => {
    const route = openAiApi.route("POST", "/openai/v1/chat/completions");
    const body = {
      model: "gpt-4o-2024-08-06",
      usage: {
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 60 },
        completion_tokens_details: { reasoning_tokens: 5 },
      },
    };
    expect(openAiApi.readJsonUsage(route, body)).toEqual({
      model: "gpt-4o-2024-08-06",
      usage: tokenUsage({ inputTokens: 40, cachedInputTokens: 60, outputTokens: 20, reasoningTokens: 5 }),
    });
  });

  test("embeddings usage has prompt tokens only", () => {
    const route = openAiApi.route("POST", "/openai/v1/embeddings");
    expect(
      openAiApi.readJsonUsage(route, {
        model: "text-embedding-3-small",
        usage: { prompt_tokens: 8, total_tokens: 8 },
      })?.usage,
    ).toEqual(tokenUsage({ inputTokens: 8 }));
  });

  test("a chat stream's usage comes from its last chunk", () => {
    expect(streamUsageOf(openAiApi, "/openai/v1/chat/completions", CHAT_STREAM)).toEqual({
      model: "gpt-4o-mini-2024-07-18",
      usage: tokenUsage({ inputTokens: 15, cachedInputTokens: 4, outputTokens: 10 }),
    });
  });

  test("a Responses stream's usage comes from response.completed", () => {
    expect(streamUsageOf(openAiApi, "/openai/v1/responses", RESPONSES_STREAM)).toEqual({
      model: "o3-mini",
      usage: tokenUsage({ inputTokens: 36, outputTokens: 87, reasoningTokens: 64 }),
    });
  });

  test("a stream cut before its usage chunk reports nothing (the record says so)", () => {
    const cut = CHAT_STREAM.slice(0, CHAT_STREAM.indexOf('"usage":{'));
    expect(streamUsageOf(openAiApi, "/openai/v1/chat/completions", cut)).toBeNull();
  });

  test("a JSON body without usage reads as null, not as zero tokens", () => {
    const route = openAiApi.route("POST", "/openai/v1/chat/completions");
    expect(openAiApi.readJsonUsage(route, { error: { message: "bad" } })).toBeNull();
    expect(openAiApi.readJsonUsage(route, "not json")).toBeNull();
  });
});

describe("Azure OpenAI", () => {
  test("the key goes in api-key and the deployment names the model", () => {
    const edits = new HeaderEdits();
    azureOpenAiApi.injectKey(edits, "azure-key-value");
    expect(edits.valueOf("api-key")).toBe("azure-key-value");
    const route = azureOpenAiApi.route(
      "POST",
      "/azure-openai/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21",
    );
    expect(route).toEqual({ operation: "chat", pathModel: "gpt-4o-prod", pathStream: false });
    expect(azureOpenAiApi.readRequest(route, { messages: [] }).model).toBe("gpt-4o-prod");
  });

  test("streams and bodies are read as OpenAI's", () => {
    expect(
      streamUsageOf(azureOpenAiApi, "/azure-openai/openai/deployments/d/chat/completions", CHAT_STREAM)?.usage
        .outputTokens,
    ).toBe(10);
  });
});
