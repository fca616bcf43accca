import type { X509Certificate } from "node:crypto";
import {
  parsePemCertificates,
  spiffeIdFromCertificate,
  type X509Bundles,
} from "../../../lib/src/spiffe/x509.js";
import type { SourceIdentity } from "./source.js";

/**
 * The caller's identity from the peer certificate Envoy forwards (`include_peer_certificate`: the
 * URL-encoded PEM in `attributes.source.certificate`). Envoy's agent listener lets the TLS handshake
 * complete for any certificate, or none (`ACCEPT_UNTRUSTED`, so that a refusal is a 401 JSON and not a
 * TLS alert): this is the check that decides, against the trust bundles authz-server receives from its
 * own SPIRE Workload API stream. Headers never name an identity.
 *
 * Two steps, both pure: `checkPeerCertificate` (parse, one SPIFFE URI SAN, trust domain has a bundle,
 * signature chain to that bundle) depends only on the certificate and the bundles, so its result can be
 * remembered until the bundles change; `identityAt` applies the clock and costs two comparisons.
 */
export type IdentityDenialReason =
  | "identity_missing"
  | "certificate_invalid"
  | "certificate_untrusted"
  | "certificate_expired"
  | "certificate_not_yet_valid"
  | "trust_domain_untrusted"
  | "trust_bundle_unavailable"
  // At an MCP server's inbound sidecar (inbound-identity.ts):
  | "token_invalid"
  | "sidecar_vouch_invalid"
  // A zero-code route that this authz-server may not believe (zero-code.ts):
  | "zero_code_unbound";

export type PeerIdentity =
  | {
      ok: true;
      source: SourceIdentity;
      /** x5t#S256 of the agent's certificate, as the vouching Warden sidecar saw it (XFCC `Hash`). */
      certificateThumbprint?: string;
    }
  | {
      ok: false;
      status: 401 | 503;
      reason: IdentityDenialReason;
      message: string;
      /** A `WWW-Authenticate` value for the refusal (inbound sidecars: RFC 6750 / RFC 9728). */
      challenge?: string;
    };

export type IdentityDenial = Extract<PeerIdentity, { ok: false }>;

export interface PeerAttributes {
  /** `attributes.source.principal`: what Envoy read from the certificate (not verified by Envoy). */
  principal: string;
  /** `attributes.source.certificate`: URL-encoded PEM of the leaf certificate, "" when none. */
  certificate: string;
}

/** What a certificate proves with the bundles of the moment, whatever the time. */
export type CertificateCheck =
  | {
      ok: true;
      source: SourceIdentity;
      /** ms since epoch: the latest notBefore and the earliest notAfter on the verified path */
      validFromMs: number;
      validUntilMs: number;
    }
  | IdentityDenial;

const refusal = (reason: IdentityDenialReason, message: string, status: 401 | 503 = 401): IdentityDenial =>
  Object.freeze({ ok: false, status, reason, message });

export const IDENTITY_MISSING = refusal("identity_missing", "no client certificate was presented");
export const TRUST_BUNDLE_UNAVAILABLE = refusal(
  "trust_bundle_unavailable",
  "the sidecar has no trust bundle yet; no identity can be verified",
  503,
);
const NOT_PARSEABLE = refusal("certificate_invalid", "the client certificate cannot be parsed");
const LEAF_IS_CA = refusal(
  "certificate_invalid",
  "the client certificate is a CA certificate, not an X.509-SVID",
);
const UNTRUSTED = refusal(
  "certificate_untrusted",
  "the client certificate is not signed by a trusted SPIFFE CA",
);
const EXPIRED = refusal("certificate_expired", "the client certificate (or its CA certificate) has expired");
const NOT_YET_VALID = refusal("certificate_not_yet_valid", "the client certificate is not valid yet");
const PRINCIPAL_MISMATCH = refusal(
  "certificate_invalid",
  "the client certificate does not match the TLS peer Envoy saw",
);

const MAX_CHAIN_DEPTH = 10;

/** Everything about a peer certificate that does not depend on the time. Costs a signature check. */
export function checkPeerCertificate(certificate: string, bundles: X509Bundles): CertificateCheck {
  if (certificate.length === 0) return IDENTITY_MISSING;
  let chain: X509Certificate[];
  try {
    chain = parsePemCertificates(decodeURIComponent(certificate));
  } catch {
    return NOT_PARSEABLE;
  }
  const leaf = chain[0];
  if (!leaf) return NOT_PARSEABLE;
  if (leaf.ca) return LEAF_IS_CA;
  let spiffeId: string;
  let trustDomain: string;
  try {
    ({ id: spiffeId, trustDomain } = spiffeIdFromCertificate(leaf));
  } catch (error) {
    return refusal(
      "certificate_invalid",
      `the client certificate is not an X.509-SVID: ${(error as Error).message}`,
    );
  }
  const roots = bundles.get(trustDomain);
  if (!roots || roots.length === 0) {
    return refusal("trust_domain_untrusted", `trust domain "${trustDomain}" is not trusted`);
  }
  const path = pathToBundle(chain, roots);
  if (!path) return UNTRUSTED;
  let validFromMs = -Infinity;
  let validUntilMs = Infinity;
  for (const cert of path) {
    validFromMs = Math.max(validFromMs, Date.parse(cert.validFrom));
    validUntilMs = Math.min(validUntilMs, Date.parse(cert.validTo));
  }
  return {
    ok: true,
    source: Object.freeze({ spiffe_id: spiffeId, trust_domain: trustDomain, verified: true }),
    validFromMs,
    validUntilMs,
  };
}

/**
 * The identity a checked certificate gives at `nowMs`. Envoy's principal must agree with the
 * certificate (Envoy reads it from the same leaf; a difference means something is off) when set.
 */
export function identityAt(check: CertificateCheck, principal: string, nowMs: number): PeerIdentity {
  if (!check.ok) return check;
  if (nowMs > check.validUntilMs) return EXPIRED;
  if (nowMs < check.validFromMs) return NOT_YET_VALID;
  if (principal !== "" && principal !== check.source.spiffe_id) return PRINCIPAL_MISMATCH;
  return { ok: true, source: check.source };
}

/** Both steps at once (no remembering): see `PeerCertificateVerifier` for the request path. */
export function identityFromPeerCertificate(
  peer: PeerAttributes,
  bundles: X509Bundles,
  now: Date,
): PeerIdentity {
  if (peer.certificate.length === 0) return IDENTITY_MISSING;
  if (bundles.size === 0) return TRUST_BUNDLE_UNAVAILABLE;
  return identityAt(checkPeerCertificate(peer.certificate, bundles), peer.principal, now.getTime());
}

/**
 * Leaf first, then intermediates that came with it (Envoy forwards the leaf only today), ending with
 * the bundle certificate that signed the last one; null when no such path exists. Every link is
 * checked by signature, not by name alone, as go-spiffe's x509svid.Verify does.
 */
function pathToBundle(
  chain: readonly X509Certificate[],
  roots: readonly X509Certificate[],
): X509Certificate[] | null {
  const intermediates = chain.slice(1);
  let current = chain[0]!;
  const path = [current];
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const root = roots.find((candidate) => signedBy(current, candidate));
    if (root) {
      path.push(root);
      return path;
    }
    const parent = intermediates.find(
      (candidate) => candidate.ca && !path.includes(candidate) && signedBy(current, candidate),
    );
    if (!parent) return null;
    path.push(parent);
    current = parent;
  }
  return null;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false; // e.g. a key type the issuer's key cannot verify: not signed by it
  }
}
