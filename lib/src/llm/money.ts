/**
 * Money as exact integers. LLM list prices are quoted in US dollars per million tokens with up to six
 * decimals (e.g. $0.01875), so one dollar per million tokens is 10^-6 $ per token = 10^6 pico-dollars
 * per token: every price becomes a whole number of pico-dollars per token and every cost a whole
 * number of pico-dollars, with no rounding anywhere. Budgets are set in micro-dollars (six decimals).
 */
export const PICO_PER_USD = 1_000_000_000_000n;
export const PICO_PER_MICRO = 1_000_000n;

const DECIMAL = /^(\d{1,12})(?:\.(\d{1,6}))?$/;

export class MoneyFormatError extends Error {
  constructor(text: string) {
    super(`"${text}" is not an amount in US dollars with at most six decimals`);
    this.name = "MoneyFormatError";
  }
}

/** "2.5" → 2_500_000n: a decimal with at most six places as a whole number of millionths. */
export function parseMillionths(text: string): bigint {
  const match = DECIMAL.exec(text);
  if (!match) throw new MoneyFormatError(text);
  return BigInt(match[1]!) * 1_000_000n + BigInt((match[2] ?? "").padEnd(6, "0"));
}

/** A price in dollars per million tokens ("0.15") as pico-dollars per token (150_000n). */
export const pricePerTokenPico = parseMillionths;

/** A budget in dollars ("25.50") as micro-dollars (25_500_000n). */
export const usdToMicros = parseMillionths;

/** An exact decimal dollar amount: 15_000_000n pico → "0.000015"; never rounded, at least two decimals. */
export function formatUsd(pico: bigint): string {
  const negative = pico < 0n;
  const magnitude = negative ? -pico : pico;
  const whole = magnitude / PICO_PER_USD;
  const fraction = (magnitude % PICO_PER_USD).toString().padStart(12, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}.${fraction.padEnd(2, "0")}`;
}

/** Micro-dollars as a decimal dollar amount ("25.50"). */
export function formatMicros(micros: bigint): string {
  return formatUsd(micros * PICO_PER_MICRO);
}

/** Pico-dollars rounded half up to whole micro-dollars (the audit log's `cost_micros`). */
export function picoToMicrosRounded(pico: bigint): bigint {
  return (pico + PICO_PER_MICRO / 2n) / PICO_PER_MICRO;
}
