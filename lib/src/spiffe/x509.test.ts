import { X509Certificate } from "node:crypto";
import { makeCertificate, makeSvidCertificate, type TestCertificate } from "./testing/certificates.js";
import {
  derCertificatesToPem,
  parsePemCertificates,
  parseX509Bundles,
  spiffeIdFromCertificate,
  splitDerCertificates,
  verifyX509Svid,
} from "./x509.js";

const AGENT_ID = "spiffe://warden.local/agent/research-bot";

describe("X.509-SVID helpers", () => {
  let ca: TestCertificate;
  let otherCa: TestCertificate;
  let intermediate: TestCertificate;
  let leaf: TestCertificate;
  let leafViaIntermediate: TestCertificate;

  beforeAll(() => {
    ca = makeCertificate({ subject: "/O=Warden Test CA", uris: ["spiffe://warden.local"], ca: true });
    otherCa = makeCertificate({ subject: "/O=Someone Else CA", ca: true });
    intermediate = makeCertificate({ subject: "/O=Warden Intermediate", ca: true, issuer: ca });
    leaf = makeSvidCertificate(AGENT_ID, ca);
    leafViaIntermediate = makeSvidCertificate("spiffe://warden.local/mcp/github", intermediate, {
      dnsNames: ["github.mcp.local"],
    });
  });

  const bundles = (): ReturnType<typeof parseX509Bundles> => parseX509Bundles({ "warden.local": ca.certPem });

  it("extracts the SPIFFE ID from the certificate's URI SAN (PEM, DER or parsed)", () => {
    expect(spiffeIdFromCertificate(leaf.certPem).id).toBe(AGENT_ID);
    expect(spiffeIdFromCertificate(new X509Certificate(leaf.certPem).raw).trustDomain).toBe("warden.local");
    expect(spiffeIdFromCertificate(new X509Certificate(leafViaIntermediate.certPem)).path).toBe(
      "/mcp/github",
    );
  });

  it("refuses certificates without exactly one valid SPIFFE URI SAN", () => {
    const none = makeCertificate({ subject: "/CN=plain", dnsNames: ["example.com"], issuer: ca });
    const two = makeCertificate({
      subject: "/CN=two",
      uris: [AGENT_ID, "spiffe://warden.local/agent/other"],
      issuer: ca,
    });
    const notSpiffe = makeCertificate({
      subject: "/CN=https",
      uris: ["https://warden.local/agent/x"],
      issuer: ca,
    });
    expect(() => spiffeIdFromCertificate(none.certPem)).toThrow("exactly one URI SAN (found 0)");
    expect(() => spiffeIdFromCertificate(two.certPem)).toThrow("exactly one URI SAN (found 2)");
    expect(() => spiffeIdFromCertificate(notSpiffe.certPem)).toThrow("not a valid SPIFFE ID");
  });

  it("verifies an SVID signed by the trust domain's bundle, directly or through an intermediate", () => {
    const direct = verifyX509Svid(leaf.certPem, bundles());
    expect(direct.spiffeId.id).toBe(AGENT_ID);
    expect(direct.path).toHaveLength(2);
    const chained = verifyX509Svid(leafViaIntermediate.certPem + intermediate.certPem, bundles());
    expect(chained.spiffeId.id).toBe("spiffe://warden.local/mcp/github");
    expect(chained.path.map((c) => c.subject)).toEqual([
      "O=SPIRE",
      "O=Warden Intermediate",
      "O=Warden Test CA",
    ]);
  });

  it("rejects an SVID from another CA, a missing intermediate, a CA leaf and an unknown trust domain", () => {
    const forged = makeSvidCertificate(AGENT_ID, otherCa);
    expect(() => verifyX509Svid(forged.certPem, bundles())).toThrow("not signed by the trust bundle");
    expect(() => verifyX509Svid(leafViaIntermediate.certPem, bundles())).toThrow(
      "not signed by the trust bundle",
    );
    expect(() => verifyX509Svid(intermediate.certPem, bundles())).toThrow("leaf certificate is a CA");
    const foreign = makeSvidCertificate("spiffe://partner.example/agent/x", ca);
    expect(() => verifyX509Svid(foreign.certPem, bundles())).toThrow(
      'no trust bundle for trust domain "partner.example"',
    );
  });

  it("rejects an SVID outside its validity period", () => {
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000);
    const yesterday = new Date(Date.now() - 86_400_000);
    expect(() => verifyX509Svid(leaf.certPem, bundles(), inTwoDays)).toThrow("has expired");
    expect(() => verifyX509Svid(leaf.certPem, bundles(), yesterday)).toThrow("not yet valid");
  });

  it("splits the Workload API's concatenated DER certificates and converts them to PEM", () => {
    const ders = [leafViaIntermediate, intermediate, ca].map((c) => new X509Certificate(c.certPem).raw);
    const parts = splitDerCertificates(Buffer.concat(ders));
    expect(parts.map((p) => p.equals(ders[parts.indexOf(p)]!))).toEqual([true, true, true]);
    const pem = derCertificatesToPem(Buffer.concat(ders));
    expect(parsePemCertificates(pem).map((c) => c.subject)).toEqual([
      "O=SPIRE",
      "O=Warden Intermediate",
      "O=Warden Test CA",
    ]);
    expect(() => splitDerCertificates(Buffer.concat(ders).subarray(0, 100))).toThrow("truncated");
  });
});
