import { X509Certificate } from "node:crypto";
import { makeCertificate, type TestCertificate } from "../../../lib/src/spiffe/testing/certificates.js";
import { PeerCertificateVerifier } from "./peer-certificate-verifier.js";

/** A CA and SVIDs for several agents (real openssl), and a second CA to swap the bundle to. */
const pem: Record<string, string> = {};
const agent = (n: number) => `spiffe://warden.local/agent/bot-${n}`;
const AGENTS = 4;

const peerOf = (name: string, principal = "") => ({ principal, certificate: encodeURIComponent(pem[name]!) });
let nowMs: number;

beforeAll(() => {
  const ca: TestCertificate = makeCertificate({ subject: "/CN=ca", ca: true });
  pem.ca = ca.certPem;
  pem["other-ca"] = makeCertificate({ subject: "/CN=other-ca", ca: true }).certPem;
  for (let n = 0; n < AGENTS; n++) {
    pem[`bot-${n}`] = makeCertificate({ subject: "/O=SPIRE", uris: [agent(n)], issuer: ca }).certPem;
  }
  nowMs = Date.now() + 1_000;
}, 30_000);

function verifier(max?: number): PeerCertificateVerifier {
  const v = new PeerCertificateVerifier(max);
  v.setBundles({ "warden.local": pem.ca! });
  return v;
}

describe("PeerCertificateVerifier", () => {
  it("verifies a certificate's signature once, then answers from memory", () => {
    const v = verifier();
    for (let i = 0; i < 100; i++) expect(v.identify(peerOf("bot-0", agent(0)), nowMs).ok).toBe(true);
    expect(v.verifications).toBe(1);
  });

  it("still refuses a remembered certificate once it has expired", () => {
    const v = verifier();
    expect(v.identify(peerOf("bot-0"), nowMs).ok).toBe(true);
    const after = Date.parse(new X509Certificate(pem["bot-0"]!).validTo) + 1_000;
    expect(v.identify(peerOf("bot-0"), after)).toMatchObject({ ok: false, reason: "certificate_expired" });
    expect(v.verifications).toBe(1);
  });

  it("remembers refusals too, so a retrying impostor costs no signature check", () => {
    const v = new PeerCertificateVerifier();
    v.setBundles({ "warden.local": pem["other-ca"]! });
    for (let i = 0; i < 10; i++) {
      expect(v.identify(peerOf("bot-0"), nowMs)).toMatchObject({ reason: "certificate_untrusted" });
    }
    expect(v.verifications).toBe(1);
  });

  it("a remembered certificate is still refused when Envoy's principal disagrees with it", () => {
    const v = verifier();
    expect(v.identify(peerOf("bot-0", agent(0)), nowMs).ok).toBe(true);
    expect(v.identify(peerOf("bot-0", agent(1)), nowMs)).toMatchObject({ reason: "certificate_invalid" });
  });

  it("forgets what it verified when the bundles change (a CA removed from the bundle no longer counts)", () => {
    const v = verifier();
    expect(v.identify(peerOf("bot-0"), nowMs).ok).toBe(true);
    expect(v.setBundles({ "warden.local": pem["other-ca"]! })).toBe(true);
    expect(v.identify(peerOf("bot-0"), nowMs)).toMatchObject({ ok: false, reason: "certificate_untrusted" });
  });

  it("keeps its memory when a rotation delivers the same bundles again", () => {
    const v = verifier();
    v.identify(peerOf("bot-0"), nowMs);
    expect(v.setBundles({ "warden.local": pem.ca! })).toBe(false);
    v.identify(peerOf("bot-0"), nowMs);
    expect(v.verifications).toBe(1);
  });

  it("learns a federated trust domain when its bundle arrives", () => {
    const v = verifier();
    expect(v.setBundles({ "warden.local": pem["other-ca"]!, "partner.example": pem.ca! })).toBe(true);
    expect(v.trustDomains.sort()).toEqual(["partner.example", "warden.local"]);
  });

  it("holds at most its bound, dropping the oldest entry first", () => {
    const v = verifier(2);
    for (let n = 0; n < AGENTS; n++) v.identify(peerOf(`bot-${n}`), nowMs);
    expect(v.size).toBe(2);
    expect(v.verifications).toBe(AGENTS);
    v.identify(peerOf(`bot-${AGENTS - 1}`), nowMs); // newest: still remembered
    expect(v.verifications).toBe(AGENTS);
    v.identify(peerOf("bot-0"), nowMs); // oldest: dropped, verified again
    expect(v.verifications).toBe(AGENTS + 1);
  });

  it("refuses with identity_missing without a certificate and 503 before the first bundle", () => {
    expect(verifier().identify({ principal: agent(0), certificate: "" }, nowMs)).toMatchObject({
      status: 401,
      reason: "identity_missing",
    });
    expect(new PeerCertificateVerifier().identify(peerOf("bot-0"), nowMs)).toMatchObject({
      status: 503,
      reason: "trust_bundle_unavailable",
    });
  });
});
