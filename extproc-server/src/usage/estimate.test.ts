import { DeliveredText, estimateUsage, generatedText, loadTokenCounter, requestText } from "./estimate.js";

test("the generated text of stream events and bodies of each provider is found", () => {
  expect(generatedText('{"choices":[{"delta":{"content":"Hel\\"lo"}}],"usage":null}')).toBe('Hel"lo');
  expect(generatedText('{"type":"content_block_delta","delta":{"type":"text_delta","text":" wörld"}}')).toBe(
    " wörld",
  );
  expect(generatedText('{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}')).toBe("hi");
  expect(generatedText('{"type":"response.output_text.delta","delta":"abc"}')).toBe("abc");
});

test("the request's text leaves out the model, roles and types", () => {
  const { text } = requestText({
    model: "gpt-4o",
    stream: true,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Hello" }] },
    ],
  });
  expect(text).toBe("Be brief.\nHello");
});

test("text beyond the cap is extrapolated, not kept", () => {
  const delivered = new DeliveredText();
  const event = `{"choices":[{"delta":{"content":"${"a".repeat(1000)}"}}]}`;
  for (let i = 0; i < 1000; i++) delivered.add(event);
  const sample = delivered.sample();
  expect(sample.text.length).toBeLessThan(300_000);
  expect(sample.scale).toBeGreaterThan(3.5);
});

test("the real tokenizer loads offline and counts o200k tokens", async () => {
  const counter = await loadTokenCounter();
  const usage = estimateUsage(
    counter,
    { text: "Hello, world!", scale: 1 },
    { text: "w0 w1 w2 w3 w4 ", scale: 1 },
  );
  expect(usage).toEqual({
    inputTokens: 4,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 11,
    reasoningTokens: 0,
  });
});
