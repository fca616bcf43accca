import { z } from "zod";
import { env } from "../../../lib/src/config.js";
import { outboundConfigShape } from "../../../lib/src/http/outbound.js";

/** Settings of account connections; part of the control plane's one schema (control-plane/src/config.ts). */
export const connectionsConfigShape = {
  WARDEN_SAAS_CATALOGUE: env
    .path()
    .optional()
    .describe(
      "The SaaS service catalogue (JSON: OAuth endpoints, scopes, hosts; checked at start-up; docs/oauth-connections.md); the shipped lib/src/saas/services.json when unset.",
    ),
  WARDEN_OAUTH_CALLBACK_URL: env
    .url()
    .optional()
    .describe(
      "The redirect URI registered with every provider; `<API address>/v1/connections/callback` when unset.",
    ),
  WARDEN_OAUTH_STATE_TTL_S: env
    .positiveInt(600)
    .describe("How long a started connection may take to come back (the `state`'s lifetime)."),
  WARDEN_OAUTH_PROVIDER_TIMEOUT_MS: env
    .positiveInt(10_000)
    .describe(
      "Time limit of a call to a provider while a user connects an account (code exchange, user info). extproc-server's variable of the same name bounds token refreshes on the request path (default 700).",
    ),
  WARDEN_VAULT_KV_MOUNT: env
    .vaultMount("warden")
    .describe("KV v2 mount where users' sealed tokens are written."),
  /** Every provider call goes through the shared hardened client (no redirects, bounded answers, public targets). */
  ...outboundConfigShape,
};

export type ConnectionsConfig = z.infer<z.ZodObject<typeof connectionsConfigShape>>;
