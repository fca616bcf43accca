import { readFileSync } from "node:fs";
import { z } from "zod";
import { pricePerTokenPico } from "../../../lib/src/llm/money.js";
import type { TokenUsage } from "./record.js";

/**
 * The LLM price table: per provider and model, US dollars per million tokens for plain input,
 * cached input (cache reads), cache writes and output, as decimal strings (never binary floats), and
 * a `version` stamped on every usage row so a cost can be traced to the prices that made it.
 * Model keys are exact names or a prefix ending in `*` ("gpt-4o-mini*" also prices the dated
 * "gpt-4o-mini-2024-07-18"); an exact name wins, then the longest prefix.
 */
const usdPerMillion = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,6})?$/, 'must be a decimal string of US dollars per million tokens, e.g. "0.15"');

const priceSchema = z
  .object({
    input: usdPerMillion,
    output: usdPerMillion,
    /** Cache reads; the input price when absent. */
    cached_input: usdPerMillion.optional(),
    /** Cache writes (Anthropic); the input price when absent. */
    cache_write: usdPerMillion.optional(),
  })
  .strict();

const modelKey = z.string().regex(/^[A-Za-z0-9._:/@-]+\*?$/, "a model name, or a prefix ending in *");

export const priceTableSchema = z
  .object({
    version: z.string().min(1).max(64),
    currency: z.literal("USD"),
    unit: z.literal("per_million_tokens"),
    providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/), z.record(modelKey, priceSchema)),
  })
  .strict();

/** Pico-dollars per token (see lib/src/llm/money.ts). */
export interface ModelPrice {
  /** The table key that matched (a name or a `prefix*`). */
  readonly key: string;
  readonly input: bigint;
  readonly cachedInput: bigint;
  readonly cacheWrite: bigint;
  readonly output: bigint;
}

export class PriceTableError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`price table ${source} is invalid:\n  - ${problems.join("\n  - ")}`);
    this.name = "PriceTableError";
  }
}

interface ProviderPrices {
  readonly exact: ReadonlyMap<string, ModelPrice>;
  /** Longest prefix first. */
  readonly prefixes: readonly (readonly [string, ModelPrice])[];
}

export class PriceTable {
  private constructor(
    readonly version: string,
    private readonly providers: ReadonlyMap<string, ProviderPrices>,
  ) {}

  /** Validates a parsed table; throws PriceTableError naming every bad entry. */
  static fromJson(value: unknown, source = "(inline)"): PriceTable {
    const parsed = priceTableSchema.safeParse(value);
    if (!parsed.success) {
      throw new PriceTableError(
        source,
        parsed.error.issues.map((issue) => `${issue.path.join(".") || "table"}: ${issue.message}`),
      );
    }
    const providers = new Map<string, ProviderPrices>();
    for (const [provider, models] of Object.entries(parsed.data.providers)) {
      const exact = new Map<string, ModelPrice>();
      const prefixes: [string, ModelPrice][] = [];
      for (const [key, price] of Object.entries(models)) {
        const input = pricePerTokenPico(price.input);
        const entry: ModelPrice = {
          key,
          input,
          output: pricePerTokenPico(price.output),
          cachedInput: price.cached_input === undefined ? input : pricePerTokenPico(price.cached_input),
          cacheWrite: price.cache_write === undefined ? input : pricePerTokenPico(price.cache_write),
        };
        if (key.endsWith("*")) prefixes.push([key.slice(0, -1), entry]);
        else exact.set(key, entry);
      }
      prefixes.sort(([a], [b]) => b.length - a.length);
      providers.set(provider, { exact, prefixes });
    }
    return new PriceTable(parsed.data.version, providers);
  }

  static load(path: string): PriceTable {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new PriceTableError(path, [
        `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      ]);
    }
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (error) {
      throw new PriceTableError(path, [`is not JSON: ${(error as Error).message}`]);
    }
    return PriceTable.fromJson(value, path);
  }

  priceOf(provider: string, model: string): ModelPrice | null {
    const prices = this.providers.get(provider);
    if (!prices) return null;
    const exact = prices.exact.get(model);
    if (exact) return exact;
    for (const [prefix, price] of prices.prefixes) if (model.startsWith(prefix)) return price;
    return null;
  }

  /** The price of the first of `models` the table knows (the model sent upstream, then the one that answered). */
  priceOfFirst(provider: string, models: readonly (string | null)[]): ModelPrice | null {
    for (const model of models) {
      if (model === null) continue;
      const price = this.priceOf(provider, model);
      if (price) return price;
    }
    return null;
  }
}

/** Exact cost in pico-dollars: every token class times its price; reasoning is part of output. */
export function costOf(usage: TokenUsage, price: ModelPrice): bigint {
  return (
    BigInt(usage.inputTokens) * price.input +
    BigInt(usage.cachedInputTokens) * price.cachedInput +
    BigInt(usage.cacheWriteTokens) * price.cacheWrite +
    BigInt(usage.outputTokens) * price.output
  );
}
