import { z } from "zod";

/**
 * The two kinds of token the control plane issues for acting on a user's behalf, and what the data
 * plane and the token service read from them (docs/delegations.md):
 *
 * - a delegation (`typ: oauth-id-jag+jwt`, the ID-JAG / RFC 8693 shape): `sub` the user, `act.sub`
 *   and `client_id` the agent's SPIFFE ID, `scope`, `tenant`, optional `destinations`;
 * - an access token (`typ: at+jwt`, RFC 9068) from the token service: `client_id` the agent, bound
 *   to its certificate by `cnf.x5t#S256` (RFC 8705); from a token exchange it also carries the user
 *   (`sub`), `act.sub` and the `delegation_id` it was exchanged from.
 *
 * - an MCP resource token (`typ: at+jwt`, RFC 9068 + RFC 8707): minted through the API for a client
 *   without an SVID, for one MCP server: `aud` that server's resource URI, `sub` and `client_id` the
 *   agent's SPIFFE ID, `mcp_server` the server's registered name. A bearer token, bound to no
 *   certificate: only that server's inbound sidecar accepts it (verifyResourceToken), never an
 *   outbound sidecar (it lacks `cnf`, which verifyTokenSignature requires of access tokens).
 *
 * All are signed with the token key in Vault transit and verified with the control plane's JWKS.
 */
export const DELEGATION_TOKEN_TYPE = "oauth-id-jag+jwt";
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** `aud` of delegations: any Warden component (the token service and every sidecar) accepts them. */
export const WARDEN_AUDIENCE = "warden";
/** RFC 8693 token type identifiers. */
export const TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt";
export const TOKEN_TYPE_ID_JAG = "urn:ietf:params:oauth:token-type:id-jag";
export const TOKEN_TYPE_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

const spiffeId = z.string().regex(/^spiffe:\/\/[a-z0-9._-]+\/\S+$/, "must be a SPIFFE ID");
const numericDate = z.number().finite().nonnegative();
const audience = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const scopeString = z.string().max(4096);

const common = {
  iss: z.string().min(1),
  aud: audience,
  jti: z.string().uuid(),
  iat: numericDate,
  nbf: numericDate.optional(),
  exp: numericDate,
  tenant: z.string().min(1).max(63),
  scope: scopeString,
  client_id: spiffeId,
  destinations: z.array(z.string().min(1).max(128)).max(64).optional(),
};

export const delegationClaimsSchema = z.object({
  ...common,
  sub: z.string().min(1).max(512),
  act: z.object({ sub: spiffeId }).passthrough(),
});
export type DelegationClaims = z.infer<typeof delegationClaimsSchema>;

export const accessTokenClaimsSchema = z.object({
  ...common,
  sub: z.string().min(1).max(2048),
  act: z.object({ sub: spiffeId }).passthrough().optional(),
  delegation_id: z.string().uuid().optional(),
  cnf: z.object({ "x5t#S256": z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).passthrough(),
});
export type AccessTokenClaims = z.infer<typeof accessTokenClaimsSchema>;

/** Strict: no `cnf`, `act` or `delegation_id`, so it can never pass for the other access tokens. */
export const resourceAccessTokenClaimsSchema = z
  .object({
    ...common,
    aud: z.string().url(),
    sub: spiffeId,
    mcp_server: z.string().min(1).max(128),
  })
  .strict()
  .refine((claims) => claims.sub === claims.client_id, { message: "sub must equal client_id" });
export type ResourceAccessTokenClaims = z.infer<typeof resourceAccessTokenClaimsSchema>;

/** What a verified token grants, whichever kind it is. Times are seconds since the epoch. */
export interface Grant {
  kind: "delegation" | "access_token";
  /** The token's `jti`. */
  tokenId: string;
  /** The delegation behind it (the delegation's own id, or the one an access token was exchanged from). */
  delegationId: string | null;
  /** The user the agent acts for; null for a client-credentials token (the agent acting as itself). */
  userId: string | null;
  tenant: string;
  /** The agent allowed to use the token. */
  agentSpiffeId: string;
  scopes: string[];
  /** Services the token may be used towards; empty means any. */
  destinations: string[];
  audience: string[];
  issuer: string;
  issuedAt: number;
  notBefore: number;
  expiresAt: number;
  /** RFC 8705 certificate binding, or null for an unbound delegation. */
  certificateThumbprint: string | null;
}

export function scopesOf(scope: string): string[] {
  return [...new Set(scope.split(" ").filter((s) => s.length > 0))];
}

export function audiencesOf(aud: string | string[]): string[] {
  return Array.isArray(aud) ? aud : [aud];
}

type CommonClaims = Pick<DelegationClaims, keyof typeof common>;

/** What both kinds of token say alike: scopes, destinations, audience, issuer and times. */
function termsOf(claims: CommonClaims) {
  return {
    scopes: scopesOf(claims.scope),
    destinations: claims.destinations ?? [],
    audience: audiencesOf(claims.aud),
    issuer: claims.iss,
    issuedAt: claims.iat,
    notBefore: claims.nbf ?? claims.iat,
    expiresAt: claims.exp,
  };
}

export function grantFromDelegation(claims: DelegationClaims): Grant {
  return {
    kind: "delegation",
    tokenId: claims.jti,
    delegationId: claims.jti,
    userId: claims.sub,
    tenant: claims.tenant,
    agentSpiffeId: claims.act.sub,
    ...termsOf(claims),
    certificateThumbprint: null,
  };
}

/** A bearer token for one MCP server: the agent acting as itself, bound to no certificate. */
export function grantFromResourceToken(claims: ResourceAccessTokenClaims): Grant {
  return {
    kind: "access_token",
    tokenId: claims.jti,
    delegationId: null,
    userId: null,
    tenant: claims.tenant,
    agentSpiffeId: claims.client_id,
    ...termsOf(claims),
    certificateThumbprint: null,
  };
}

export function grantFromAccessToken(claims: AccessTokenClaims): Grant {
  const delegated = claims.delegation_id !== undefined;
  return {
    kind: "access_token",
    tokenId: claims.jti,
    delegationId: claims.delegation_id ?? null,
    userId: delegated ? claims.sub : null,
    tenant: claims.tenant,
    agentSpiffeId: claims.act?.sub ?? claims.client_id,
    ...termsOf(claims),
    certificateThumbprint: claims.cnf["x5t#S256"],
  };
}
