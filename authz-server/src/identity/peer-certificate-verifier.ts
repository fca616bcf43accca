import { parseX509Bundles, type X509Bundles } from "../../../lib/src/spiffe/x509.js";
import {
  checkPeerCertificate,
  identityAt,
  IDENTITY_MISSING,
  TRUST_BUNDLE_UNAVAILABLE,
  type CertificateCheck,
  type PeerAttributes,
  type PeerIdentity,
} from "./peer-certificate.js";

/**
 * The request-path face of peer certificate verification: the trust bundles of the moment (from
 * authz-server's own Workload API stream) and a bounded memory of what each certificate proved.
 *
 * An agent presents the same SVID on every request until it rotates (every ~30 min with the default
 * 1 h TTL), so steady traffic pays a map lookup and two time comparisons, not an ECDSA verification.
 * What is remembered (`checkPeerCertificate`) does not depend on the time: the validity window is
 * applied on every request, so a remembered certificate still stops working at its notAfter. It
 * depends on the bundles, so everything is forgotten when they change (a CA removed from the bundle
 * no longer vouches for anything). Refusals are remembered too: a client retrying with a certificate
 * from another CA does not buy a signature check per request.
 */
export class PeerCertificateVerifier {
  private bundles: X509Bundles | null = null;
  private bundlesPem: Readonly<Record<string, string>> | null = null;
  // Keyed by the exact string Envoy forwards; Map keeps insertion order, so the first key is the oldest.
  private readonly remembered = new Map<string, CertificateCheck>();
  /** Full (signature) checks done so far: for tests and /status. */
  verifications = 0;

  constructor(private readonly maxRemembered = 1024) {}

  /**
   * New bundles from the Workload API (own trust domain and federated ones, PEM by trust domain).
   * SVID rotations deliver the same bundles again: only a real change forgets what was verified.
   */
  setBundles(bundlesPem: Readonly<Record<string, string>>): boolean {
    if (this.bundlesPem && samePem(this.bundlesPem, bundlesPem)) return false;
    this.bundles = parseX509Bundles(bundlesPem);
    this.bundlesPem = { ...bundlesPem };
    this.remembered.clear();
    return true;
  }

  get trustDomains(): string[] {
    return this.bundles ? [...this.bundles.keys()] : [];
  }

  get size(): number {
    return this.remembered.size;
  }

  identify(peer: PeerAttributes, nowMs: number): PeerIdentity {
    if (peer.certificate.length === 0) return IDENTITY_MISSING;
    if (!this.bundles || this.bundles.size === 0) return TRUST_BUNDLE_UNAVAILABLE;
    let check = this.remembered.get(peer.certificate);
    if (!check) {
      check = checkPeerCertificate(peer.certificate, this.bundles);
      this.verifications += 1;
      this.remember(peer.certificate, check);
    }
    return identityAt(check, peer.principal, nowMs);
  }

  private remember(certificate: string, check: CertificateCheck): void {
    if (this.remembered.size >= this.maxRemembered) {
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.remembered.delete(oldest.value);
    }
    this.remembered.set(certificate, check);
  }
}

function samePem(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => a[key] === b[key]);
}
