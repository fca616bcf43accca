import { ZERO_CODE_CONTEXT_KEY } from "../../../lib/src/envoy/routes.js";
import { tryParseSpiffeId } from "../../../lib/src/spiffe/spiffe-id.js";
import type { InboundHeaders } from "./inbound-identity.js";
import type { IdentityDenial, PeerAttributes, PeerIdentity } from "./peer-certificate.js";
import { sourceIdentity } from "./source.js";

/**
 * Zero-code mode (docs/zero-code.md): a sidecar bound to one agent serves it plain HTTP on loopback,
 * and every route of that listener carries the agent's SPIFFE ID in an ext_authz context extension
 * (lib/src/envoy/routes.ts ZERO_CODE_CONTEXT_KEY). Context extensions come from Envoy's configuration,
 * never from the request, so the client cannot write one; and this authz-server believes it only
 * when it was itself started for that very agent (WARDEN_ZERO_CODE_AGENT), serving only that
 * sidecar's Envoy (which holds the agent's SVID: WARDEN_ALLOWED_CLIENT_IDS).
 *
 * - No such context: the usual identity (`inner`: the verified peer certificate), so an agent
 *   calling the same sidecar's mTLS listener with its own SVID is itself, never the bound agent.
 * - The context, this server bound to that agent, no client certificate: the bound agent.
 * - Anything else (not bound, another agent named, a certificate on a plain-HTTP route): refused.
 */
export type Identify = (
  peer: PeerAttributes,
  nowNs: number,
  headers: InboundHeaders,
  route?: Readonly<Record<string, string>>,
) => PeerIdentity;

const refusal = (message: string): IdentityDenial =>
  Object.freeze({ ok: false, status: 401, reason: "zero_code_unbound", message });

const NOT_BOUND = refusal("this authorization server is not bound to a zero-code agent");
const OTHER_AGENT = refusal(
  "the zero-code listener names another agent than the one this server is bound to",
);
const WITH_CERTIFICATE = refusal("a zero-code route does not take client certificates");

/** `boundAgent`: WARDEN_ZERO_CODE_AGENT (null: zero-code is off and the context is always refused). */
export function zeroCodeIdentity(
  boundAgent: string | null,
  inner: ((peer: PeerAttributes, nowNs: number, headers: InboundHeaders) => PeerIdentity) | undefined,
): Identify {
  const bound = boundAgent === null ? null : tryParseSpiffeId(boundAgent);
  if (boundAgent !== null && bound === null)
    throw new Error(`zero-code agent "${boundAgent}" is not a SPIFFE ID`);
  const source = bound
    ? Object.freeze({
        spiffe_id: bound.id,
        trust_domain: bound.trustDomain,
        verified: true,
        via: "zero_code" as const,
      })
    : null;
  return (peer, nowNs, headers, route) => {
    const named = route?.[ZERO_CODE_CONTEXT_KEY];
    if (named === undefined)
      return inner ? inner(peer, nowNs, headers) : { ok: true, source: sourceIdentity(peer.principal) };
    if (source === null) return NOT_BOUND;
    if (named !== source.spiffe_id) return OTHER_AGENT;
    if (peer.certificate.length > 0 || peer.principal.length > 0) return WITH_CERTIFICATE;
    return { ok: true, source };
  };
}
