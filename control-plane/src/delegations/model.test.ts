import { ApiError } from "../http/errors.js";
import {
  checkGrantRequest,
  checkNoEscalation,
  covers,
  delegableScopes,
  delegationClaims,
  statusOf,
} from "./model.js";

const catalogue = {
  scopes: new Set(["google-drive:read", "google-drive:write", "github:read"]),
  services: new Set(["google-drive", "github"]),
};
const limits = { defaultTtlSeconds: 86_400, maxTtlSeconds: 7 * 86_400 };

function problemsOf(run: () => unknown): { status: number; fields: string[] } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError)
      return { status: error.status, fields: (error.details ?? []).map((d) => d.field) };
    throw error;
  }
  throw new Error("expected an ApiError");
}

describe("grant requests", () => {
  test("default lifetime is 24 h; the maximum is enforced", () => {
    expect(checkGrantRequest({ agent_id: "a", scopes: ["github:read"] }, catalogue, limits)).toBe(86_400);
    expect(
      problemsOf(() =>
        checkGrantRequest(
          { agent_id: "a", scopes: ["github:read"], ttl_seconds: 7 * 86_400 + 1 },
          catalogue,
          limits,
        ),
      ),
    ).toEqual({
      status: 400,
      fields: ["ttl_seconds"],
    });
  });

  test("unknown scopes and destinations are named by index", () => {
    expect(
      problemsOf(() =>
        checkGrantRequest(
          { agent_id: "a", scopes: ["github:read", "jira:read"], destinations: ["dropbox"] },
          catalogue,
          limits,
        ),
      ),
    ).toEqual({ status: 400, fields: ["scopes[1]", "destinations[0]"] });
  });
});

describe("scope escalation", () => {
  test("only scopes both verified by KYA and delegable by the user pass", () => {
    expect(() => checkNoEscalation(["github:read"], ["github:*"], null)).not.toThrow();
    expect(
      problemsOf(() => checkNoEscalation(["github:read", "google-drive:write"], ["github:read"], null)),
    ).toEqual({
      status: 403,
      fields: ["scopes[1]"],
    });
    expect(problemsOf(() => checkNoEscalation(["github:read"], ["github:read"], ["google-drive:*"]))).toEqual(
      {
        status: 403,
        fields: ["scopes[0]"],
      },
    );
    expect(problemsOf(() => checkNoEscalation(["github:read"], null, null))).toEqual({
      status: 403,
      fields: ["scopes[0]"],
    });
  });

  test("patterns match exactly or by a trailing *", () => {
    expect(covers(["github:*"], "github:write")).toBe(true);
    expect(covers(["github:read"], "github:readme")).toBe(false);
    expect(covers(["*"], "anything")).toBe(true);
  });

  test("the delegable-scopes claim is a list or a space-separated string", () => {
    // Malformed claims limit everything rather than nothing (fail closed).
    for (const malformed of [["a", 1, "b"], 42, { a: 1 }, null, true])
      expect(() => delegableScopes(malformed)).toThrow(/malformed/);
    expect(delegableScopes("a  b")).toEqual(["a", "b"]);
    expect(delegableScopes(undefined)).toBeNull();
  });
});

test("claims are in the ID-JAG / RFC 8693 shape; status follows revocation and expiry", () => {
  const issued = new Date("2025-01-01T00:00:00Z");
  const expires = new Date("2025-01-02T00:00:00Z");
  const delegation = {
    id: "7a1b2c3d-0000-4000-8000-000000000001",
    tenant: "acme",
    user_id: "ursula",
    agent_spiffe_id: "spiffe://warden.local/agent/bot",
    scopes: ["github:read", "google-drive:read"],
    destinations: [],
    issued_at: issued,
    expires_at: expires,
  };
  expect(delegationClaims({ issuer: "https://cp", delegation })).toEqual({
    iss: "https://cp",
    sub: "ursula",
    aud: "warden",
    client_id: "spiffe://warden.local/agent/bot",
    act: { sub: "spiffe://warden.local/agent/bot" },
    scope: "github:read google-drive:read",
    jti: delegation.id,
    iat: issued.getTime() / 1000,
    nbf: issued.getTime() / 1000,
    exp: expires.getTime() / 1000,
    tenant: "acme",
  });
  expect(statusOf({ revoked_at: null, expires_at: expires }, issued)).toBe("active");
  expect(statusOf({ revoked_at: null, expires_at: expires }, expires)).toBe("expired");
  expect(statusOf({ revoked_at: issued, expires_at: expires }, issued)).toBe("revoked");
});
