import type { ModelPrice } from "../usage/prices.js";

/**
 * The most a call can cost, reserved against its hard budgets before it is forwarded (pure).
 *
 * Output: the request's own cap (`max_completion_tokens` or `max_tokens` for OpenAI chat and
 * Anthropic, `max_output_tokens` for OpenAI Responses, `generationConfig.maxOutputTokens` for
 * Google) times OpenAI's `n` choices; without one, the configured default cap
 * (WARDEN_BUDGET_DEFAULT_MAX_OUTPUT_TOKENS). Input: the prompt counted with the usage estimator's
 * tokenizer, plus a margin because other providers' tokenizers count more than o200k_base does,
 * priced at the dearer of the input and cache-write prices.
 */

/** Input tokens are reserved at this many quarters of the estimate (25% margin). */
export const INPUT_MARGIN_QUARTERS = 5n;

function positiveInt(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** The output cap the request sets for itself, or null when it sets none. */
export function requestedMaxOutputTokens(body: Record<string, unknown>): number | null {
  const config = body.generationConfig;
  const google =
    typeof config === "object" && config !== null && !Array.isArray(config)
      ? positiveInt((config as Record<string, unknown>).maxOutputTokens)
      : null;
  return (
    positiveInt(body.max_completion_tokens) ??
    positiveInt(body.max_tokens) ??
    positiveInt(body.max_output_tokens) ??
    google
  );
}

/** How many completions one request asks for (OpenAI's `n`, Google's `candidateCount`). */
export function requestedChoices(body: Record<string, unknown>): number {
  const config = body.generationConfig;
  const google =
    typeof config === "object" && config !== null && !Array.isArray(config)
      ? positiveInt((config as Record<string, unknown>).candidateCount)
      : null;
  return positiveInt(body.n) ?? google ?? 1;
}

export interface WorstCaseInput {
  /** The parsed request body ({} when it is not a JSON object). */
  readonly body: Record<string, unknown>;
  /** Prompt tokens as the estimator counts them. */
  readonly inputTokens: number;
  /** Output tokens assumed when the request sets no cap. */
  readonly defaultMaxOutputTokens: number;
  /** null: the model is not in the price table (its calls cost nothing on the books). */
  readonly price: ModelPrice | null;
}

/**
 * Pico-dollars to reserve; at least 1, so that a budget already at its limit refuses even a call
 * whose model is unpriced (as the in-memory check does).
 */
export function worstCaseCostPico(input: WorstCaseInput): bigint {
  if (input.price === null) return 1n;
  const output =
    BigInt(requestedMaxOutputTokens(input.body) ?? input.defaultMaxOutputTokens) *
    BigInt(requestedChoices(input.body));
  const inputTokens = (BigInt(Math.max(0, Math.ceil(input.inputTokens))) * INPUT_MARGIN_QUARTERS + 3n) / 4n;
  const inputPrice = input.price.cacheWrite > input.price.input ? input.price.cacheWrite : input.price.input;
  const cost = inputTokens * inputPrice + output * input.price.output;
  return cost > 0n ? cost : 1n;
}
