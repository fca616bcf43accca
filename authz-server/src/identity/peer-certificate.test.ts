import { X509Certificate } from "node:crypto";
import { auth, type CheckRequest } from "../../../lib/src/envoy/services.js";
import { makeCertificate, type TestCertificate } from "../../../lib/src/spiffe/testing/certificates.js";
import { parseX509Bundles } from "../../../lib/src/spiffe/x509.js";
import { authorize, REFUSE_ALL_DELEGATIONS, type Policy } from "../authorizer.js";
import { EMPTY_DIRECTORY } from "./source.js";
import { PeerCertificateVerifier } from "./peer-certificate-verifier.js";
import { checkPeerCertificate, identityAt, identityFromPeerCertificate } from "./peer-certificate.js";

/** Certificates made with the real openssl: a warden.local CA, a partner CA and a rogue CA. */
const pem: Record<string, string> = {};
const made: Record<string, TestCertificate> = {};

function ca(name: string, issuer?: string, days = 3): void {
  made[name] = makeCertificate({
    subject: `/CN=${name}`,
    ca: true,
    days,
    issuer: issuer ? made[issuer] : undefined,
  });
  pem[name] = made[name].certPem;
}

function leaf(
  name: string,
  issuer: string,
  sans: { uris?: string[]; dnsNames?: string[]; ca?: boolean; days?: number },
): void {
  made[name] = makeCertificate({ subject: "/O=SPIRE", issuer: made[issuer], ...sans });
  pem[name] = made[name].certPem;
}

const BOT = "spiffe://warden.local/agent/research-bot";
const HELPER = "spiffe://partner.example/agent/helper";
/** What Envoy puts in `attributes.source` (it reads the principal from the same leaf). */
const peer = (name: string, principal = BOT) => ({ principal, certificate: encodeURIComponent(pem[name]!) });
const bundles = () => parseX509Bundles({ "warden.local": pem.ca! });
const validTo = (name: string) => Date.parse(new X509Certificate(pem[name]!).validTo);
/** Set after the certificates exist (their notBefore is the moment openssl made them). */
let now: Date;

beforeAll(() => {
  ca("ca");
  ca("partner");
  ca("rogue");
  ca("sub-ca", "ca", 1); // expires before the leaf it signs
  leaf("bot", "ca", { uris: [BOT] });
  leaf("partner-bot", "partner", { uris: [HELPER] });
  leaf("partner-signed-bot", "partner", { uris: [BOT] });
  leaf("rogue-bot", "rogue", { uris: [BOT] });
  leaf("no-san", "ca", {});
  leaf("dns-only", "ca", { dnsNames: ["bot.warden.local"] });
  leaf("two-uris", "ca", { uris: [BOT, "spiffe://warden.local/agent/other"] });
  leaf("not-spiffe", "ca", { uris: ["https://warden.local/agent/research-bot"] });
  leaf("ca-as-leaf", "ca", { uris: [BOT], ca: true });
  leaf("via-sub-ca", "sub-ca", { uris: [BOT], days: 2 });
  now = new Date(Date.now() + 1_000);
}, 30_000);

