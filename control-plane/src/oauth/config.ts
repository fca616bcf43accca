import { z } from "zod";
import { env, loadConfig } from "../../../lib/src/config.js";

/**
 * Settings of delegations and the OAuth token service (environment variables; README
 * "Configuration" and docs/delegations.md). Kept apart from the control plane's core settings.
 */
export const tokenServiceConfigShape = {
  /** Vault transit key (ECDSA P-256) that signs delegations and access tokens. */
  WARDEN_TOKEN_SIGNING_KEY: z.string().min(1).default("warden-tokens"),
  /** `iss` of delegations and access tokens; default: the control plane's own URL. */
  WARDEN_TOKEN_ISSUER: z.string().url().optional(),
  /** The control plane's external base URL (discovery); default: its listen address. */
  WARDEN_CP_PUBLIC_URL: z.string().url().optional(),
  WARDEN_DELEGATION_DEFAULT_TTL_S: env.positiveInt(86_400),
  WARDEN_DELEGATION_MAX_TTL_S: env.positiveInt(7 * 86_400),
  /** Policy data (policies/data.json format) holding the service→scope catalogue. */
  WARDEN_SCOPE_CATALOGUE: env.path().optional(),
  /** Claim of a user's token with the scopes they may delegate; absent claim: any catalogue scope. */
  WARDEN_OIDC_DELEGABLE_SCOPES_CLAIM: z.string().min(1).default("delegable_scopes"),
  WARDEN_ACCESS_TOKEN_TTL_S: env.positiveInt(600),
  /** A new token key version signs only after this delay (sidecars fetch it first). */
  WARDEN_TOKEN_KEY_ACTIVATION_S: z.coerce.number().int().min(0).default(120),
  /** How long a retired key version stays in the JWKS; default: the longest token lifetime + 5 min. */
  WARDEN_TOKEN_KEY_RETENTION_S: z.coerce.number().int().min(0).optional(),
  /** The mutual-TLS listener of /oauth2/* (needs a SPIFFE Workload API socket); unset: not started. */
  WARDEN_CP_MTLS_PORT: env.port().optional(),
  WARDEN_CP_MTLS_HOST: env.host("127.0.0.1"),
  WARDEN_CP_MTLS_PUBLIC_URL: z.string().url().optional(),
  /** The control plane's SPIFFE ID, when the Workload API gives this process several SVIDs. */
  WARDEN_CP_SPIFFE_ID: z.string().startsWith("spiffe://").optional(),
  SPIFFE_ENDPOINT_SOCKET: z.string().min(1).optional(),
  WARDEN_SPIFFE_SOCKET: z.string().min(1).optional(),
};

export type TokenServiceConfig = ReturnType<typeof loadTokenServiceConfig>;

export function loadTokenServiceConfig(environment: NodeJS.ProcessEnv = process.env) {
  return loadConfig(tokenServiceConfigShape, environment);
}

/** Retired key versions stay published until every token they signed has expired. */
export function keyRetentionSeconds(config: TokenServiceConfig): number {
  return (
    config.WARDEN_TOKEN_KEY_RETENTION_S ??
    Math.max(config.WARDEN_DELEGATION_MAX_TTL_S, config.WARDEN_ACCESS_TOKEN_TTL_S) + 300
  );
}
