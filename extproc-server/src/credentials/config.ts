import { z } from "zod";
import { env } from "../../../lib/src/config.js";

/**
 * LLM key injection settings. Vault is on when VAULT_ADDR is set; extproc-server then logs in with
 * TLS cert auth and needs its client certificate and key.
 */
export const llmKeysConfigShape = {
  VAULT_ADDR: env
    .url()
    .optional()
    .describe(
      "Vault (OpenBao) address; when set, LLM keys are injected from Vault with TLS cert auth (extproc-server/src/providers/llm/README.md).",
    ),
  VAULT_CACERT: env
    .path()
    .optional()
    .describe("CA bundle for Vault's TLS certificate (the Vault CLI's own variable)."),
  WARDEN_VAULT_CLIENT_CERT: env
    .path()
    .optional()
    .describe("Client certificate for Vault TLS cert auth; required with `VAULT_ADDR`."),
  WARDEN_VAULT_CLIENT_KEY: env
    .path()
    .optional()
    .describe("Private key of `WARDEN_VAULT_CLIENT_CERT`; required with `VAULT_ADDR`."),
  WARDEN_VAULT_CERT_ROLE: env
    .text()
    .optional()
    .describe(
      "The cert auth role to log in as; Vault matches any role the certificate satisfies when unset.",
    ),
  WARDEN_VAULT_CERT_MOUNT: env.vaultMount("cert").describe("Mount of Vault's cert auth method."),
  WARDEN_VAULT_KV_MOUNT: env
    .vaultMount("warden")
    .describe("KV v2 mount holding `llm/<tenant>/<provider>` keys."),
  // Below Envoy's ext_proc message timeout (1 s by default), so the agent gets our 503, not Envoy's.
  WARDEN_VAULT_TIMEOUT_MS: env
    .positiveInt(800)
    .describe("Time limit of a Vault call on the request path (below Envoy's 1 s ext_proc message timeout)."),
  WARDEN_LLM_KEY_CACHE_TTL_MS: env
    .positiveInt(60_000)
    .describe("How long a key read from Vault is used from memory."),
  WARDEN_LLM_KEY_MAX_STALE_MS: env
    .nonNegativeInt(300_000)
    .describe("How long past the TTL a cached key still serves while Vault is unreachable (0: never)."),
  WARDEN_DEFAULT_TENANT: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional()
    .describe("The tenant of requests whose identity names none (a single-tenant sidecar)."),
};

export type LlmKeysConfig = z.infer<z.ZodObject<typeof llmKeysConfigShape>>;

/** VAULT_ADDR needs the client certificate and key (Vault cert auth). */
export function llmKeysProblems(config: LlmKeysConfig): string[] {
  if (!config.VAULT_ADDR) return [];
  return (["WARDEN_VAULT_CLIENT_CERT", "WARDEN_VAULT_CLIENT_KEY"] as const)
    .filter((name) => !config[name])
    .map((name) => `${name}: required with VAULT_ADDR (Vault cert auth) (not set)`);
}

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
