import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realmFor } from "./components/keycloak.js";
import { policyBundleFiles } from "./components/node-programs.js";
import { homePaths, loadRuntimeConfig } from "./layout.js";
import { stackComponents } from "./stack.js";

/** `warden up --with-idp`: Keycloak before the control plane, which then trusts it and serves the portal. */
let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "warden-with-idp-"));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const names = (config: ReturnType<typeof loadRuntimeConfig>) =>
  stackComponents(config).components.map((c) => c.name);
const controlPlaneEnv = (config: ReturnType<typeof loadRuntimeConfig>) =>
  stackComponents(config)
    .components.find((c) => c.name === "control-plane")!
    .launch().env ?? {};

test("without --with-idp there is no Keycloak and no portal", () => {
  const config = loadRuntimeConfig({ WARDEN_HOME: home }, home);
  expect(names(config)).not.toContain("keycloak");
  expect(controlPlaneEnv(config).WARDEN_PORTAL_CLIENT_ID).toBeUndefined();
});

test("--with-idp starts Keycloak before the control plane and points its OIDC settings at the realm", () => {
  const config = loadRuntimeConfig({ WARDEN_HOME: home, WARDEN_CP_PORT: "18081" }, home, { withIdp: true });
  const order = names(config);
  expect(order.indexOf("keycloak")).toBeGreaterThan(-1);
  expect(order.indexOf("keycloak")).toBeLessThan(order.indexOf("control-plane"));
  const env = controlPlaneEnv(config);
  expect(env).toMatchObject({
    WARDEN_OIDC_ISSUER: `http://localhost:${config.ports.keycloak}/realms/warden`,
    WARDEN_OIDC_ROLES_CLAIM: "realm_access.roles",
    WARDEN_PORTAL_CLIENT_ID: "warden-portal",
    WARDEN_PORTAL_CLIENT_SECRET_FILE: join(home, "keycloak", "portal-client-secret"),
    WARDEN_PORTAL_URL: "http://localhost:18081/portal",
    // The signed bundle the authz-servers load, so the admin's policy page lists its models.
    WARDEN_PORTAL_POLICY_BUNDLE: policyBundleFiles(homePaths(home).policy).bundle,
    WARDEN_PORTAL_POLICY_PUBLIC_KEY: policyBundleFiles(homePaths(home).policy).publicKey,
  });
  // The secret goes by file reference, never in the environment or a config file.
  expect(JSON.stringify(env)).not.toMatch(/WARDEN_PORTAL_CLIENT_SECRET"/);
});

test("the imported realm sends the portal back only to its own callback, with a fresh secret", () => {
  const realm = realmFor(["http://localhost:18081"], "fresh-secret") as {
    clients: {
      clientId: string;
      secret?: string;
      redirectUris?: string[];
      attributes?: Record<string, string>;
    }[];
    _comment?: string;
  };
  const portal = realm.clients.find((c) => c.clientId === "warden-portal")!;
  expect(portal.secret).toBe("fresh-secret");
  expect(portal.redirectUris).toEqual(["http://localhost:18081/portal/callback"]);
  expect(portal.attributes!["post.logout.redirect.uris"]).toBe("http://localhost:18081/portal/signed-out");
  expect(portal.attributes!["pkce.code.challenge.method"]).toBe("S256");
  expect(realm._comment).toBeUndefined();
});
