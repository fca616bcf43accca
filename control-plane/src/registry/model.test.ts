import type { Principal } from "../http/auth.js";
import { checkMayChange, checkTransition, resolveSpiffeId, type RegistryEntry } from "./model.js";

const principal = (
  subject: string,
  ...roles: Principal["roles"] extends ReadonlySet<infer R> ? R[] : never
): Principal => ({ subject, roles: new Set(roles), tenant: null });
const entry = (overrides: Partial<RegistryEntry> = {}) =>
  ({ owner: "carl", status: "active", ...overrides }) as RegistryEntry;

describe("registry rules", () => {
  test("SPIFFE IDs follow spiffe://<td>/agent/<name> and /mcp/<name>", () => {
    const base = { name: "bot", tenant: "t", team: "t", type: "t", environment: "e" };
    expect(resolveSpiffeId("agent", "warden.local", base)).toBe("spiffe://warden.local/agent/bot");
    expect(resolveSpiffeId("mcp_server", "acme.prod", base)).toBe("spiffe://acme.prod/mcp/bot");
    expect(() =>
      resolveSpiffeId("agent", "warden.local", { ...base, spiffe_id: "spiffe://warden.local/mcp/bot" }),
    ).toThrow(/must be spiffe:\/\/warden.local\/agent\/bot/);
  });

  test.each([
    ["active", "suspended", true],
    ["suspended", "active", true],
    ["active", "revoked", true],
    ["revoked", "active", false],
    ["revoked", "suspended", false],
    ["revoked", "archived", true],
    ["archived", "active", false],
  ] as const)("%s → %s allowed: %s", (from, to, allowed) => {
    const attempt = () => checkTransition(from, to);
    if (allowed) expect(attempt).not.toThrow();
    else expect(attempt).toThrow(expect.objectContaining({ status: 409 }));
  });

  test("creators change only their own entries and may suspend but not re-activate or revoke", () => {
    expect(() => checkMayChange(principal("olga", "creator"), entry(), undefined)).toThrow(
      expect.objectContaining({ status: 403 }),
    );
    expect(() => checkMayChange(principal("carl", "creator"), entry(), "suspended")).not.toThrow();
    expect(() =>
      checkMayChange(principal("carl", "creator"), entry({ status: "suspended" }), "active"),
    ).toThrow(/admin or reviewer/);
    expect(() => checkMayChange(principal("carl", "creator"), entry(), "revoked")).toThrow(
      /admin or reviewer/,
    );
    expect(() =>
      checkMayChange(principal("rita", "reviewer"), entry({ status: "suspended" }), "active"),
    ).not.toThrow();
    expect(() =>
      checkMayChange(principal("alice", "admin"), entry({ status: "archived" }), undefined),
    ).toThrow(expect.objectContaining({ status: 409 }));
  });
});
