import {
  ACCESS_TOKEN_TYPE,
  accessTokenClaimsSchema,
  DELEGATION_TOKEN_TYPE,
  delegationClaimsSchema,
  grantFromAccessToken,
  grantFromDelegation,
  grantFromResourceToken,
  resourceAccessTokenClaimsSchema,
  type Grant,
} from "./claims.js";
import { parseCompactJws, verifyJwsSignature, type VerificationKey } from "./jws.js";

/**
 * Verifying a delegation or access token happens in two steps, so the costly one can be cached:
 *
 * 1. `verifyTokenSignature` (once per token string): the JWS, its key, its type and claims shape,
 *    issuer and audience. Depends only on the token and the published keys.
 * 2. `checkGrantUse` (every use): the clock, the caller it is bound to (SPIFFE ID, certificate) and
 *    revocation. Depends on who presents it and when.
 *
 * Failures are stable codes; they reach the policy as `delegation.error` and the agent's error body.
 */
export type TokenError =
  | "malformed"
  | "unsupported_token_type"
  | "unknown_key"
  | "signature_invalid"
  | "claims_invalid"
  | "issuer_invalid"
  | "audience_invalid";

export type UseError =
  "not_yet_valid" | "expired" | "agent_mismatch" | "certificate_mismatch" | "revoked" | "not_a_delegation";

export type SignatureOutcome = { ok: true; grant: Grant; kid: string } | { ok: false; error: TokenError };

export interface TokenExpectations {
  /** When set, `iss` must equal it. */
  issuer?: string | undefined;
  /** Audiences this verifier accepts for access tokens (delegations are always `aud: warden`). */
  accessTokenAudiences: ReadonlySet<string>;
  delegationAudience: string;
}

export function verifyTokenSignature(
  token: string,
  keyFor: (kid: string) => VerificationKey | undefined,
  expect: TokenExpectations,
): SignatureOutcome {
  const jws = parseCompactJws(token);
  if (!jws) return { ok: false, error: "malformed" };
  const { typ, kid } = jws.header;
  if (typ !== DELEGATION_TOKEN_TYPE && typ !== ACCESS_TOKEN_TYPE)
    return { ok: false, error: "unsupported_token_type" };
  if (typeof kid !== "string") return { ok: false, error: "unknown_key" };
  const key = keyFor(kid);
  if (!key) return { ok: false, error: "unknown_key" };
  if (!verifyJwsSignature(jws, key)) return { ok: false, error: "signature_invalid" };

  let grant: Grant;
  if (typ === DELEGATION_TOKEN_TYPE) {
    const parsed = delegationClaimsSchema.safeParse(jws.payload);
    if (!parsed.success || parsed.data.client_id !== parsed.data.act.sub)
      return { ok: false, error: "claims_invalid" };
    grant = grantFromDelegation(parsed.data);
    if (!grant.audience.includes(expect.delegationAudience)) return { ok: false, error: "audience_invalid" };
  } else {
    const parsed = accessTokenClaimsSchema.safeParse(jws.payload);
    if (!parsed.success) return { ok: false, error: "claims_invalid" };
    grant = grantFromAccessToken(parsed.data);
    if (!grant.audience.some((a) => expect.accessTokenAudiences.has(a)))
      return { ok: false, error: "audience_invalid" };
  }
  if (expect.issuer !== undefined && grant.issuer !== expect.issuer)
    return { ok: false, error: "issuer_invalid" };
  return { ok: true, grant, kid };
}

export interface ResourceExpectations {
  /** When set, `iss` must equal it. */
  issuer?: string | undefined;
  /** The MCP server's resource URI (its inbound sidecar), or a test of it (the control plane accepts any registered one). */
  resource: string | ((audience: string) => boolean);
}

/**
 * An MCP resource token (lib/src/tokens/claims.ts), for the inbound sidecar of the MCP server whose
 * resource URI is its `aud`. Only this kind is accepted here: delegations and certificate-bound
 * access tokens are refused (`unsupported_token_type` / `claims_invalid`), so a bearer is never
 * given what only an SVID holder may use. Use it with `checkBearerUse`.
 */
export function verifyResourceToken(
  token: string,
  keyFor: (kid: string) => VerificationKey | undefined,
  expect: ResourceExpectations,
): SignatureOutcome {
  const jws = parseCompactJws(token);
  if (!jws) return { ok: false, error: "malformed" };
  const { typ, kid } = jws.header;
  if (typ !== ACCESS_TOKEN_TYPE) return { ok: false, error: "unsupported_token_type" };
  if (typeof kid !== "string") return { ok: false, error: "unknown_key" };
  const key = keyFor(kid);
  if (!key) return { ok: false, error: "unknown_key" };
  if (!verifyJwsSignature(jws, key)) return { ok: false, error: "signature_invalid" };
  const parsed = resourceAccessTokenClaimsSchema.safeParse(jws.payload);
  if (!parsed.success) return { ok: false, error: "claims_invalid" };
  const accepts =
    typeof expect.resource === "string" ? (aud: string) => aud === expect.resource : expect.resource;
  if (!accepts(parsed.data.aud)) return { ok: false, error: "audience_invalid" };
  if (expect.issuer !== undefined && parsed.data.iss !== expect.issuer)
    return { ok: false, error: "issuer_invalid" };
  return { ok: true, grant: grantFromResourceToken(parsed.data), kid };
}

export interface Presentation {
  nowSeconds: number;
  /** The verified SPIFFE ID of the caller; null when unknown (then no token is usable). */
  callerSpiffeId: string | null;
  /** `x5t#S256` of the caller's TLS client certificate, or null when none was seen. */
  certificateThumbprint: string | null;
  isRevoked: (id: string) => boolean;
  /** Clock skew tolerated on `nbf`. */
  leewaySeconds?: number;
}

/** The reason this use of a verified token is refused, or null when it is acceptable. */
export function checkGrantUse(grant: Grant, use: Presentation): UseError | null {
  const leeway = use.leewaySeconds ?? 5;
  if (grant.expiresAt <= use.nowSeconds) return "expired";
  if (grant.notBefore > use.nowSeconds + leeway) return "not_yet_valid";
  if (use.callerSpiffeId === null || grant.agentSpiffeId !== use.callerSpiffeId) return "agent_mismatch";
  if (grant.certificateThumbprint !== null && grant.certificateThumbprint !== use.certificateThumbprint)
    return "certificate_mismatch";
  if (use.isRevoked(grant.tokenId)) return "revoked";
  if (grant.delegationId !== null && use.isRevoked(grant.delegationId)) return "revoked";
  return null;
}

/** `checkGrantUse` for a bearer resource token: whoever presents it acts as the agent it names. */
export function checkBearerUse(
  grant: Grant,
  use: Omit<Presentation, "callerSpiffeId" | "certificateThumbprint">,
): UseError | null {
  if (grant.kind !== "access_token" || grant.certificateThumbprint !== null || grant.userId !== null)
    return "certificate_mismatch";
  return checkGrantUse(grant, { ...use, callerSpiffeId: grant.agentSpiffeId, certificateThumbprint: null });
}
