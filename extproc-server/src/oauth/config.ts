import { z } from "zod";
import { env, loadConfig } from "../../../lib/src/config.js";
import { outboundConfigShape } from "../../../lib/src/http/outbound.js";

/** SaaS token injection settings (issue 8); on whenever Vault is configured. */
export const oauthConfigShape = {
  /** The SaaS service catalogue (JSON); the shipped lib/src/saas/services.json when unset. */
  WARDEN_SAAS_CATALOGUE: env.path().optional(),
  /** Refresh a user's token this many seconds before it expires. */
  WARDEN_OAUTH_REFRESH_MARGIN_S: z.coerce.number().int().min(0).default(60),
  // A refresh happens while Envoy waits for our answer (1 s ext_proc message timeout by default).
  WARDEN_OAUTH_PROVIDER_TIMEOUT_MS: env.positiveInt(700),
  /** How long a decrypted token is used from memory before Vault is asked again (a disconnect shows within this). */
  WARDEN_OAUTH_TOKEN_CACHE_TTL_MS: env.positiveInt(30_000),
  WARDEN_VAULT_TRANSIT_MOUNT: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("transit"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** The local spool of OAuth audit events while PostgreSQL is unreachable; next to the usage spool when unset. */
  WARDEN_OAUTH_AUDIT_SPOOL: env.path().optional(),
  /** Refreshes go through the shared hardened client (no redirects, bounded answers, public targets). */
  ...outboundConfigShape,
};

export type OAuthConfig = z.infer<z.ZodObject<typeof oauthConfigShape>>;

export function loadOAuthConfig(source: NodeJS.ProcessEnv = process.env): OAuthConfig {
  return loadConfig(oauthConfigShape, source);
}
