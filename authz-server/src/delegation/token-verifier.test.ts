import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { certificateThumbprint, pemLeafThumbprint } from "../../../lib/src/tokens/thumbprint.js";
import type { VerificationKey } from "../../../lib/src/tokens/jws.js";
import { TokenVerifier } from "./token-verifier.js";

const AGENT = "spiffe://warden.local/agent/drive-helper";
const OTHER = "spiffe://warden.local/agent/other-helper";
const NOW_S = 1_750_000_000;
const NOW_NS = NOW_S * 1e9;

const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
const keys = new Map<string, VerificationKey>([
  ["warden-tokens-v1", { kid: "warden-tokens-v1", alg: "ES256", key: publicKey }],
]);

function jws(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject = privateKey,
): string {
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${encode({ alg: "ES256", kid: "warden-tokens-v1", ...header })}.${encode(claims)}`;
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

const delegationClaims = (patch: Record<string, unknown> = {}) => ({
  iss: "https://cp.example",
  sub: "ursula",
  aud: "warden",
  client_id: AGENT,
  act: { sub: AGENT },
  scope: "google-drive:read",
  jti: randomUUID(),
  iat: NOW_S - 60,
  nbf: NOW_S - 60,
  exp: NOW_S + 3_600,
  tenant: "acme",
  ...patch,
});
const delegation = (patch: Record<string, unknown> = {}) =>
  jws({ typ: "oauth-id-jag+jwt" }, delegationClaims(patch));

let work: string;
let certA: string;
let certB: string;

function selfSignedCertificate(name: string): string {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(work, `${name}.key`),
      "-out",
      join(work, `${name}.pem`),
      "-days",
      "1",
      "-subj",
      `/CN=${name}`,
      "-addext",
      `subjectAltName=URI:${AGENT}`,
    ],
    { stdio: "pipe" },
  );
  return readFileSync(join(work, `${name}.pem`), "utf8");
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "token-verifier-"));
  certA = selfSignedCertificate("a");
  certB = selfSignedCertificate("b");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function verifier(revoked: Set<string> = new Set(), loaded = true) {
  return new TokenVerifier({
    keyFor: (kid) => keys.get(kid),
    expectations: {
      issuer: "https://cp.example",
      delegationAudience: "warden",
      accessTokenAudiences: new Set(["warden"]),
    },
    isRevoked: (id) => revoked.has(id),
    revocationsLoaded: () => loaded,
  });
}

describe("a delegation token", () => {
  test("from the agent it was granted to becomes the policy's delegation facts", () => {
    const claims = delegationClaims({ destinations: ["google-drive"] });
    const facts = verifier().verify(jws({ typ: "oauth-id-jag+jwt" }, claims), AGENT, NOW_NS);
    expect(facts).toEqual({
      present: true,
      valid: true,
      error: null,
      id: claims.jti,
      user: { id: "ursula", tenant: "acme" },
      scopes: ["google-drive:read"],
      destinations: ["google-drive"],
      expires_at: (NOW_S + 3_600) * 1e9,
    });
  });

  test.each([
    ["presented by another agent", () => verifier().verify(delegation(), OTHER, NOW_NS), "agent_mismatch"],
    ["without a verified caller", () => verifier().verify(delegation(), null, NOW_NS), "agent_mismatch"],
    ["past its expiry", () => verifier().verify(delegation({ exp: NOW_S }), AGENT, NOW_NS), "expired"],
    [
      "not valid yet",
      () => verifier().verify(delegation({ nbf: NOW_S + 600 }), AGENT, NOW_NS),
      "not_yet_valid",
    ],
    [
      "from another issuer",
      () => verifier().verify(delegation({ iss: "https://evil" }), AGENT, NOW_NS),
      "issuer_invalid",
    ],
    [
      "for another audience",
      () => verifier().verify(delegation({ aud: "elsewhere" }), AGENT, NOW_NS),
      "audience_invalid",
    ],
    [
      "whose client_id and act.sub disagree",
      () => verifier().verify(delegation({ client_id: OTHER }), AGENT, NOW_NS),
      "claims_invalid",
    ],
    [
      "signed by a key that is not published",
      () =>
        verifier().verify(
          jws({ typ: "oauth-id-jag+jwt" }, delegationClaims(), stranger.privateKey),
          AGENT,
          NOW_NS,
        ),
      "signature_invalid",
    ],
    [
      "naming an unknown kid",
      () =>
        verifier().verify(
          jws({ typ: "oauth-id-jag+jwt", kid: "warden-tokens-v9" }, delegationClaims()),
          AGENT,
          NOW_NS,
        ),
      "unknown_key",
    ],
    [
      "of another type (a KYA attestation)",
      () => verifier().verify(jws({ typ: "kya+jwt" }, delegationClaims()), AGENT, NOW_NS),
      "unsupported_token_type",
    ],
    ["that is not a JWS", () => verifier().verify("not-a-token", AGENT, NOW_NS), "malformed"],
    [
      "before the revocation set is loaded",
      () => verifier(new Set(), false).verify(delegation(), AGENT, NOW_NS),
      "revocation_status_unknown",
    ],
  ])("%s is refused", (_name, run, error) => {
    expect(run()).toMatchObject({ present: true, valid: false, error });
  });

  test("tampered claims (a wider scope) fail the signature", () => {
    const token = delegation();
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, scope: "google-drive:write" })).toString("base64url")}.${signature}`;
    expect(verifier().verify(forged, AGENT, NOW_NS)).toMatchObject({
      valid: false,
      error: "signature_invalid",
    });
  });

  test("a revoked delegation is refused even after its signature was cached", () => {
    const claims = delegationClaims();
    const token = jws({ typ: "oauth-id-jag+jwt" }, claims);
    const revoked = new Set<string>();
    const v = verifier(revoked);
    expect(v.verify(token, AGENT, NOW_NS).valid).toBe(true);
    revoked.add(claims.jti);
    expect(v.verify(token, AGENT, NOW_NS)).toMatchObject({ valid: false, error: "revoked" });
    expect(v.status()).toMatchObject({ signature_checks: 1, cache_hits: 1 });
  });
});

