import type { Grant } from "../../../lib/src/tokens/claims.js";
import { OAuthError } from "./errors.js";
import {
  clientCredentialsClaims,
  clientCredentialsRequest,
  exchangeClaims,
  parseGrant,
  tokenExchangeRequest,
  type AccessTokenInput,
} from "./grants.js";

const now = new Date("2025-06-01T00:00:00Z");
const nowS = now.getTime() / 1000;
const input: AccessTokenInput = {
  issuer: "https://cp",
  jti: "00000000-0000-4000-8000-000000000001",
  now,
  ttlSeconds: 600,
  client: { spiffeId: "spiffe://warden.local/agent/bot", thumbprint: "t".repeat(43) },
  tenant: "acme",
};
const delegation: Grant = {
  kind: "delegation",
  tokenId: "00000000-0000-4000-8000-000000000002",
  delegationId: "00000000-0000-4000-8000-000000000002",
  userId: "ursula",
  tenant: "acme",
  agentSpiffeId: "spiffe://warden.local/agent/bot",
  scopes: ["google-drive:read", "github:read"],
  destinations: [],
  audience: ["warden"],
  issuer: "https://cp",
  issuedAt: nowS - 60,
  notBefore: nowS - 60,
  expiresAt: nowS + 300,
  certificateThumbprint: null,
};
const services = new Set(["google-drive", "github"]);

function oauthError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof OAuthError) return error.code;
    throw error;
  }
  return "none";
}

test("client_credentials: the verified capabilities, or fewer; bound to the certificate", () => {
  const claims = clientCredentialsClaims(input, { grant_type: "client_credentials" }, [
    "llm:chat",
    "github:*",
  ]);
  expect(claims).toMatchObject({
    sub: input.client.spiffeId,
    client_id: input.client.spiffeId,
    aud: "warden",
    scope: "llm:chat github:*",
    exp: nowS + 600,
    cnf: { "x5t#S256": input.client.thumbprint },
  });
  expect(
    clientCredentialsClaims(input, { grant_type: "client_credentials", scope: "github:read" }, ["github:*"])
      .scope,
  ).toBe("github:read");
  expect(
    oauthError(() =>
      clientCredentialsClaims(input, { grant_type: "client_credentials", scope: "llm:chat" }, []),
    ),
  ).toBe("invalid_scope");
});

describe("token exchange", () => {
  const request = {
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange" as const,
    subject_token: "x",
    subject_token_type: "urn:ietf:params:oauth:token-type:id-jag" as const,
  };

  test("the user's grant, no longer than the delegation, for the requested audience", () => {
    const claims = exchangeClaims(
      input,
      { ...request, audience: "github", scope: "github:read" },
      delegation,
      services,
    );
    expect(claims).toMatchObject({
      sub: "ursula",
      act: { sub: input.client.spiffeId },
      delegation_id: delegation.delegationId,
      scope: "github:read",
      destinations: ["github"],
      exp: delegation.expiresAt,
    });
  });

  test("more scope, an unknown audience or one outside the delegation's destinations are refused", () => {
    expect(
      oauthError(() => exchangeClaims(input, { ...request, scope: "github:write" }, delegation, services)),
    ).toBe("invalid_scope");
    expect(
      oauthError(() => exchangeClaims(input, { ...request, audience: "dropbox" }, delegation, services)),
    ).toBe("invalid_target");
    expect(
      oauthError(() =>
        exchangeClaims(
          input,
          { ...request, audience: "github" },
          { ...delegation, destinations: ["google-drive"] },
          services,
        ),
      ),
    ).toBe("invalid_target");
  });
});

test("requests are checked strictly: unknown parameters and wrong token types are invalid_request", () => {
  expect(
    oauthError(() =>
      parseGrant(clientCredentialsRequest, { grant_type: "client_credentials", resource: "x" }),
    ),
  ).toBe("invalid_request");
  expect(
    oauthError(() =>
      parseGrant(tokenExchangeRequest, {
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: "x",
        subject_token_type: "urn:ietf:params:oauth:token-type:saml2",
      }),
    ),
  ).toBe("invalid_request");
  expect(
    oauthError(() =>
      parseGrant(clientCredentialsRequest, { grant_type: "client_credentials", scope: "a  b" }),
    ),
  ).toBe("invalid_request");
});
