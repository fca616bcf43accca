import type { Principal } from "../http/auth.js";
import type { RegistryEntry } from "../registry/model.js";
import { checkMayGovern } from "./governance.js";
import { MCP_TOKEN_MAX_TTL_S, mcpTokenClaims, mcpTokenScopes } from "./tokens.js";

const input = {
  issuer: "https://cp.example",
  jti: "6f1c2b7e-8a51-4b7a-9c7e-0f3f4d1b2a10",
  now: new Date("2026-06-01T12:00:00.700Z"),
  ttlSeconds: 900,
  resource: "https://drive-mcp.example.com/mcp",
  server: "drive-mcp",
  tenant: "acme",
  agentSpiffeId: "spiffe://warden.local/agent/drive-helper",
  scopes: ["google-drive:read", "google-drive:write"],
};

describe("MCP bearer tokens", () => {
  test("the claim set: aud the resource, sub and client_id the agent, whole seconds, no binding", () => {
    const iat = Math.floor(input.now.getTime() / 1000);
    expect(mcpTokenClaims(input)).toEqual({
      iss: "https://cp.example",
      aud: "https://drive-mcp.example.com/mcp",
      sub: "spiffe://warden.local/agent/drive-helper",
      client_id: "spiffe://warden.local/agent/drive-helper",
      mcp_server: "drive-mcp",
      tenant: "acme",
      scope: "google-drive:read google-drive:write",
      jti: input.jti,
      iat,
      nbf: iat,
      exp: iat + 900,
    });
  });

  test("a lifetime over an hour is refused", () => {
    expect(() => mcpTokenClaims({ ...input, ttlSeconds: MCP_TOKEN_MAX_TTL_S + 1 })).toThrow(
      expect.objectContaining({ status: 400 }),
    );
  });

  test("scopes: all verified ones by default, requested ones only when verified (wildcards cover)", () => {
    expect(mcpTokenScopes(undefined, ["google-drive:read"])).toEqual(["google-drive:read"]);
    expect(mcpTokenScopes(["github:read"], ["github:*"])).toEqual(["github:read"]);
    expect(() => mcpTokenScopes(["google-drive:read", "github:write"], ["google-drive:read"])).toThrow(
      expect.objectContaining({
        status: 403,
        details: [
          { field: "scopes[1]", message: '"github:write" is not among the agent\'s verified capabilities' },
        ],
      }),
    );
    expect(() => mcpTokenScopes(undefined, null)).toThrow(/no approved KYA attestation/);
  });
});

describe("who governs an MCP server", () => {
  const principal = (subject: string, ...roles: ("admin" | "reviewer" | "creator")[]): Principal => ({
    subject,
    roles: new Set(roles),
    tenant: null,
  });
  const server = { owner: "olive" } as RegistryEntry;

  test("its owner and admins; not other creators, not reviewers", () => {
    expect(() => checkMayGovern(principal("olive", "creator"), server, "x")).not.toThrow();
    expect(() => checkMayGovern(principal("ada", "admin"), server, "x")).not.toThrow();
    expect(() => checkMayGovern(principal("carl", "creator"), server, "change its tool rules")).toThrow(
      /only the MCP server's owner or an admin may change its tool rules/,
    );
    expect(() => checkMayGovern(principal("rita", "reviewer"), server, "x")).toThrow(
      expect.objectContaining({ status: 403 }),
    );
  });
});
