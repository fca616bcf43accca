import type { VerificationKey } from "../../../lib/src/tokens/jws.js";
import { checkBearerUse, verifyResourceToken } from "../../../lib/src/tokens/verify.js";

/**
 * A bearer token at an MCP server's inbound sidecar: a Warden resource token (lib/src/tokens/claims.ts,
 * minted by the control plane for one MCP server) whose `aud` is exactly this server's resource URI
 * (RFC 8707), signed by a key of the token service's JWKS, not expired, not revoked. Whoever presents
 * it acts as the agent it names. Delegations and certificate-bound access tokens are never accepted
 * here (verifyResourceToken), so a stolen one of those buys nothing without the agent's SVID.
 */
export type BearerOutcome =
  | { ok: true; agentSpiffeId: string; scopes: string[]; tokenId: string; expiresAt: number }
  | { ok: false; error: string };

export type BearerCheck = (token: string, nowSeconds: number) => BearerOutcome;

export interface BearerTokenSources {
  keyFor: (kid: string) => VerificationKey | undefined;
  isRevoked: (id: string) => boolean;
  /** Until revocations are loaded no bearer token is accepted (one revoked a moment ago could be). */
  revocationsLoaded: () => boolean;
  /** This server's resource URI. */
  resource: string;
  /** When set, `iss` must equal it. */
  issuer: string | undefined;
}

export function resourceBearerCheck(sources: BearerTokenSources): BearerCheck {
  return (token, nowSeconds) => {
    if (!sources.revocationsLoaded()) return { ok: false, error: "revocations_unavailable" };
    const verified = verifyResourceToken(token, sources.keyFor, {
      resource: sources.resource,
      issuer: sources.issuer,
    });
    if (!verified.ok) return { ok: false, error: verified.error };
    const refused = checkBearerUse(verified.grant, { nowSeconds, isRevoked: sources.isRevoked });
    if (refused) return { ok: false, error: refused };
    const { grant } = verified;
    return {
      ok: true,
      agentSpiffeId: grant.agentSpiffeId,
      scopes: grant.scopes,
      tokenId: grant.tokenId,
      expiresAt: grant.expiresAt,
    };
  };
}
