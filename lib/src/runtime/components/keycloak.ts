import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { httpOk, waitWhileAlive } from "../child.js";
import { REPO_ROOT } from "../layout.js";
import type { Component } from "../supervisor.js";

/**
 * Keycloak (the `keycloak-quarkus-dist` distribution from Maven Central, installed by scripts/setup
 * into .tools/keycloak) as the local identity provider of the web portal: `warden up --with-idp` and
 * the portal tests. Dev mode with an in-memory database on loopback: every start imports the
 * realm afresh (control-plane/keycloak/warden-realm.json, local test users only), through the admin
 * API with a bootstrap admin whose random password stays in the component's directory (0600).
 */
export const KEYCLOAK_HOME = join(REPO_ROOT, ".tools", "keycloak");
export const REALM_FILE = join(REPO_ROOT, "control-plane", "keycloak", "warden-realm.json");
export const REALM = "warden";
export const PORTAL_CLIENT_ID = "warden-portal";

export interface KeycloakParams {
  dir: string;
  port: number;
  managementPort: number;
  /** Origins the portal is served from (`http://localhost:8081`): its redirect URIs at Keycloak. */
  portalOrigins: readonly string[];
}

export interface KeycloakFiles {
  /** `http://localhost:<port>/realms/warden`: WARDEN_OIDC_ISSUER. */
  issuer: string;
  /** The portal client's secret (WARDEN_PORTAL_CLIENT_SECRET_FILE). */
  clientSecretFile: string;
}

export function keycloakFiles(params: Pick<KeycloakParams, "dir" | "port">): KeycloakFiles {
  return {
    issuer: `http://localhost:${params.port}/realms/${REALM}`,
    clientSecretFile: join(params.dir, "portal-client-secret"),
  };
}

interface RealmClient {
  clientId: string;
  secret?: string;
  redirectUris?: string[];
  attributes?: Record<string, string>;
}

/** The realm file with the portal's redirect URIs for these origins and a fresh client secret. */
export function realmFor(portalOrigins: readonly string[], clientSecret: string): Record<string, unknown> {
  const { _comment: _, ...realm } = JSON.parse(readFileSync(REALM_FILE, "utf8")) as {
    _comment?: string;
    clients: RealmClient[];
  };
  const portal = realm.clients.find((c) => c.clientId === PORTAL_CLIENT_ID);
  if (!portal) throw new Error(`${REALM_FILE} has no ${PORTAL_CLIENT_ID} client`);
  portal.secret = clientSecret;
  portal.redirectUris = portalOrigins.map((origin) => `${origin}/portal/callback`);
  portal.attributes = {
    ...portal.attributes,
    "post.logout.redirect.uris": portalOrigins.map((origin) => `${origin}/portal/signed-out`).join("##"),
  };
  return realm as unknown as Record<string, unknown>;
}

function secretIn(file: string): string {
  if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString("base64url") + "\n", { mode: 0o600 });
  return readFileSync(file, "utf8").trim();
}

async function importRealm(base: string, adminPassword: string, realm: Record<string, unknown>) {
  const tokenResponse = await fetch(`${base}/realms/master/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "password",
      client_id: "admin-cli",
      username: "warden-bootstrap",
      password: adminPassword,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!tokenResponse.ok) throw new Error(`Keycloak admin login failed (${tokenResponse.status})`);
  const { access_token } = (await tokenResponse.json()) as { access_token: string };
  const created = await fetch(`${base}/admin/realms`, {
    method: "POST",
    headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
    body: JSON.stringify(realm),
    signal: AbortSignal.timeout(60_000),
  });
  if (!created.ok && created.status !== 409)
    throw new Error(
      `Keycloak refused the realm (${created.status}): ${(await created.text()).slice(0, 300)}`,
    );
}

export function keycloakComponent(params: KeycloakParams): Component {
  const files = keycloakFiles(params);
  const base = `http://127.0.0.1:${params.port}`;
  const adminPasswordFile = join(params.dir, "bootstrap-admin-password");
  return {
    name: "keycloak",
    ports: { http: params.port, management: params.managementPort },
    prepare() {
      if (!existsSync(join(KEYCLOAK_HOME, "bin", "kc.sh")))
        throw new Error(`Keycloak is not installed in ${KEYCLOAK_HOME} (run scripts/setup)`);
      mkdirSync(params.dir, { recursive: true, mode: 0o700 });
      secretIn(adminPasswordFile);
      secretIn(files.clientSecretFile);
      return Promise.resolve();
    },
    launch() {
      return {
        command: join(KEYCLOAK_HOME, "bin", "kc.sh"),
        args: [
          "start-dev",
          "--db=dev-mem",
          "--http-host=127.0.0.1",
          `--http-port=${params.port}`,
          `--http-management-port=${params.managementPort}`,
          // One name for browsers and the control plane alike, so every token carries the same `iss`.
          `--hostname=http://localhost:${params.port}`,
          "--log-console-color=false",
        ],
        env: {
          ...process.env,
          KC_BOOTSTRAP_ADMIN_USERNAME: "warden-bootstrap",
          KC_BOOTSTRAP_ADMIN_PASSWORD: secretIn(adminPasswordFile),
          JAVA_OPTS_KC_HEAP: "-XX:MaxRAMPercentage=10 -Xms128m",
        },
        stopSignals: ["SIGTERM", "SIGKILL"],
      };
    },
    async ready(alive) {
      // Startup is slow (a Quarkus re-augmentation on first run, then the JVM): minutes on a busy machine.
      await waitWhileAlive("Keycloak to serve", alive, () => httpOk(`${base}/realms/master`), 300_000);
      await importRealm(
        base,
        secretIn(adminPasswordFile),
        realmFor(params.portalOrigins, secretIn(files.clientSecretFile)),
      );
      await waitWhileAlive(
        "the warden realm",
        alive,
        () => httpOk(`${base}/realms/${REALM}/.well-known/openid-configuration`),
        60_000,
      );
    },
    healthy: () => httpOk(`${base}/realms/${REALM}/.well-known/openid-configuration`),
  };
}
