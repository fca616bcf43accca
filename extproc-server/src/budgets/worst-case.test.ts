import { PriceTable } from "../usage/prices.js";
import { requestedChoices, requestedMaxOutputTokens, worstCaseCostPico } from "./worst-case.js";

const prices = PriceTable.fromJson({
  version: "t",
  currency: "USD",
  unit: "per_million_tokens",
  providers: {
    openai: { "gpt-4o-mini": { input: "0.15", output: "0.6" } },
    anthropic: { "claude-x": { input: "3", output: "15", cache_write: "3.75" } },
  },
});
const mini = prices.priceOf("openai", "gpt-4o-mini")!;
const claude = prices.priceOf("anthropic", "claude-x")!;
// Pico-dollars per token: $0.15/M = 150_000 pico, $0.6/M = 600_000 pico.

describe("the output cap a request sets", () => {
  test.each([
    [
      "OpenAI chat max_completion_tokens (wins over max_tokens)",
      { max_completion_tokens: 50, max_tokens: 9 },
      50,
    ],
    ["OpenAI chat / Anthropic max_tokens", { max_tokens: 200 }, 200],
    ["OpenAI Responses max_output_tokens", { max_output_tokens: 300 }, 300],
    ["Google generationConfig.maxOutputTokens", { generationConfig: { maxOutputTokens: 400 } }, 400],
  ])("%s", (_name, body, expected) => {
    expect(requestedMaxOutputTokens(body)).toBe(expected);
  });

  test("none, or nonsense (0, negative, a string, a fraction): no cap", () => {
    for (const body of [
      {},
      { max_tokens: 0 },
      { max_tokens: -5 },
      { max_tokens: "100" },
      { max_tokens: 1.5 },
    ])
      expect(requestedMaxOutputTokens(body)).toBeNull();
  });

  test("n choices (OpenAI) and candidateCount (Google) multiply the output; 1 otherwise", () => {
    expect(requestedChoices({ n: 3 })).toBe(3);
    expect(requestedChoices({ generationConfig: { candidateCount: 2 } })).toBe(2);
    expect(requestedChoices({ n: 0 })).toBe(1);
  });
});

describe("the worst-case cost reserved", () => {
  test("max_tokens × output price + prompt tokens with a 25% margin × input price", () => {
    const cost = worstCaseCostPico({
      body: { max_tokens: 100 },
      inputTokens: 40,
      defaultMaxOutputTokens: 4096,
      price: mini,
    });
    expect(cost).toBe(100n * 600_000n + 50n * 150_000n);
  });

  test("no max: the default cap; n=2 doubles the output", () => {
    const cost = worstCaseCostPico({
      body: { n: 2 },
      inputTokens: 0,
      defaultMaxOutputTokens: 1000,
      price: mini,
    });
    expect(cost).toBe(2000n * 600_000n);
  });

  test("input is priced at the cache-write price when that is dearer (Anthropic)", () => {
    const cost = worstCaseCostPico({
      body: { max_tokens: 1 },
      inputTokens: 4,
      defaultMaxOutputTokens: 1,
      price: claude,
    });
    expect(cost).toBe(5n * 3_750_000n + 15_000_000n);
  });

  test("an unpriced model reserves 1 pico-dollar: a used-up budget still refuses it", () => {
    expect(
      worstCaseCostPico({
        body: { max_tokens: 100 },
        inputTokens: 10,
        defaultMaxOutputTokens: 1,
        price: null,
      }),
    ).toBe(1n);
  });

  test("never less than what the call can be charged: any usage within the caps costs at most the reservation", () => {
    const body = { max_tokens: 64 };
    const reserved = worstCaseCostPico({ body, inputTokens: 100, defaultMaxOutputTokens: 1, price: mini });
    for (const [input, output] of [
      [100, 64],
      [125, 64],
      [0, 0],
      [125, 0],
    ] as const)
      expect(BigInt(input) * mini.input + BigInt(output) * mini.output).toBeLessThanOrEqual(reserved);
  });
});