describe("an access token (RFC 8705 certificate-bound)", () => {
  // Exchanged from a delegation: its claims, shorter-lived, naming it and bound to certA.
  const accessClaims = (patch: Record<string, unknown> = {}) => ({
    ...delegationClaims({ iat: NOW_S - 10, nbf: undefined, exp: NOW_S + 300 }),
    delegation_id: randomUUID(),
    cnf: { "x5t#S256": pemLeafThumbprint(certA) },
    ...patch,
  });
  const encoded = (pem: string) => encodeURIComponent(pem);

  test("over the certificate it was issued to: the delegation's facts", () => {
    const claims = accessClaims();
    const facts = verifier().verify(jws({ typ: "at+jwt" }, claims), AGENT, NOW_NS, encoded(certA));
    expect(facts).toMatchObject({ valid: true, id: claims.delegation_id, user: { id: "ursula" } });
  });

  test("the same token over another client certificate (same SPIFFE ID) is refused", () => {
    const token = jws({ typ: "at+jwt" }, accessClaims());
    expect(verifier().verify(token, AGENT, NOW_NS, encoded(certB))).toMatchObject({
      valid: false,
      error: "certificate_mismatch",
    });
    expect(verifier().verify(token, AGENT, NOW_NS, "")).toMatchObject({
      valid: false,
      error: "certificate_mismatch",
    });
  });

  test("vouched for by a Warden sidecar: bound to the agent certificate's thumbprint it saw", () => {
    const token = jws({ typ: "at+jwt" }, accessClaims());
    const thumbprint = (pem: string) => ({ thumbprint: pemLeafThumbprint(pem) });
    expect(verifier().verify(token, AGENT, NOW_NS, thumbprint(certA))).toMatchObject({ valid: true });
    for (const seen of [thumbprint(certB), { thumbprint: null }])
      expect(verifier().verify(token, AGENT, NOW_NS, seen)).toMatchObject({
        valid: false,
        error: "certificate_mismatch",
      });
  });

  test("revoking the delegation it was exchanged from refuses it", () => {
    const claims = accessClaims();
    expect(
      verifier(new Set([claims.delegation_id])).verify(
        jws({ typ: "at+jwt" }, claims),
        AGENT,
        NOW_NS,
        encoded(certA),
      ),
    ).toMatchObject({
      error: "revoked",
    });
  });

  test("a client-credentials token is the agent acting as itself: no delegation, unless stolen", () => {
    const { act: _act, delegation_id: _d, ...cc } = accessClaims({ sub: AGENT });
    const token = jws({ typ: "at+jwt" }, cc);
    expect(verifier().verify(token, AGENT, NOW_NS, encoded(certA))).toMatchObject({ present: false });
    expect(verifier().verify(token, OTHER, NOW_NS, encoded(certA))).toMatchObject({
      present: true,
      error: "agent_mismatch",
    });
  });

  test("thumbprints are the base64url SHA-256 of the DER certificate", () => {
    expect(pemLeafThumbprint(certA)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pemLeafThumbprint(certA)).not.toBe(pemLeafThumbprint(certB));
    expect(certificateThumbprint(Buffer.from(certA.replace(/-----[^-]+-----|\s/g, ""), "base64"))).toBe(
      pemLeafThumbprint(certA),
    );
  });
});

test("verification cost per Check: the signature once per token, then a cache lookup", () => {
  const v = verifier();
  const tokens = Array.from({ length: 2_000 }, () => delegation());
  let started = performance.now();
  for (const token of tokens) v.verify(token, AGENT, NOW_NS);
  const firstUs = ((performance.now() - started) * 1000) / tokens.length;
  started = performance.now();
  for (let round = 0; round < 10; round += 1) for (const token of tokens) v.verify(token, AGENT, NOW_NS);
  const cachedUs = ((performance.now() - started) * 1000) / (tokens.length * 10);
  process.stdout.write(
    `delegation verification cost: first use ${firstUs.toFixed(1)} µs (ES256 signature + claims), cached ${cachedUs.toFixed(2)} µs per Check\n`,
  );
  expect(v.status().signature_checks).toBe(tokens.length);
  expect(cachedUs).toBeLessThan(firstUs);
});
