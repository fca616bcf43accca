import { z } from "zod";
import {
  scopesOf,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_ID_JAG,
  TOKEN_TYPE_JWT,
  WARDEN_AUDIENCE,
  type Grant,
} from "../../../lib/src/tokens/claims.js";
import { covers } from "../delegations/model.js";
import { OAuthError } from "./errors.js";

/**
 * The two grants of the token service, as pure functions from a checked request to the claims of
 * the access token (RFC 9068 shape, bound to the client certificate by `cnf.x5t#S256`, RFC 8705).
 * I/O (the database, Vault, the audit log) is in token-endpoints.ts.
 */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const GRANT_TYPES = ["client_credentials", TOKEN_EXCHANGE_GRANT] as const;

const scopeParam = z
  .string()
  .max(4096)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, "must be space-separated scope tokens");

export const clientCredentialsRequest = z
  .object({
    grant_type: z.literal("client_credentials"),
    scope: scopeParam.optional(),
    client_id: z.string().optional(),
  })
  .strict();

export const tokenExchangeRequest = z
  .object({
    grant_type: z.literal(TOKEN_EXCHANGE_GRANT),
    subject_token: z.string().min(1).max(16_384),
    subject_token_type: z.enum([TOKEN_TYPE_JWT, TOKEN_TYPE_ID_JAG]),
    requested_token_type: z.literal(TOKEN_TYPE_ACCESS_TOKEN).optional(),
    audience: z.string().min(1).max(256).optional(),
    scope: scopeParam.optional(),
    client_id: z.string().optional(),
  })
  .strict();

export type ClientCredentialsRequest = z.infer<typeof clientCredentialsRequest>;
export type TokenExchangeRequest = z.infer<typeof tokenExchangeRequest>;

/** A form that fails its grant's schema becomes one `invalid_request` naming the parameters. */
export function parseGrant<T>(schema: z.ZodType<T>, form: Record<string, string>): T {
  const parsed = schema.safeParse(form);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) =>
    issue.code === "unrecognized_keys"
      ? `unsupported parameter(s): ${issue.keys.join(", ")}`
      : `${issue.path.join(".") || "request"}: ${issue.message}`,
  );
  throw new OAuthError("invalid_request", problems.join("; "));
}

export interface AccessTokenInput {
  issuer: string;
  jti: string;
  now: Date;
  ttlSeconds: number;
  client: { spiffeId: string; thumbprint: string };
  tenant: string;
}

function common(input: AccessTokenInput, expiresAt: number) {
  const iat = Math.floor(input.now.getTime() / 1000);
  return {
    iss: input.issuer,
    aud: WARDEN_AUDIENCE,
    client_id: input.client.spiffeId,
    jti: input.jti,
    iat,
    nbf: iat,
    exp: expiresAt,
    tenant: input.tenant,
    cnf: { "x5t#S256": input.client.thumbprint },
  };
}

/** The scopes granted: the requested ones if all are allowed, else `invalid_scope` naming the others. */
export function grantedScopes(
  requested: string | undefined,
  allowed: readonly string[],
  what: string,
): string[] {
  if (requested === undefined) return [...allowed];
  const scopes = scopesOf(requested);
  const refused = scopes.filter((s) => !covers(allowed, s));
  if (refused.length) throw new OAuthError("invalid_scope", `not ${what}: ${refused.join(" ")}`);
  return scopes;
}

/** client_credentials: the agent acting as itself, with (a subset of) its KYA-verified capabilities. */
export function clientCredentialsClaims(
  input: AccessTokenInput,
  request: ClientCredentialsRequest,
  verifiedCapabilities: readonly string[],
): Record<string, unknown> {
  const scopes = grantedScopes(
    request.scope,
    verifiedCapabilities,
    "among the agent's verified capabilities",
  );
  const iat = Math.floor(input.now.getTime() / 1000);
  return { ...common(input, iat + input.ttlSeconds), sub: input.client.spiffeId, scope: scopes.join(" ") };
}

/**
 * Token exchange: a delegation (verified, unrevoked, granted to this very client) becomes a
 * short-lived access token for the user, never outliving the delegation, with its scopes or fewer.
 * `audience` is `warden` (any destination the delegation allows) or one service of the catalogue.
 */
export function exchangeClaims(
  input: AccessTokenInput,
  request: TokenExchangeRequest,
  delegation: Grant,
  services: ReadonlySet<string>,
): Record<string, unknown> {
  const scopes = grantedScopes(request.scope, delegation.scopes, "granted by the delegation");
  const audience = request.audience ?? WARDEN_AUDIENCE;
  let destinations = delegation.destinations;
  if (audience !== WARDEN_AUDIENCE) {
    if (!services.has(audience)) throw new OAuthError("invalid_target", `unknown audience "${audience}"`);
    if (destinations.length && !destinations.includes(audience))
      throw new OAuthError("invalid_target", `the delegation does not cover "${audience}"`);
    destinations = [audience];
  }
  const iat = Math.floor(input.now.getTime() / 1000);
  return {
    ...common(input, Math.min(iat + input.ttlSeconds, delegation.expiresAt)),
    sub: delegation.userId,
    act: { sub: input.client.spiffeId },
    delegation_id: delegation.delegationId,
    scope: scopes.join(" "),
    ...(destinations.length ? { destinations } : {}),
  };
}
