import { z } from "zod";
import { env, loadConfig } from "../../../lib/src/config.js";
import { outboundConfigShape } from "../../../lib/src/http/outbound.js";

/** Settings of account connections (environment variables, validated at start-up). */
export const connectionsConfigShape = {
  /** The SaaS service catalogue (JSON); the shipped lib/src/saas/services.json when unset. */
  WARDEN_SAAS_CATALOGUE: env.path().optional(),
  /** The redirect URI registered with every provider; `<API address>/v1/connections/callback` when unset. */
  WARDEN_OAUTH_CALLBACK_URL: z.string().url().optional(),
  /** How long a started connection may take to come back (the `state`'s lifetime). */
  WARDEN_OAUTH_STATE_TTL_S: env.positiveInt(600),
  WARDEN_OAUTH_PROVIDER_TIMEOUT_MS: env.positiveInt(10_000),
  WARDEN_VAULT_KV_MOUNT: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("warden"),
  /** Every provider call goes through the shared hardened client (no redirects, bounded answers, public targets). */
  ...outboundConfigShape,
};

export type ConnectionsConfig = z.infer<z.ZodObject<typeof connectionsConfigShape>>;

export function loadConnectionsConfig(environment: NodeJS.ProcessEnv = process.env): ConnectionsConfig {
  return loadConfig(connectionsConfigShape, environment);
}
