import { X509Certificate } from "node:crypto";
import {
  parsePemCertificates,
  spiffeIdFromCertificate,
  verifyX509Svid,
  type X509Bundles,
} from "../../lib/src/spiffe/x509.js";
import type { SourceIdentity } from "./identity.js";

/**
 * The caller's identity from the peer certificate Envoy forwards (`include_peer_certificate`: the
 * URL-encoded PEM in `attributes.source.certificate`), verified again here against the SPIRE trust
 * bundles: authz-server does not take Envoy's word, or a header's, for who is calling. Pure: the
 * bundles and the clock come in as arguments.
 */
export type IdentityDenialReason =
  "identity_missing" | "certificate_invalid" | "certificate_expired" | "trust_domain_untrusted";

export type PeerIdentity =
  | { ok: true; source: SourceIdentity }
  | { ok: false; status: 401; reason: IdentityDenialReason; message: string };

export interface PeerAttributes {
  /** `attributes.source.principal`: the URI SAN Envoy read from the verified certificate. */
  principal: string;
  /** `attributes.source.certificate`: URL-encoded PEM of the leaf certificate. */
  certificate: string;
}

const refuse = (reason: IdentityDenialReason, message: string): PeerIdentity => ({
  ok: false,
  status: 401,
  reason,
  message,
});

export function identityFromPeerCertificate(
  peer: PeerAttributes,
  bundles: X509Bundles,
  now: Date,
): PeerIdentity {
  if (peer.certificate.length === 0) return refuse("identity_missing", "no client certificate was presented");
  let leaf: X509Certificate;
  let chain: X509Certificate[];
  try {
    chain = parsePemCertificates(decodeURIComponent(peer.certificate));
    if (!chain[0]) throw new Error("no PEM certificate");
    leaf = chain[0];
  } catch {
    return refuse("certificate_invalid", "the client certificate cannot be parsed");
  }
  let spiffeId: string;
  let trustDomain: string;
  try {
    const id = spiffeIdFromCertificate(leaf);
    spiffeId = id.id;
    trustDomain = id.trustDomain;
  } catch {
    return refuse("certificate_invalid", "the client certificate is not an X.509-SVID");
  }
  // Envoy reads the principal from the same certificate; a difference means something is wrong.
  if (peer.principal !== "" && peer.principal !== spiffeId) {
    return refuse("certificate_invalid", "the client certificate does not match the TLS peer");
  }
  if (!bundles.has(trustDomain)) {
    return refuse("trust_domain_untrusted", `trust domain "${trustDomain}" is not trusted`);
  }
  if (now > new Date(leaf.validTo))
    return refuse("certificate_expired", "the client certificate has expired");
  try {
    verifyX509Svid(chain, bundles, now);
  } catch {
    return refuse("certificate_invalid", "the client certificate does not chain to the trust bundle");
  }
  return { ok: true, source: { spiffe_id: spiffeId, trust_domain: trustDomain, verified: true } };
}

/**
 * `identityFromPeerCertificate` with the bundles of the moment, remembering verified certificates:
 * a signature check per request would cost more than the rest of the decision. A remembered
 * certificate is still checked for expiry on every request, and forgotten when the bundles change.
 */
export class PeerCertificateVerifier {
  private bundles: X509Bundles;
  private readonly verified = new Map<string, { source: SourceIdentity; notAfter: Date }>();

  constructor(
    bundles: X509Bundles,
    private readonly maxRemembered = 1024,
  ) {
    this.bundles = bundles;
  }

  setBundles(bundles: X509Bundles): void {
    this.bundles = bundles;
    this.verified.clear();
  }

  identify(peer: PeerAttributes, now: Date): PeerIdentity {
    const known = this.verified.get(peer.certificate);
    if (known && (peer.principal === "" || peer.principal === known.source.spiffe_id)) {
      if (now <= known.notAfter) return { ok: true, source: known.source };
      this.verified.delete(peer.certificate);
    }
    const result = identityFromPeerCertificate(peer, this.bundles, now);
    if (result.ok) {
      const leaf = parsePemCertificates(decodeURIComponent(peer.certificate))[0]!;
      if (this.verified.size >= this.maxRemembered) this.verified.clear();
      this.verified.set(peer.certificate, { source: result.source, notAfter: new Date(leaf.validTo) });
    }
    return result;
  }
}
