import { createHash, X509Certificate } from "node:crypto";

/**
 * RFC 8705 §3.1: `x5t#S256` is the base64url SHA-256 of the DER certificate. An access token carries
 * the thumbprint of the certificate it was issued to; a resource accepts it only over a TLS session
 * whose client certificate has the same thumbprint.
 */
export function certificateThumbprint(certificate: X509Certificate | Uint8Array): string {
  const der = certificate instanceof X509Certificate ? certificate.raw : certificate;
  return createHash("sha256").update(der).digest("base64url");
}

/** Thumbprint of the first (leaf) certificate of a PEM chain; null when there is none. */
export function pemLeafThumbprint(pem: string): string | null {
  try {
    return certificateThumbprint(new X509Certificate(pem));
  } catch {
    return null;
  }
}
