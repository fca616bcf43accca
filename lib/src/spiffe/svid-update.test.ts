import { X509Certificate, createPrivateKey } from "node:crypto";
import { inspect } from "node:util";
import { x509SvidUpdateFromResponse } from "./svid-update.js";
import { makeCertificate, makeSvidCertificate, type TestCertificate } from "./testing/certificates.js";

const der = (pem: string): Buffer => new X509Certificate(pem).raw;
const keyDer = (pem: string): Buffer => createPrivateKey(pem).export({ format: "der", type: "pkcs8" });

/** The stream message's form of one SVID issued under `ca`. */
function svidMessage(cert: TestCertificate, ca: TestCertificate, id: string, hint = "") {
  return {
    spiffeId: id,
    x509Svid: der(cert.certPem),
    x509SvidKey: keyDer(cert.keyPem),
    bundle: der(ca.certPem),
    hint,
  };
}

describe("X.509-SVID stream messages", () => {
  it("become PEM chains, keys and bundles keyed by trust domain, with the first SVID as default", () => {
    const ca = makeCertificate({ subject: "/O=Warden CA", ca: true });
    const partnerCa = makeCertificate({ subject: "/O=Partner CA", ca: true });
    const envoy = makeSvidCertificate("spiffe://warden.local/warden/envoy", ca);
    const authz = makeSvidCertificate("spiffe://warden.local/warden/authz", ca);

    const update = x509SvidUpdateFromResponse({
      svids: [
        svidMessage(envoy, ca, "spiffe://warden.local/warden/envoy", "internal"),
        svidMessage(authz, ca, "spiffe://warden.local/warden/authz"),
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
    const leaf = makeSvidCertificate("spiffe://warden.local/agent/bot", ca);
    const update = x509SvidUpdateFromResponse({
      svids: [svidMessage(leaf, ca, "spiffe://warden.local/agent/bot")],
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
