import { readFileSync } from "node:fs";
import { join } from "node:path";
import { keycloakComponent, keycloakFiles, REALM } from "../../lib/src/runtime/components/keycloak.js";
import { freePorts, RUN_DIR, startComponent, type ManagedProcess } from "./process.js";

/**
 * The real Keycloak (.tools/keycloak, scripts/setup) on free loopback ports with the local realm
 * (control-plane/keycloak/warden-realm.json), started as `warden up --with-idp` starts it. Startup
 * takes a minute or more: share one instance per test file.
 */
export interface KeycloakIdp {
  /** `http://localhost:<port>/realms/warden`. */
  issuer: string;
  clientSecretFile: string;
  clientSecret: string;
  /** A user's access token for the control-plane API (password grant of the local-only CLI client). */
  tokenFor(username: string): Promise<string>;
  /** Keycloak's admin REST API (`/admin/realms/warden` + path) as the bootstrap admin; the JSON reply or null. */
  admin(method: string, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

export const LOCAL_CLI_CLIENT = "warden-local-cli";

/** The local realm's fixture password of a test user. */
export const passwordOf = (username: string) => `${username}-local-dev`;

export async function startKeycloak(options: { portalOrigins: readonly string[] }): Promise<KeycloakIdp> {
  const [port, managementPort] = (await freePorts(2)) as [number, number];
  const dir = join(RUN_DIR, `keycloak-${process.pid}-${port}`);
  const component = keycloakComponent({ dir, port, managementPort, portalOrigins: options.portalOrigins });
  const child: ManagedProcess = await startComponent(component, `keycloak-${port}`);
  const files = keycloakFiles({ dir, port });
  return {
    issuer: files.issuer,
    clientSecretFile: files.clientSecretFile,
    clientSecret: readFileSync(files.clientSecretFile, "utf8").trim(),
    async tokenFor(username) {
      const response = await fetch(`${files.issuer}/protocol/openid-connect/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "password",
          client_id: LOCAL_CLI_CLIENT,
          username,
          password: passwordOf(username),
          scope: "openid",
        }),
      });
      if (!response.ok) throw new Error(`Keycloak refused ${username} (${response.status}) in ${REALM}`);
      return ((await response.json()) as { access_token: string }).access_token;
    },
    async admin(method, path, body) {
      const base = `http://localhost:${port}`;
      const login = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "password",
          client_id: "admin-cli",
          username: "warden-bootstrap",
          password: readFileSync(join(dir, "bootstrap-admin-password"), "utf8").trim(),
        }),
      });
      if (!login.ok) throw new Error(`Keycloak admin login failed (${login.status})`);
      const { access_token } = (await login.json()) as { access_token: string };
      const response = await fetch(`${base}/admin/realms/${REALM}${path}`, {
        method,
        headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`Keycloak admin ${method} ${path}: ${response.status}`);
      const text = await response.text();
      return text ? (JSON.parse(text) as unknown) : null;
    },
    stop: async () => {
      await child.stop();
    },
  };
}
