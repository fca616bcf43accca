import { z } from "zod";
import { env } from "../../../lib/src/config.js";
import { spiffeSocketConfigShape } from "../../../lib/src/spiffe/grpc-mtls.js";

/**
 * Settings of delegations and the OAuth token service (docs/delegations.md); part of the control
 * plane's one schema (control-plane/src/config.ts).
 */
export const tokenServiceConfigShape = {
  WARDEN_TOKEN_SIGNING_KEY: env
    .text()
    .default("warden-tokens")
    .describe("Vault transit key (ECDSA P-256) that signs delegations and access tokens."),
  WARDEN_TOKEN_ISSUER: env
    .url()
    .optional()
    .describe("`iss` of delegations and access tokens; default: the control plane's own URL."),
  WARDEN_CP_PUBLIC_URL: env
    .url()
    .optional()
    .describe("The control plane's external base URL (OIDC discovery); default: its listen address."),
  WARDEN_DELEGATION_DEFAULT_TTL_S: env
    .positiveInt(86_400)
    .describe("Lifetime of a delegation when the request names none."),
  WARDEN_DELEGATION_MAX_TTL_S: env
    .positiveInt(7 * 86_400)
    .describe("Longest lifetime a delegation may have."),
  WARDEN_SCOPE_CATALOGUE: env
    .path()
    .optional()
    .describe("Policy data (policies/data.json format) holding the service→scope catalogue."),
  WARDEN_OIDC_DELEGABLE_SCOPES_CLAIM: env
    .text()
    .default("delegable_scopes")
    .describe(
      "Claim of a user's token with the scopes they may delegate; absent claim: any catalogue scope.",
    ),
  WARDEN_ACCESS_TOKEN_TTL_S: env
    .positiveInt(600)
    .describe("Lifetime of an access token from the token service."),
  WARDEN_TOKEN_KEY_ACTIVATION_S: env
    .nonNegativeInt(120)
    .describe("A new token key version signs only after this delay (sidecars fetch it first)."),
  WARDEN_TOKEN_KEY_RETENTION_S: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe(
      "How long a retired key version stays in the JWKS; default: the longest token lifetime + 5 min.",
    ),
  WARDEN_CP_MTLS_PORT: env
    .port()
    .optional()
    .describe(
      "Port of the mutual-TLS listener of /oauth2/* (needs a SPIFFE Workload API socket); unset: not started.",
    ),
  WARDEN_CP_MTLS_HOST: env.host("127.0.0.1").describe("Host of the mutual-TLS listener."),
  WARDEN_CP_MTLS_PUBLIC_URL: env
    .url()
    .optional()
    .describe("The mutual-TLS listener's external URL; default: its listen address."),
  WARDEN_CP_SPIFFE_ID: z
    .string()
    .startsWith("spiffe://")
    .optional()
    .describe("The control plane's SPIFFE ID, when the Workload API gives this process several SVIDs."),
  ...spiffeSocketConfigShape,
};

export type TokenServiceConfig = z.infer<z.ZodObject<typeof tokenServiceConfigShape>>;

/** Retired key versions stay published until every token they signed has expired. */
export function keyRetentionSeconds(config: TokenServiceConfig): number {
  return (
    config.WARDEN_TOKEN_KEY_RETENTION_S ??
    Math.max(config.WARDEN_DELEGATION_MAX_TTL_S, config.WARDEN_ACCESS_TOKEN_TTL_S) + 300
  );
}
