import { HeaderEdits } from "../../header-edits.js";
import { streamUsageOf, tokenUsage } from "../../testing/llm-usage.js";
import { googleAiApi } from "./google-ai.js";

const STREAM = [
  '{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-2.5-flash"}',
  '{"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4,"thoughtsTokenCount":20,"cachedContentTokenCount":3,"totalTokenCount":33},"modelVersion":"gemini-2.5-flash"}',
]
  .map((data) => `data: ${data}\r\n\r\n`)
  .join("");

test("the key goes in x-goog-api-key", () => {
  const edits = new HeaderEdits();
  googleAiApi.injectKey(edits, "AIza-tenant-key");
  expect(edits.valueOf("x-goog-api-key")).toBe("AIza-tenant-key");
});

test("the model and streaming come from the path", () => {
  expect(
    googleAiApi.route("POST", "/google-ai/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
  ).toEqual({
    operation: "generate",
    pathModel: "gemini-2.5-flash",
    pathStream: true,
  });
  expect(
    googleAiApi.route("POST", "/google-ai/v1beta/models/gemini-2.0-flash:generateContent").pathStream,
  ).toBe(false);
  expect(googleAiApi.route("GET", "/google-ai/v1beta/models").operation).toBe("other");
});

test("stream usage: the last usageMetadata wins; thoughts are billed as output", () => {
  const path = "/google-ai/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
  expect(streamUsageOf(googleAiApi, path, STREAM)).toEqual({
    model: "gemini-2.5-flash",
    usage: tokenUsage({ inputTokens: 6, cachedInputTokens: 3, outputTokens: 24, reasoningTokens: 20 }),
  });
});

test("JSON usage", () => {
  const body = { usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 7, totalTokenCount: 12 } };
  const route = googleAiApi.route("POST", "/google-ai/v1beta/models/gemini-2.0-flash:generateContent");
  expect(googleAiApi.readJsonUsage(route, body)?.usage).toEqual(
    tokenUsage({ inputTokens: 5, outputTokens: 7 }),
  );
});
