import {
  experimental,
  ServerInterceptingCall,
  status as GrpcStatus,
  type ServerCredentials,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import type { X509SvidUpdate } from "./svid-update.js";
import { spiffeIdFromCertificate } from "./x509.js";

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * Serves gRPC with the component's own X.509-SVID and trusts the SPIRE bundle. Fed by the Workload
 * API stream: every rotation pushed by the agent replaces the identity and CA certificates in place,
 * so new TLS handshakes use the new SVID while connections already open keep going — no restart,
 * no dropped request.
 */
export class SvidCertificateProvider implements CertificateProvider {
  private ca: experimental.CaCertificateUpdate | null = null;
  private identity: experimental.IdentityCertificateUpdate | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  rotations = 0;
  spiffeId: string | null = null;
  expiresAt: Date | null = null;

  /** Trust bundles of every trust domain the update carries (own and federated). */
  update(svid: X509SvidUpdate): void {
    this.identity = { certificate: Buffer.from(svid.certChainPem), privateKey: Buffer.from(svid.keyPem) };
    this.ca = { caCertificate: Buffer.from(Object.values(svid.bundlesPem).join("\n")) };
    this.spiffeId = svid.spiffeId;
    this.expiresAt = svid.expiresAt;
    this.rotations += 1;
    for (const listener of this.caListeners) listener(this.ca);
    for (const listener of this.identityListeners) listener(this.identity);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    if (this.ca) listener(this.ca);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    if (this.identity) listener(this.identity);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

/** Server credentials that require a client certificate chaining to the SPIRE bundle. */
export function svidServerCredentials(provider: SvidCertificateProvider): ServerCredentials {
  return experimental.createCertificateProviderServerCredentials(provider, provider, true);
}

/** The SPIFFE ID of a verified TLS peer certificate (grpc-js auth context), or null. */
export function peerSpiffeId(raw: Buffer | undefined): string | null {
  if (!raw || raw.length === 0) return null;
  try {
    return spiffeIdFromCertificate(new X509Certificate(raw)).toString();
  } catch {
    return null;
  }
}

/**
 * Only the named SPIFFE IDs may call (e.g. Envoy's). The TLS layer has already verified the chain
 * against the bundle; this checks who it is. Anyone else gets PERMISSION_DENIED before the handler.
 */
export function allowOnlySpiffeIds(
  allowed: ReadonlySet<string>,
  onRefused?: (peer: string | null) => void,
): ServerInterceptor {
  // Parsing the certificate per call would cost more than the call: remember it by fingerprint.
  const known = new Map<string, string | null>();
  return (_method, call) => {
    const cert = call.getAuthContext().sslPeerCertificate;
    let peer: string | null = null;
    if (cert?.fingerprint256) {
      const cached = known.get(cert.fingerprint256);
      if (cached !== undefined) peer = cached;
      else {
        peer = peerSpiffeId(cert.raw);
        if (known.size >= 1024) known.clear();
        known.set(cert.fingerprint256, peer);
      }
    }
    if (peer !== null && allowed.has(peer)) return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: () => {
            onRefused?.(peer);
            call.sendStatus({
              code: GrpcStatus.PERMISSION_DENIED,
              details: `${peer ?? "a caller without a SPIFFE ID"} may not call this service`,
            });
          },
        }),
    });
  };
}
