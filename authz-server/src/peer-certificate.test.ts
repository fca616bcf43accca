import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auth, type CheckRequest } from "../../lib/src/envoy/services.js";
import { parseX509Bundles } from "../../lib/src/spiffe/x509.js";
import { authorize, REFUSE_ALL_DELEGATIONS, type Policy } from "./authorizer.js";
import { EMPTY_DIRECTORY } from "./identity.js";
import { identityFromPeerCertificate, PeerCertificateVerifier } from "./peer-certificate.js";

/** Certificates made with the real openssl: a warden.local CA, a partner CA and a rogue CA. */
let dir: string;
const pem: Record<string, string> = {};

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function makeCa(name: string): void {
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:true",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ]);
  pem[name] = readFileSync(join(dir, `${name}.pem`), "utf8");
}

function makeLeaf(name: string, ca: string, san: string | null): void {
  openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    "/O=SPIRE",
  ]);
  const ext = [san ? `subjectAltName=${san}` : "", "basicConstraints=critical,CA:false"].join("\n");
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "1",
    "-extfile",
    `${name}.ext`,
  ]);
  pem[name] = readFileSync(join(dir, `${name}.pem`), "utf8");
}

const BOT = "spiffe://warden.local/agent/research-bot";
/** What Envoy puts in `attributes.source`. */
const peer = (name: string, principal = BOT) => ({ principal, certificate: encodeURIComponent(pem[name]!) });
const bundles = () => parseX509Bundles({ "warden.local": pem.ca! });
/** Set after the certificates exist (their notBefore is the moment openssl made them). */
let now: Date;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "peer-cert-"));
  makeCa("ca");
  makeCa("partner");
  makeCa("rogue");
  makeLeaf("bot", "ca", `URI:${BOT}`);
  makeLeaf("partner-bot", "partner", "URI:spiffe://partner.example/agent/helper");
  makeLeaf("rogue-bot", "rogue", `URI:${BOT}`);
  makeLeaf("no-san", "ca", null);
  now = new Date(Date.now() + 1_000);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("identityFromPeerCertificate", () => {
  it("accepts an SVID that chains to the bundle and names the agent", () => {
    expect(identityFromPeerCertificate(peer("bot"), bundles(), now)).toEqual({
      ok: true,
      source: { spiffe_id: BOT, trust_domain: "warden.local", verified: true },
    });
  });

  it.each([
    ["no certificate", { principal: "", certificate: "" }, "identity_missing"],
    [
      "a certificate that is not PEM",
      { principal: "", certificate: "not%20a%20certificate" },
      "certificate_invalid",
    ],
    ["a certificate without a SPIFFE ID", "no-san", "certificate_invalid"],
    ["an SVID of another trust domain", "partner-bot", "trust_domain_untrusted"],
    ["a registered agent's SPIFFE ID signed by another CA", "rogue-bot", "certificate_invalid"],
  ])("refuses %s with 401", (_what, given, reason) => {
    const attributes =
      typeof given === "string"
        ? peer(given, given === "partner-bot" ? "spiffe://partner.example/agent/helper" : "")
        : given;
    expect(identityFromPeerCertificate(attributes, bundles(), now)).toMatchObject({
      ok: false,
      status: 401,
      reason,
    });
  });

  it("refuses an expired SVID as certificate_expired", () => {
    const after = new Date(new Date(new X509Certificate(pem.bot!).validTo).getTime() + 1_000);
    expect(identityFromPeerCertificate(peer("bot"), bundles(), after)).toMatchObject({
      ok: false,
      reason: "certificate_expired",
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
});

describe("PeerCertificateVerifier", () => {
  it("remembers a verified certificate but still refuses it once expired", () => {
    const verifier = new PeerCertificateVerifier(bundles());
    expect(verifier.identify(peer("bot"), now).ok).toBe(true);
    const after = new Date(new Date(new X509Certificate(pem.bot!).validTo).getTime() + 1_000);
    expect(verifier.identify(peer("bot"), after)).toMatchObject({ ok: false, reason: "certificate_expired" });
  });

  it("forgets what it verified when the bundles change (a CA removed from the bundle no longer counts)", () => {
    const verifier = new PeerCertificateVerifier(bundles());
    expect(verifier.identify(peer("bot"), now).ok).toBe(true);
    verifier.setBundles(parseX509Bundles({ "warden.local": pem.rogue! }));
    expect(verifier.identify(peer("bot"), now)).toMatchObject({ ok: false, reason: "certificate_invalid" });
  });
});

describe("authorize with peer certificate verification", () => {
  function check(certificate: string): CheckRequest {
    const bytes = auth.CheckRequest.encode({
      attributes: {
        source: { principal: BOT, certificate },
        request: { http: { id: "r", method: "GET", path: "/openai/v1/models", host: "h", headers: {} } },
        contextExtensions: { service: "openai", kind: "llm", path_prefix: "/openai/" },
      },
    }).finish();
    return auth.CheckRequest.decode(bytes);
  }

  it("refuses an unverifiable identity with a 401 JSON body before the policy runs", () => {
    const evaluated: unknown[] = [];
    const policy: Policy = {
      revision: "r1",
      evaluate: (input) => {
        evaluated.push(input);
        return { allow: true, status: 200, reason: "allowed", headers: {}, metadata: {} };
      },
    };
    const verifier = new PeerCertificateVerifier(bundles());
    const outcome = authorize(check(encodeURIComponent(pem["rogue-bot"]!)), {
      policy: () => policy,
      directory: EMPTY_DIRECTORY,
      delegations: REFUSE_ALL_DELEGATIONS,
      nowNs: () => now.getTime() * 1e6,
      newDecisionId: () => "d-1",
      identify: (attributes, nowNs) => verifier.identify(attributes, new Date(nowNs / 1e6)),
    });
    expect(evaluated).toHaveLength(0);
    expect(outcome.response.deniedResponse?.status?.code).toBe(401);
    expect(JSON.parse(String(outcome.response.deniedResponse?.body))).toMatchObject({
      error: { code: "certificate_invalid", decision_id: "d-1" },
    });
  });

  it("gives the policy the identity read from the verified certificate", () => {
    const inputs: { source: unknown }[] = [];
    const verifier = new PeerCertificateVerifier(bundles());
    authorize(check(encodeURIComponent(pem.bot!)), {
      policy: () => ({
        revision: "r1",
        evaluate: (input) => {
          inputs.push(input as { source: unknown });
          return { allow: true, status: 200, reason: "allowed", headers: {}, metadata: {} };
        },
      }),
      directory: EMPTY_DIRECTORY,
      delegations: REFUSE_ALL_DELEGATIONS,
      nowNs: () => now.getTime() * 1e6,
      newDecisionId: () => "d-2",
      identify: (attributes, nowNs) => verifier.identify(attributes, new Date(nowNs / 1e6)),
    });
    expect(inputs[0]?.source).toEqual({ spiffe_id: BOT, trust_domain: "warden.local", verified: true });
  });
});
