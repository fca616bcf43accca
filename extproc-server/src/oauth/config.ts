import { z } from "zod";
import { env } from "../../../lib/src/config.js";
import { outboundConfigShape } from "../../../lib/src/http/outbound.js";
import type { UsageConfig } from "../usage/config.js";

/** SaaS token injection settings; on whenever Vault is configured. */
export const oauthConfigShape = {
  WARDEN_SAAS_CATALOGUE: env
    .path()
    .optional()
    .describe(
      "The SaaS service catalogue (JSON: OAuth endpoints, scopes, hosts; checked at start-up; docs/oauth-connections.md); the shipped lib/src/saas/services.json when unset.",
    ),
  WARDEN_OAUTH_REFRESH_MARGIN_S: env
    .nonNegativeInt(60)
    .describe("Refresh a user's token this many seconds before it expires."),
  // A refresh happens while Envoy waits for our answer (1 s ext_proc message timeout by default).
  WARDEN_OAUTH_PROVIDER_TIMEOUT_MS: env
    .positiveInt(700)
    .describe(
      "Time limit of a token refresh at the provider. It runs on the request path, so it stays inside Envoy's 1 s ext_proc message timeout; the control plane's variable of the same name bounds the browser connection flow (default 10,000).",
    ),
  WARDEN_OAUTH_TOKEN_CACHE_TTL_MS: env
    .positiveInt(30_000)
    .describe(
      "How long a decrypted token is used from memory before Vault is asked again (a disconnect shows within this).",
    ),
  WARDEN_VAULT_TRANSIT_MOUNT: env
    .vaultMount("transit")
    .describe("Vault transit mount of the tenant keys that seal user tokens."),
  WARDEN_OAUTH_AUDIT_SPOOL: env
    .path()
    .optional()
    .describe(
      "Where OAuth audit events wait while PostgreSQL is unreachable; next to the usage spool when unset.",
    ),
  /** Refreshes go through the shared hardened client (no redirects, bounded answers, public targets). */
  ...outboundConfigShape,
};

export type OAuthConfig = z.infer<z.ZodObject<typeof oauthConfigShape>> & Pick<UsageConfig, "DATABASE_URL">;
