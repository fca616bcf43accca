import { X509Certificate, createPrivateKey } from "node:crypto";
import { inspect } from "node:util";
import { x509SvidUpdateFromResponse } from "./svid-update.js";
import { makeCertificate } from "./testing/certificates.js";

describe("X.509-SVID stream messages", () => {
  it("become PEM chains, keys and bundles keyed by trust domain, with the first SVID as default", () => {
    const ca = makeCertificate({ subject: "/O=Warden CA", ca: true });
    const partnerCa = makeCertificate({ subject: "/O=Partner CA", ca: true });
    const envoy = makeCertificate({
      subject: "/O=SPIRE",
      uris: ["spiffe://warden.local/warden/envoy"],
      issuer: ca,
    });
    const authz = makeCertificate({
      subject: "/O=SPIRE",
      uris: ["spiffe://warden.local/warden/authz"],
      issuer: ca,
    });
    const der = (pem: string): Buffer => new X509Certificate(pem).raw;
    const keyDer = (pem: string): Buffer => createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
    const svid = (cert: typeof envoy, id: string) => ({
      spiffeId: id,
      x509Svid: der(cert.certPem),
      x509SvidKey: keyDer(cert.keyPem),
      bundle: der(ca.certPem),
      hint: id.endsWith("envoy") ? "internal" : "",
    });

    const update = x509SvidUpdateFromResponse({
      svids: [
        svid(envoy, "spiffe://warden.local/warden/envoy"),
        svid(authz, "spiffe://warden.local/warden/authz"),
      ],
      crl: [],
      federatedBundles: { "spiffe://partner.example": der(partnerCa.certPem) },
    });

    expect(update.spiffeId).toBe("spiffe://warden.local/warden/envoy");
    expect(update.hint).toBe("internal");
    expect(update.svids.map((s) => s.spiffeId)).toEqual([
      "spiffe://warden.local/warden/envoy",
      "spiffe://warden.local/warden/authz",
    ]);
    expect(update.certChainPem).toBe(new X509Certificate(envoy.certPem).toString());
    expect(createPrivateKey(update.keyPem).export({ format: "pem", type: "pkcs8" })).toBe(envoy.keyPem);
    expect(update.expiresAt.getTime()).toBe(new Date(new X509Certificate(envoy.certPem).validTo).getTime());
    expect(Object.keys(update.bundlesPem).sort()).toEqual(["partner.example", "warden.local"]);
    expect(update.bundlesPem["partner.example"]).toBe(new X509Certificate(partnerCa.certPem).toString());
  });

  it("never prints the private key in JSON or inspected output", () => {
    const ca = makeCertificate({ subject: "/O=Warden CA", ca: true });
    const leaf = makeCertificate({
      subject: "/O=SPIRE",
      uris: ["spiffe://warden.local/agent/bot"],
      issuer: ca,
    });
    const update = x509SvidUpdateFromResponse({
      svids: [
        {
          spiffeId: "spiffe://warden.local/agent/bot",
          x509Svid: new X509Certificate(leaf.certPem).raw,
          x509SvidKey: createPrivateKey(leaf.keyPem).export({ format: "der", type: "pkcs8" }),
          bundle: new X509Certificate(ca.certPem).raw,
          hint: "",
        },
      ],
      crl: [],
      federatedBundles: {},
    });
    const keyBody = leaf.keyPem.split("\n")[1]!;
    expect(update.keyPem).toContain(keyBody);
    expect(JSON.stringify(update)).not.toContain(keyBody);
    expect(JSON.stringify(update)).toContain('"keyPem":"[redacted]"');
    expect(inspect(update, { depth: 5 })).not.toContain(keyBody);
    expect(JSON.stringify(update)).toContain("spiffe://warden.local/agent/bot");
  });

  it("refuses a message without SVIDs or with an invalid SPIFFE ID", () => {
    expect(() => x509SvidUpdateFromResponse({ svids: [], crl: [], federatedBundles: {} })).toThrow(
      "without SVIDs",
    );
    const bad = {
      spiffeId: "spiffe://Warden/x",
      x509Svid: Buffer.alloc(0),
      x509SvidKey: Buffer.alloc(0),
      bundle: Buffer.alloc(0),
      hint: "",
    };
    expect(() => x509SvidUpdateFromResponse({ svids: [bad], crl: [], federatedBundles: {} })).toThrow(
      "lowercase",
    );
  });
});
