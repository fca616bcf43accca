import { z } from "zod";
import { ConfigError, env, loadConfig } from "../../../lib/src/config.js";

/**
 * LLM key injection settings. Vault is on when VAULT_ADDR is set; extproc-server then logs in with
 * TLS cert auth and needs its client certificate and key.
 */
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const optionalText = () => z.string().min(1).optional();

export const llmKeysConfigShape = {
  VAULT_ADDR: z.string().url().optional(),
  /** CA bundle for Vault's TLS certificate (the Vault CLI's own variable). */
  VAULT_CACERT: optionalText(),
  WARDEN_VAULT_CLIENT_CERT: optionalText(),
  WARDEN_VAULT_CLIENT_KEY: optionalText(),
  /** The cert auth role to log in as; Vault matches any role the certificate satisfies when unset. */
  WARDEN_VAULT_CERT_ROLE: optionalText(),
  WARDEN_VAULT_CERT_MOUNT: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("cert"),
  WARDEN_VAULT_KV_MOUNT: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("warden"),
  // Below Envoy's ext_proc message timeout (1 s by default), so the agent gets our 503, not Envoy's.
  WARDEN_VAULT_TIMEOUT_MS: env.positiveInt(800),
  WARDEN_LLM_KEY_CACHE_TTL_MS: env.positiveInt(60_000),
  /** How long past the TTL a cached key still serves while Vault is unreachable (0: never). */
  WARDEN_LLM_KEY_MAX_STALE_MS: nonNegativeInt(300_000),
  /** The tenant of requests whose identity names none (a single-tenant sidecar). */
  WARDEN_DEFAULT_TENANT: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional(),
};

export type LlmKeysConfig = z.infer<z.ZodObject<typeof llmKeysConfigShape>>;

export interface VaultCertConfig {
  address: string;
  caFile: string | undefined;
  certFile: string;
  keyFile: string;
  role: string | undefined;
  authMount: string;
  kvMount: string;
  timeoutMs: number;
}

export function loadLlmKeysConfig(source: NodeJS.ProcessEnv = process.env): LlmKeysConfig {
  const config = loadConfig(llmKeysConfigShape, source);
  if (config.VAULT_ADDR) {
    const missing = (["WARDEN_VAULT_CLIENT_CERT", "WARDEN_VAULT_CLIENT_KEY"] as const).filter(
      (name) => !config[name],
    );
    if (missing.length > 0) {
      throw new ConfigError(
        missing.map((name) => `${name}: required with VAULT_ADDR (Vault cert auth) (not set)`),
      );
    }
  }
  return config;
}

/** The Vault login settings, or null when Vault is not configured. */
export function vaultCertConfig(config: LlmKeysConfig): VaultCertConfig | null {
  if (!config.VAULT_ADDR || !config.WARDEN_VAULT_CLIENT_CERT || !config.WARDEN_VAULT_CLIENT_KEY) return null;
  return {
    address: config.VAULT_ADDR,
    caFile: config.VAULT_CACERT,
    certFile: config.WARDEN_VAULT_CLIENT_CERT,
    keyFile: config.WARDEN_VAULT_CLIENT_KEY,
    role: config.WARDEN_VAULT_CERT_ROLE,
    authMount: config.WARDEN_VAULT_CERT_MOUNT,
    kvMount: config.WARDEN_VAULT_KV_MOUNT,
    timeoutMs: config.WARDEN_VAULT_TIMEOUT_MS,
  };
}
