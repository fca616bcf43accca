import { authzHeaderOption } from "../../../lib/src/envoy/headers.js";
import { CHALLENGE_HEADER } from "../../../lib/src/envoy/routes.js";
import type { CheckRequest, ICheckResponse } from "../../../lib/src/envoy/services.js";
import { tryParseSpiffeId } from "../../../lib/src/spiffe/spiffe-id.js";
import type { BearerCheck } from "./bearer-token.js";
import type { IdentityDenial, PeerAttributes, PeerIdentity } from "./peer-certificate.js";
import type { SourceIdentity } from "./source.js";
import { parseXfcc } from "./xfcc.js";

/**
 * Who is calling an MCP server through its inbound sidecar. Three ways in, tried in this order:
 *
 * 1. A client certificate (the TLS peer): verified against the trust bundles like any agent's SVID.
 *    - The peer is a trusted Warden sidecar (`spiffe://<td>/warden/envoy` by default): it vouches for
 *      its agent in x-forwarded-client-cert, which it sets itself (any the agent sent it is removed
 *      there), and authz-server at that sidecar verified the agent's SVID before letting the request
 *      out. The caller is that element's URI. Exactly one element, naming a SPIFFE ID; anything else
 *      is refused rather than guessed at.
 *    - Any other peer is the caller itself: an XFCC it sent is ignored (a workload cannot vouch for
 *      another by writing a header; the inbound Envoy forwards XFCC only on mTLS connections, and
 *      only this check reads it).
 * 2. No certificate: `Authorization: Bearer <token>`, a Warden resource token for this server
 *    (bearer-token.ts). The caller is the agent it names, with its scopes.
 * 3. Neither: 401 with a challenge pointing at the RFC 9728 metadata, so a client can find the
 *    authorization server.
 */
export interface InboundHeaders {
  authorization: string | null;
  xfcc: string | null;
}

export interface InboundIdentityOptions {
  /** Verifies the TLS peer's certificate (PeerCertificateVerifier.identify); ms since epoch. */
  verifyPeer: (peer: PeerAttributes, nowMs: number) => PeerIdentity;
  /** SPIFFE IDs of the Warden sidecars whose XFCC is believed. */
  trustedSidecars: ReadonlySet<string>;
  /** Bearer-token verification; null: bearer tokens are not accepted (no token service configured). */
  bearer: BearerCheck | null;
  /** This server's RFC 9728 metadata URL, named in every challenge. */
  resourceMetadataUrl: string;
}

export type InboundIdentify = (peer: PeerAttributes, nowNs: number, headers: InboundHeaders) => PeerIdentity;

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The verified agent, and how it proved who it is (a sidecar's vouch or a bearer token). */
const accepted = (
  agent: { id: string; trustDomain: string },
  how: Pick<SourceIdentity, "via" | "sidecar" | "scopes">,
  certificateThumbprint?: string,
): PeerIdentity => ({
  ok: true,
  source: { spiffe_id: agent.id, trust_domain: agent.trustDomain, verified: true, ...how },
  ...(certificateThumbprint === undefined ? {} : { certificateThumbprint }),
});

export function inboundIdentity(options: InboundIdentityOptions): InboundIdentify {
  const challenge = (error?: string): string =>
    error
      ? `Bearer error="${error}", resource_metadata="${options.resourceMetadataUrl}"`
      : `Bearer resource_metadata="${options.resourceMetadataUrl}"`;
  const refuse = (reason: IdentityDenial["reason"], message: string, error?: string): IdentityDenial => ({
    ok: false,
    status: 401,
    reason,
    message,
    challenge: challenge(error),
  });

  return (peer, nowNs, headers) => {
    if (peer.certificate.length > 0) {
      const verified = options.verifyPeer(peer, nowNs / 1e6);
      if (!verified.ok) return verified.status === 401 ? { ...verified, challenge: challenge() } : verified;
      const peerId = verified.source.spiffe_id;
      if (peerId === null || !options.trustedSidecars.has(peerId))
        return { ok: true, source: { ...verified.source, via: "svid" } };
      const elements = headers.xfcc === null ? null : parseXfcc(headers.xfcc);
      const uri = elements?.length === 1 ? elements[0]!.uri : undefined;
      const agent = uri === undefined ? null : tryParseSpiffeId(uri);
      if (!agent || options.trustedSidecars.has(agent.id))
        return refuse(
          "sidecar_vouch_invalid",
          "the Warden sidecar did not vouch for exactly one agent SPIFFE ID in x-forwarded-client-cert",
        );
      // Hash: hex SHA-256 of the agent's DER certificate; x5t#S256 is the same digest in base64url.
      const hash = elements![0]!.hash;
      const thumbprint =
        hash !== undefined && /^[0-9a-f]{64}$/i.test(hash)
          ? Buffer.from(hash, "hex").toString("base64url")
          : undefined;
      return accepted(agent, { via: "sidecar", sidecar: peerId }, thumbprint);
    }
    if (headers.authorization === null)
      return refuse(
        "identity_missing",
        "no client certificate and no bearer token: present an SVID or a Warden access token for this server",
      );
    const token = BEARER.exec(headers.authorization)?.[1];
    if (token === undefined)
      return refuse("token_invalid", "the Authorization header is not a bearer token", "invalid_request");
    if (options.bearer === null)
      return refuse("token_invalid", "this server accepts no bearer tokens", "invalid_token");
    const checked = options.bearer(token, Math.floor(nowNs / 1e9));
    if (!checked.ok)
      return refuse("token_invalid", `the bearer token is not accepted (${checked.error})`, "invalid_token");
    const agent = tryParseSpiffeId(checked.agentSpiffeId);
    if (!agent) return refuse("token_invalid", "the bearer token names no agent", "invalid_token");
    return accepted(agent, { via: "bearer", scopes: checked.scopes });
  };
}

/** The two headers identity reads, as the client sent them (the policy sees them redacted). */
export function inboundHeadersOf(check: CheckRequest): InboundHeaders {
  const headers = check.attributes?.request?.http?.headers ?? {};
  return {
    authorization: Object.hasOwn(headers, "authorization") ? headers.authorization! : null,
    xfcc: Object.hasOwn(headers, "x-forwarded-client-cert") ? headers["x-forwarded-client-cert"]! : null,
  };
}

/**
 * An identity refusal's challenge on the denial, in CHALLENGE_HEADER: the inbound sidecar's Envoy
 * turns it into `WWW-Authenticate` after extproc-server, which removes that header from every
 * answer (lib/src/envoy/routes.ts).
 */
export function withChallenge<T extends { response: ICheckResponse }>(outcome: T, challenge?: string): T {
  if (challenge !== undefined)
    outcome.response.deniedResponse?.headers?.push(authzHeaderOption(CHALLENGE_HEADER, challenge));
  return outcome;
}
