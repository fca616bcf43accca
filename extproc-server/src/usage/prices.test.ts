import { defaultPriceTablePath } from "./config.js";
import { costOf, PriceTable, PriceTableError } from "./prices.js";

const table = (providers: Record<string, unknown>) =>
  PriceTable.fromJson({ version: "t1", currency: "USD", unit: "per_million_tokens", providers });

describe("the price table", () => {
  test("the shipped table is valid and prices every model the shipped policy allows", () => {
    const prices = PriceTable.load(defaultPriceTablePath());
    for (const [provider, model] of [
      ["openai", "gpt-4o-mini-2024-07-18"],
      ["openai", "gpt-4o"],
      ["openai", "gpt-4.1-mini"],
      ["openai", "o3-mini"],
      ["anthropic", "claude-sonnet-4-20250514"],
      ["anthropic", "claude-3-5-haiku-latest"],
      ["google-ai", "gemini-2.0-flash"],
      ["google-ai", "gemini-2.5-pro"],
      ["azure-openai", "gpt-4o-mini"],
    ] as const) {
      expect(prices.priceOf(provider, model)).not.toBeNull();
    }
  });

  test("an exact name wins, then the longest prefix", () => {
    const prices = table({
      openai: {
        "gpt-4o*": { input: "2.50", output: "10" },
        "gpt-4o-mini*": { input: "0.15", output: "0.60" },
        "gpt-4o-mini-special": { input: "9", output: "9" },
      },
    });
    expect(prices.priceOf("openai", "gpt-4o-2024-08-06")?.key).toBe("gpt-4o*");
    expect(prices.priceOf("openai", "gpt-4o-mini-2024-07-18")?.key).toBe("gpt-4o-mini*");
    expect(prices.priceOf("openai", "gpt-4o-mini-special")?.key).toBe("gpt-4o-mini-special");
    expect(prices.priceOf("openai", "o1")).toBeNull();
    expect(prices.priceOf("mistral", "gpt-4o")).toBeNull();
    expect(prices.priceOfFirst("openai", [null, "o1", "gpt-4o"])?.key).toBe("gpt-4o*");
  });

  test("cost is exact: every token class at its own price, cache prices defaulting to input", () => {
    const prices = table({
      anthropic: { "claude*": { input: "3", cached_input: "0.30", cache_write: "3.75", output: "15" } },
      google: { "g*": { input: "0.075", output: "0.30" } },
    });
    const usage = {
      inputTokens: 1000,
      cachedInputTokens: 200,
      cacheWriteTokens: 100,
      outputTokens: 50,
      reasoningTokens: 10,
    };
    // 1000*3 + 200*0.30 + 100*3.75 + 50*15 = 4185 dollars per million → 0.004185 $ = 4_185_000_000 pico
    expect(costOf(usage, prices.priceOf("anthropic", "claude-x")!)).toBe(4_185_000_000n);
    // cache prices default to input: (1000+200+100)*0.075 + 50*0.30 = 112.5 → 112_500_000 pico
    expect(costOf(usage, prices.priceOf("google", "g1")!)).toBe(112_500_000n);
  });

  test("a bad table is refused at start-up, naming every problem", () => {
    const error = (() => {
      try {
        table({
          openai: { "gpt-4o": { input: 0.15, output: "1e-3" }, "bad key": { input: "1", output: "1" } },
        });
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(PriceTableError);
    const problems = (error as PriceTableError).problems.join("\n");
    expect(problems).toContain("providers.openai.gpt-4o.input");
    expect(problems).toContain("providers.openai.gpt-4o.output");
    expect(problems).toContain("providers.openai.bad key");
    expect(() => PriceTable.load("/nonexistent/prices.json")).toThrow(/cannot be read/);
  });
});
