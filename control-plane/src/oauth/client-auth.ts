import { X509Certificate } from "node:crypto";
import type { DetailedPeerCertificate, TLSSocket } from "node:tls";
import { verifyX509Svid, type X509Bundles } from "../../../lib/src/spiffe/x509.js";
import { certificateThumbprint } from "../../../lib/src/tokens/thumbprint.js";
import { OAuthError } from "./errors.js";

/**
 * RFC 8705 mutual-TLS client authentication with SPIFFE: the client is the workload named by the
 * X.509-SVID it presented in the handshake, verified here against the SPIRE trust bundles (the
 * listener asks for a certificate but lets the handshake finish without one, so a missing or
 * foreign certificate is an OAuth `invalid_client`, not a TLS alert). Client secrets do not exist.
 */
export interface AuthenticatedClient {
  spiffeId: string;
  /** `x5t#S256` of the client certificate: what an access token is bound to. */
  thumbprint: string;
}

/** The certificates the peer presented, leaf first (node links each to its issuer). */
export function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (current?.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

export function authenticateClient(
  chain: readonly X509Certificate[],
  bundles: X509Bundles,
  now: Date,
  claimedClientId: string | undefined,
): AuthenticatedClient {
  const leaf = chain[0];
  if (!leaf)
    throw new OAuthError(
      "invalid_client",
      "present your X.509-SVID as the TLS client certificate (RFC 8705)",
    );
  let spiffeId: string;
  try {
    spiffeId = verifyX509Svid(chain, bundles, now).spiffeId.id;
  } catch (error) {
    throw new OAuthError(
      "invalid_client",
      `the client certificate is not a valid X.509-SVID of a trusted domain: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (claimedClientId !== undefined && claimedClientId !== spiffeId)
    throw new OAuthError("invalid_client", "client_id does not match the client certificate's SPIFFE ID");
  return { spiffeId, thumbprint: certificateThumbprint(leaf) };
}

/** Agents hold no secrets: any form of client secret is refused rather than ignored. */
export function refuseClientSecrets(authorization: string | undefined, form: Record<string, string>): void {
  if (/^basic\s/i.test(authorization ?? "") || "client_secret" in form || "client_assertion" in form)
    throw new OAuthError(
      "invalid_client",
      "client secrets and assertions are not accepted; authenticate with your X.509-SVID (mutual TLS, RFC 8705)",
    );
}
