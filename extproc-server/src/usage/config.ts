import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { env } from "../../../lib/src/config.js";

/** The price table shipped with extproc-server, found from src/ and from dist/ alike. */
export function defaultPriceTablePath(): string {
  const fromSource = fileURLToPath(new URL("../../llm-prices.json", import.meta.url));
  if (existsSync(fromSource)) return fromSource;
  return fromSource.replace(/\/dist\/extproc-server\//, "/extproc-server/");
}

/**
 * Usage, cost and budget settings. With DATABASE_URL, usage rows go to PostgreSQL (through the audit
 * writer and its spool) and budgets are enforced; without it, usage records are log lines and no
 * budget applies.
 */
export const usageConfigShape = {
  DATABASE_URL: env
    .postgresUrl()
    .optional()
    .describe(
      "PostgreSQL for LLM usage rows (audit log and `llm_usage`, spooled while it is down), budgets (402) and OAuth audit events; unset: usage is logged and no budget applies.",
    ),
  WARDEN_LLM_PRICES: env
    .path()
    .optional()
    .describe(
      "The LLM price table (JSON, see extproc-server/llm-prices.json; the shipped one when unset), checked at start-up.",
    ),
  WARDEN_USAGE_SPOOL: env
    .path()
    .default(".warden/extproc-usage-spool.ndjson")
    .describe("Where usage records wait while PostgreSQL is unreachable (NDJSON, fsync'd)."),
  WARDEN_BUDGET_RESYNC_MS: env
    .positiveInt(10_000)
    .describe("How often spend is re-read from PostgreSQL (what other sidecars spent)."),
  WARDEN_BUDGET_DEFAULT_MAX_OUTPUT_TOKENS: env
    .positiveInt(4_096)
    .describe(
      "Output tokens reserved against a hard budget for an LLM call that sets no max_tokens (or max_output_tokens, max_completion_tokens, maxOutputTokens).",
    ),
  WARDEN_BUDGET_RESERVATION_TTL_MS: env
    .positiveInt(900_000)
    .describe(
      "How long a budget reservation is held if its sidecar never settles it (it died); longer than the longest LLM call.",
    ),
  WARDEN_BUDGET_SWEEP_MS: env
    .positiveInt(30_000)
    .describe("How often this sidecar gives back expired budget reservations (of any sidecar)."),
  WARDEN_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/)
    .optional()
    .describe("This instance's name on its usage rows; a new one per process by default."),
};

type UsageFields = z.infer<z.ZodObject<typeof usageConfigShape>>;

export type UsageConfig = ReturnType<typeof usageSettings>;

/** The usage settings with their defaults that depend on where and how the process runs. */
export function usageSettings<C extends UsageFields>(config: C) {
  return {
    ...config,
    pricesPath: config.WARDEN_LLM_PRICES ?? defaultPriceTablePath(),
    instanceId: config.WARDEN_INSTANCE_ID ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`,
  };
}