describe("identityFromPeerCertificate", () => {
  it("accepts an SVID that chains to the bundle and names the agent", () => {
    expect(identityFromPeerCertificate(peer("bot"), bundles(), now)).toEqual({
      ok: true,
      source: { spiffe_id: BOT, trust_domain: "warden.local", verified: true },
    });
  });

  it("accepts an SVID of a federated trust domain whose bundle the Workload API delivered", () => {
    const federated = parseX509Bundles({ "warden.local": pem.ca!, "partner.example": pem.partner! });
    expect(identityFromPeerCertificate(peer("partner-bot", HELPER), federated, now)).toMatchObject({
      ok: true,
      source: { spiffe_id: HELPER, trust_domain: "partner.example" },
    });
  });

  it("accepts a leaf that comes with its intermediate CA, and refuses it without", () => {
    const withChain = {
      principal: BOT,
      certificate: encodeURIComponent(pem["via-sub-ca"]! + pem["sub-ca"]!),
    };
    expect(identityFromPeerCertificate(withChain, bundles(), now).ok).toBe(true);
    expect(identityFromPeerCertificate(peer("via-sub-ca"), bundles(), now)).toMatchObject({
      reason: "certificate_untrusted",
    });
  });

  it.each([
    ["no certificate", { principal: "", certificate: "" }, "identity_missing"],
    ["no certificate, whatever principal", { principal: BOT, certificate: "" }, "identity_missing"],
    [
      "a certificate that is not PEM",
      { principal: "", certificate: "not%20a%20certificate" },
      "certificate_invalid",
    ],
    [
      "a certificate that is not URL-encoded",
      { principal: "", certificate: "%E0%A4%A" },
      "certificate_invalid",
    ],
    ["a certificate without a SAN", "no-san", "certificate_invalid"],
    ["a certificate with a DNS SAN only", "dns-only", "certificate_invalid"],
    ["a certificate with two URI SANs", "two-uris", "certificate_invalid"],
    ["a certificate whose URI SAN is not a SPIFFE ID", "not-spiffe", "certificate_invalid"],
    ["a CA certificate presented as a client certificate", "ca-as-leaf", "certificate_invalid"],
    ["an SVID of another trust domain (no bundle for it)", "partner-bot", "trust_domain_untrusted"],
    ["a registered agent's SPIFFE ID signed by another CA", "rogue-bot", "certificate_untrusted"],
  ])("refuses %s with 401 %s", (_what, given, reason) => {
    const attributes = typeof given === "string" ? peer(given, "") : given;
    expect(identityFromPeerCertificate(attributes, bundles(), now)).toMatchObject({
      ok: false,
      status: 401,
      reason,
    });
  });

  it("does not let one trust domain's CA vouch for another trust domain's IDs", () => {
    // The partner CA is trusted for partner.example only: its certificate naming a warden.local agent is untrusted.
    const federated = parseX509Bundles({ "warden.local": pem.ca!, "partner.example": pem.partner! });
    expect(identityFromPeerCertificate(peer("partner-signed-bot"), federated, now)).toMatchObject({
      reason: "certificate_untrusted",
    });
  });

  it("refuses an expired SVID as certificate_expired, and one not valid yet as certificate_not_yet_valid", () => {
    expect(
      identityFromPeerCertificate(peer("bot"), bundles(), new Date(validTo("bot") + 1_000)),
    ).toMatchObject({
      ok: false,
      status: 401,
      reason: "certificate_expired",
    });
    const before = new Date(Date.parse(new X509Certificate(pem.bot!).validFrom) - 60_000);
    expect(identityFromPeerCertificate(peer("bot"), bundles(), before)).toMatchObject({
      reason: "certificate_not_yet_valid",
    });
  });

  it("refuses a certificate whose SPIFFE ID differs from the TLS peer Envoy saw", () => {
    const result = identityFromPeerCertificate(
      peer("bot", "spiffe://warden.local/agent/other"),
      bundles(),
      now,
    );
    expect(result).toMatchObject({ ok: false, reason: "certificate_invalid" });
  });

  it("without any trust bundle refuses everything with 503 (nothing can be verified)", () => {
    expect(identityFromPeerCertificate(peer("bot"), new Map(), now)).toMatchObject({
      ok: false,
      status: 503,
      reason: "trust_bundle_unavailable",
    });
  });
});

describe("checkPeerCertificate and identityAt", () => {
  it("the check does not depend on the time: the validity window is applied afterwards", () => {
    const check = checkPeerCertificate(peer("bot").certificate, bundles());
    expect(check).toMatchObject({ ok: true, validUntilMs: validTo("bot") });
    expect(identityAt(check, BOT, now.getTime()).ok).toBe(true);
    expect(identityAt(check, BOT, validTo("bot"))).toMatchObject({ ok: true });
    expect(identityAt(check, BOT, validTo("bot") + 1)).toMatchObject({ reason: "certificate_expired" });
  });

  it("the window is the narrowest on the path: a CA certificate that expires first ends the leaf too", () => {
    const withChain = encodeURIComponent(pem["via-sub-ca"]! + pem["sub-ca"]!);
    const check = checkPeerCertificate(withChain, bundles());
    expect(validTo("sub-ca")).toBeLessThan(validTo("via-sub-ca"));
    expect(check.ok && check.validUntilMs).toBe(validTo("sub-ca"));
    expect(identityAt(check, BOT, validTo("sub-ca") + 1)).toMatchObject({ reason: "certificate_expired" });
  });
});

