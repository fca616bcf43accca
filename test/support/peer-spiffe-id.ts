import type { PeerCertificate } from "node:tls";

/**
 * A TLS `checkServerIdentity` for a peer named by its SVID: an SVID names a workload by its URI SAN,
 * not by a host name, so the peer must present exactly `spiffeId` there.
 */
export function peerIsSpiffeId(spiffeId: string): (host: string, cert: PeerCertificate) => Error | undefined {
  const expected = `URI:${spiffeId}`;
  return (_host, cert) =>
    (cert.subjectaltname ?? "").split(", ").includes(expected)
      ? undefined
      : new Error(`the peer is not ${spiffeId}`);
}
