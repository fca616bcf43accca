import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { env, loadConfig } from "../../../lib/src/config.js";

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
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** The price table (JSON, see extproc-server/llm-prices.json); read and checked at start-up. */
  WARDEN_LLM_PRICES: env.path().optional(),
  /** Where usage records wait while PostgreSQL is unreachable (NDJSON, fsync'd). */
  WARDEN_USAGE_SPOOL: env.path().default(".warden/extproc-usage-spool.ndjson"),
  /** How often spend is re-read from PostgreSQL (what other sidecars spent). */
  WARDEN_BUDGET_RESYNC_MS: env.positiveInt(10_000),
  /** This instance's name on its usage rows; a new one per process by default. */
  WARDEN_INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/)
    .optional(),
};

export type UsageConfig = ReturnType<typeof loadUsageConfig>;

export function loadUsageConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(usageConfigShape, source);
  return {
    ...config,
    pricesPath: config.WARDEN_LLM_PRICES ?? defaultPriceTablePath(),
    instanceId: config.WARDEN_INSTANCE_ID ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`,
  };
}
