import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import type { VerificationKey } from "./jws.js";
import { checkBearerUse, verifyResourceToken, verifyTokenSignature } from "./verify.js";

const AGENT = "spiffe://warden.local/agent/drive-helper";
const RESOURCE = "https://drive-mcp.example.com/mcp";
const NOW = new Date("2026-06-01T12:00:00Z");
const NOW_S = NOW.getTime() / 1000;
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const KEYS = new Map<string, VerificationKey>([["k1", { kid: "k1", alg: "ES256", key: publicKey }]]);
const keyFor = (kid: string) => KEYS.get(kid);

function jws(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${encode({ alg: "ES256", kid: "k1", ...header })}.${encode(claims)}`;
  const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}

/** The claim set the control plane mints (control-plane/src/mcp/tokens.ts). */
const claims = (patch: Record<string, unknown> = {}) => ({
  iss: "https://cp.example",
  aud: RESOURCE,
  sub: AGENT,
  client_id: AGENT,
  mcp_server: "drive-mcp",
  tenant: "acme",
  scope: "google-drive:read",
  jti: randomUUID(),
  iat: NOW_S,
  nbf: NOW_S,
  exp: NOW_S + 900,
  ...patch,
});
const token = (patch: Record<string, unknown> = {}, typ = "at+jwt") => jws({ typ }, claims(patch));

describe("MCP resource tokens", () => {
  test("the minted claims verify for their resource and grant the agent its scopes", () => {
    const outcome = verifyResourceToken(token(), keyFor, {
      issuer: "https://cp.example",
      resource: RESOURCE,
    });
    expect(outcome).toMatchObject({
      ok: true,
      grant: {
        kind: "access_token",
        agentSpiffeId: AGENT,
        userId: null,
        delegationId: null,
        scopes: ["google-drive:read"],
        audience: [RESOURCE],
        certificateThumbprint: null,
        expiresAt: NOW_S + 900,
      },
    });
  });

  test.each([
    ["another resource", {}, "at+jwt", { resource: "https://other.example.com/mcp" }, "audience_invalid"],
    [
      "another issuer",
      {},
      "at+jwt",
      { resource: RESOURCE, issuer: "https://evil.example" },
      "issuer_invalid",
    ],
    ["a delegation type", {}, "oauth-id-jag+jwt", { resource: RESOURCE }, "unsupported_token_type"],
    [
      "a certificate binding",
      { cnf: { "x5t#S256": "a".repeat(43) } },
      "at+jwt",
      { resource: RESOURCE },
      "claims_invalid",
    ],
    ["a user behind it", { act: { sub: AGENT } }, "at+jwt", { resource: RESOURCE }, "claims_invalid"],
    [
      "sub other than the client",
      { sub: "spiffe://warden.local/agent/x" },
      "at+jwt",
      { resource: RESOURCE },
      "claims_invalid",
    ],
    ["a non-URI audience", { aud: "warden" }, "at+jwt", { resource: () => true }, "claims_invalid"],
  ] as const)("a token with %s is refused", (_what, patch, typ, expect_, error) => {
    expect(verifyResourceToken(token(patch, typ), keyFor, expect_)).toEqual({ ok: false, error });
  });

  test("outbound sidecars' verifier never accepts one, whatever audiences it allows", () => {
    const outcome = verifyTokenSignature(token(), keyFor, {
      accessTokenAudiences: new Set(["warden", RESOURCE]),
      delegationAudience: "warden",
    });
    expect(outcome).toEqual({ ok: false, error: "claims_invalid" });
  });

  test("bearer use: refused once revoked or expired, fine before", () => {
    const outcome = verifyResourceToken(token(), keyFor, { resource: RESOURCE });
    if (!outcome.ok) throw new Error(outcome.error);
    const revoked = new Set<string>();
    const use = (nowSeconds: number) =>
      checkBearerUse(outcome.grant, { nowSeconds, isRevoked: (id) => revoked.has(id) });
    expect(use(NOW_S + 10)).toBeNull();
    expect(use(NOW_S + 900)).toBe("expired");
    revoked.add(outcome.grant.tokenId);
    expect(use(NOW_S + 10)).toBe("revoked");
  });

  test("bearer use of a certificate-bound grant is refused", () => {
    const outcome = verifyResourceToken(token(), keyFor, { resource: RESOURCE });
    if (!outcome.ok) throw new Error(outcome.error);
    const bound = { ...outcome.grant, certificateThumbprint: "a".repeat(43) };
    expect(checkBearerUse(bound, { nowSeconds: NOW_S, isRevoked: () => false })).toBe("certificate_mismatch");
  });
});