describe("authorize with peer certificate verification", () => {
  function check(certificate: string, principal = BOT, headers: Record<string, string> = {}): CheckRequest {
    const bytes = auth.CheckRequest.encode({
      attributes: {
        source: { principal, certificate },
        request: { http: { id: "r", method: "GET", path: "/openai/v1/models", host: "h", headers } },
        contextExtensions: { service: "openai", kind: "llm", path_prefix: "/openai/" },
      },
    }).finish();
    return auth.CheckRequest.decode(bytes);
  }

  /** A policy with a bug: it allows everything, even callers with no identity. */
  function allowEverything(): Policy & { inputs: { source: unknown }[] } {
    const inputs: { source: unknown }[] = [];
    return {
      revision: "r1",
      inputs,
      evaluate: (input) => {
        inputs.push(input as { source: unknown });
        return { allow: true, status: 200, reason: "allowed", headers: {}, metadata: {} };
      },
    };
  }

  function deps(policy: Policy, verifier = verifierWithBundles()) {
    return {
      policy: () => policy,
      directory: EMPTY_DIRECTORY,
      delegations: REFUSE_ALL_DELEGATIONS,
      nowNs: () => now.getTime() * 1e6,
      newDecisionId: () => "d-1",
      identify: (attributes: { principal: string; certificate: string }, nowNs: number) =>
        verifier.identify(attributes, nowNs / 1e6),
    };
  }

  function verifierWithBundles(): PeerCertificateVerifier {
    const verifier = new PeerCertificateVerifier();
    verifier.setBundles({ "warden.local": pem.ca! });
    return verifier;
  }

  it.each([
    ["no certificate", () => "", "identity_missing"],
    ["another CA", () => encodeURIComponent(pem["rogue-bot"]!), "certificate_untrusted"],
    ["another trust domain", () => encodeURIComponent(pem["partner-bot"]!), "trust_domain_untrusted"],
  ])(
    "refuses %s with a 401 JSON body before the policy runs, even a policy that allows everything",
    (_what, certificate, reason) => {
      const policy = allowEverything();
      const outcome = authorize(check(certificate(), ""), deps(policy));
      expect(policy.inputs).toHaveLength(0);
      expect(outcome.response.deniedResponse?.status?.code).toBe(401);
      expect(outcome.record).toMatchObject({ allow: false, status: 401, reason });
      expect(JSON.parse(String(outcome.response.deniedResponse?.body))).toMatchObject({
        error: { code: reason, decision_id: "d-1" },
      });
    },
  );

  it("refuses with 503 while authz-server has no trust bundle yet", () => {
    const policy = allowEverything();
    const outcome = authorize(
      check(encodeURIComponent(pem.bot!)),
      deps(policy, new PeerCertificateVerifier()),
    );
    expect(policy.inputs).toHaveLength(0);
    expect(outcome.response.deniedResponse?.status?.code).toBe(503);
  });

  it("gives the policy the identity read from the verified certificate, never from headers", () => {
    const policy = allowEverything();
    authorize(
      check(encodeURIComponent(pem.bot!), BOT, {
        "x-spiffe-id": "spiffe://warden.local/agent/admin",
        "x-forwarded-client-cert": "URI=spiffe://warden.local/agent/admin",
      }),
      deps(policy),
    );
    expect(policy.inputs[0]?.source).toEqual({
      spiffe_id: BOT,
      trust_domain: "warden.local",
      verified: true,
    });
  });

  it("a principal alone (no certificate) names nobody when certificates are verified", () => {
    const policy = allowEverything();
    const outcome = authorize(check("", BOT), deps(policy));
    expect(policy.inputs).toHaveLength(0);
    expect(outcome.record.reason).toBe("identity_missing");
  });
});
