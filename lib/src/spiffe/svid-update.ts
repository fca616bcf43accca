import { X509Certificate } from "node:crypto";
import { hideWhenPrinted } from "./hide-when-printed.js";
import { parseSpiffeId, parseTrustDomain } from "./spiffe-id.js";
import { derCertificatesToPem, pkcs8DerToPem, splitDerCertificates } from "./x509.js";
import type { X509SvidResponse } from "./workload-proto.js";

/** One X.509-SVID as a TLS stack wants it: PEM chain (leaf first) and PEM PKCS#8 key. */
export interface X509Svid {
  spiffeId: string;
  certChainPem: string;
  keyPem: string;
  /** the leaf certificate's notAfter */
  expiresAt: Date;
  hint: string;
}

/**
 * One message of the X.509-SVID stream. The top-level SVID fields are the default SVID (the first
 * one, per the Workload API specification); `svids` holds all of them when a workload has several.
 */
export interface X509SvidUpdate extends X509Svid {
  svids: X509Svid[];
  /** CA certificates (PEM) by trust domain name: the SVIDs' own trust domain and federated ones */
  bundlesPem: Record<string, string>;
}

export function x509SvidUpdateFromResponse(response: X509SvidResponse): X509SvidUpdate {
  const svids = response.svids.map((svid) => {
    parseSpiffeId(svid.spiffeId);
    const leaf = splitDerCertificates(svid.x509Svid)[0];
    if (!leaf) throw new Error(`X.509-SVID for ${svid.spiffeId} has no certificate`);
    return hideWhenPrinted(
      {
        spiffeId: svid.spiffeId,
        certChainPem: derCertificatesToPem(svid.x509Svid),
        keyPem: pkcs8DerToPem(svid.x509SvidKey),
        expiresAt: new Date(new X509Certificate(leaf).validTo),
        hint: svid.hint,
      },
      "keyPem",
    );
  });
  const first = svids[0];
  if (!first) throw new Error("X.509-SVID response without SVIDs");

  const bundlesPem: Record<string, string> = {};
  for (const [trustDomain, der] of Object.entries(response.federatedBundles)) {
    bundlesPem[parseTrustDomain(trustDomain)] = derCertificatesToPem(der);
  }
  for (const svid of response.svids) {
    if (svid.bundle.length > 0)
      bundlesPem[parseSpiffeId(svid.spiffeId).trustDomain] = derCertificatesToPem(svid.bundle);
  }
  return hideWhenPrinted({ ...first, svids, bundlesPem }, "keyPem");
}
