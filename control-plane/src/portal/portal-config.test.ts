import { describe, expect, it } from "@jest/globals";
import { loadControlPlaneConfig } from "../config.js";
import { ConfigError } from "../../../lib/src/config.js";
import { safeReturnTo } from "./login.js";
import { hostCookie, readCookie } from "./session.js";

const base = { WARDEN_OIDC_ISSUER: "http://localhost:8083/realms/warden" };

function problems(env: Record<string, string>): string[] {
  try {
    loadControlPlaneConfig({ ...base, ...env });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("portal settings", () => {
  it("are off without a client id, and name each missing or wrong value when on", () => {
    expect(problems({})).toEqual([]);
    expect(problems({ WARDEN_PORTAL_CLIENT_ID: "warden-portal" })).toEqual([
      "WARDEN_PORTAL_CLIENT_ID needs WARDEN_PORTAL_CLIENT_SECRET_FILE or WARDEN_PORTAL_CLIENT_SECRET",
      "WARDEN_PORTAL_CLIENT_ID needs WARDEN_PORTAL_URL",
    ]);
  });

  it("refuse plain http anywhere but loopback, and a path other than /portal", () => {
    const on = { WARDEN_PORTAL_CLIENT_ID: "warden-portal", WARDEN_PORTAL_CLIENT_SECRET: "s3cret-value" };
    expect(problems({ ...on, WARDEN_PORTAL_URL: "http://localhost:8081/portal" })).toEqual([]);
    expect(problems({ ...on, WARDEN_PORTAL_URL: "https://warden.example/portal/" })).toEqual([]);
    expect(problems({ ...on, WARDEN_PORTAL_URL: "http://warden.example/portal" })).toEqual([
      "WARDEN_PORTAL_URL: must be https (or http on localhost/127.0.0.1/[::1])",
    ]);
    expect(problems({ ...on, WARDEN_PORTAL_URL: "https://warden.example/ui" })).toEqual([
      "WARDEN_PORTAL_URL: must end in /portal (where the control plane serves it)",
    ]);
  });

  it("take a policy bundle file only with the key it must verify with", () => {
    const on = {
      WARDEN_PORTAL_CLIENT_ID: "warden-portal",
      WARDEN_PORTAL_CLIENT_SECRET: "s3cret-value",
      WARDEN_PORTAL_URL: "http://localhost:8081/portal",
    };
    const key = { WARDEN_PORTAL_POLICY_PUBLIC_KEY: "/policy/signing-key.pub.pem" };
    expect(problems({ ...on, ...key, WARDEN_PORTAL_POLICY_BUNDLE: "/policy/bundle.tar.gz" })).toEqual([]);
    expect(problems({ ...on, WARDEN_PORTAL_POLICY_BUNDLE: "/policy/bundle.tar.gz" })).toEqual([
      "WARDEN_PORTAL_POLICY_BUNDLE needs WARDEN_PORTAL_POLICY_PUBLIC_KEY (model lists are shown only from a verified bundle)",
    ]);
    expect(problems({ ...on, ...key })).toEqual([
      "WARDEN_PORTAL_POLICY_PUBLIC_KEY is set but WARDEN_PORTAL_POLICY_BUNDLE is not",
    ]);
    expect(problems({ ...on, ...key, WARDEN_PORTAL_POLICY_BUNDLE: "https://cp/v1/policy/bundle" })).toEqual([
      "WARDEN_PORTAL_POLICY_BUNDLE: must be a file path (the bundle file the authz-servers load)",
    ]);
  });
});

describe("after sign-in the browser returns", () => {
  it("only to a page of the portal, never to another site", () => {
    expect(safeReturnTo("/portal/agents?cursor=x")).toBe("/portal/agents?cursor=x");
    expect(safeReturnTo("/portal")).toBe("/portal");
    for (const evil of [
      "https://evil.example/",
      "//evil.example/portal/",
      "/portal//evil.example",
      "/portal/\\evil",
      "/portalx",
      undefined,
    ])
      expect(safeReturnTo(evil)).toBe("/portal/");
  });
});

describe("session cookies", () => {
  it("are __Host- cookies: Secure, HttpOnly, SameSite=Lax, Path=/ and no Domain", () => {
    const cookie = hostCookie("__Host-warden_session", "abc", 60);
    expect(cookie).toBe("__Host-warden_session=abc; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax");
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it("are read only when well formed", () => {
    const id = "A".repeat(43);
    expect(readCookie(`a=b; __Host-warden_session=${id}`, "__Host-warden_session")).toBe(id);
    expect(readCookie("__Host-warden_session=short", "__Host-warden_session")).toBeUndefined();
    expect(readCookie(`__Host-warden_session=${id};x`, "__Host-warden_session")).toBe(id);
    expect(readCookie(undefined, "__Host-warden_session")).toBeUndefined();
  });
});
