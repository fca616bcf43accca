import { ACCESS_TOKEN_TYPE } from "../../../lib/src/tokens/claims.js";
import { checkNoEscalation } from "../delegations/model.js";
import { ApiError } from "../http/errors.js";

/**
 * Bearer tokens for one MCP server, for clients without an SVID (lib/src/tokens/claims.ts,
 * resourceAccessTokenClaimsSchema): the claims as a pure function of a checked request. The
 * handler (handlers.ts) signs them with the token service's key and audits the jti.
 */
export const MCP_TOKEN_TYPE = ACCESS_TOKEN_TYPE;
export const MCP_TOKEN_DEFAULT_TTL_S = 15 * 60;
export const MCP_TOKEN_MAX_TTL_S = 60 * 60;

export interface McpTokenInput {
  issuer: string;
  jti: string;
  now: Date;
  ttlSeconds: number;
  /** The MCP server's resource URI: the token's only audience (RFC 8707). */
  resource: string;
  server: string;
  tenant: string;
  agentSpiffeId: string;
  scopes: readonly string[];
}

/**
 * The scopes to grant: the requested ones, each among the agent's KYA-verified capabilities (the
 * delegations' no-escalation rule, a 403 naming each other one), or all verified ones by default.
 */
export function mcpTokenScopes(requested: readonly string[] | undefined, verified: readonly string[] | null) {
  if (verified === null)
    throw new ApiError("forbidden", "the agent has no approved KYA attestation", [
      { field: "agent_id", message: "has no approved KYA attestation" },
    ]);
  if (requested === undefined) return [...verified];
  checkNoEscalation(requested, verified, null);
  return [...requested];
}

export function mcpTokenClaims(input: McpTokenInput): Record<string, unknown> {
  if (input.ttlSeconds < 1 || input.ttlSeconds > MCP_TOKEN_MAX_TTL_S)
    throw new ApiError("bad_request", `ttl_seconds must be at most ${MCP_TOKEN_MAX_TTL_S}`, [
      { field: "ttl_seconds", message: `must be at most ${MCP_TOKEN_MAX_TTL_S}` },
    ]);
  const iat = Math.floor(input.now.getTime() / 1000);
  return {
    iss: input.issuer,
    aud: input.resource,
    sub: input.agentSpiffeId,
    client_id: input.agentSpiffeId,
    mcp_server: input.server,
    tenant: input.tenant,
    scope: input.scopes.join(" "),
    jti: input.jti,
    iat,
    nbf: iat,
    exp: iat + input.ttlSeconds,
  };
}
