import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { httpOk, portOpen, waitWhileAlive } from "../child.js";
import { distMain, REPO_ROOT } from "../layout.js";
import type { Component } from "../supervisor.js";
import { querySql } from "./postgres.js";

/** Our own programs, from dist/ as production runs them. */
const run = promisify(execFile);

export function devOidcComponent(dir: string, port: number): Component {
  const issuer = `http://127.0.0.1:${port}`;
  return {
    name: "dev-oidc",
    ports: { http: port },
    launch: () => ({
      command: process.execPath,
      args: [join(REPO_ROOT, "dist", "lib", "src", "runtime", "dev-oidc", "main.js"), dir, String(port)],
    }),
    async ready(alive) {
      await waitWhileAlive(
        "dev-oidc issuer",
        alive,
        () => httpOk(`${issuer}/.well-known/openid-configuration`),
        30_000,
      );
    },
    healthy: () => httpOk(`${issuer}/healthz`),
  };
}

export interface ControlPlaneParams {
  port: number;
  oidcIssuer: string;
  /** Superuser URL: migrations run at start-up. */
  databaseUrl: string;
  vaultAddress: string;
  vaultCaFile: string;
  vaultTokenFile: string;
  trustDomain: string;
  /** Embedded cluster: data-plane logins are created after the migrations. */
  createDataPlaneLogins: boolean;
  /** Its own directory (the refusal audit spool while PostgreSQL is down). */
  dir: string;
}

/** Login roles for the data plane (migrations 004 and 005 create their group roles). */
export const DATA_PLANE_LOGINS = { authz: "warden_authz", extproc: "warden_extproc_login" } as const;

export function dataPlaneUrl(databaseUrl: string, user: string): string {
  const url = new URL(databaseUrl);
  url.username = user;
  return url.toString();
}

export function controlPlaneComponent(params: ControlPlaneParams): Component {
  const url = `http://127.0.0.1:${params.port}`;
  return {
    name: "control-plane",
    ports: { http: params.port },
    launch: () => ({
      command: process.execPath,
      args: [distMain("control-plane")],
      env: {
        WARDEN_CP_PORT: String(params.port),
        WARDEN_OIDC_ISSUER: params.oidcIssuer,
        DATABASE_URL: params.databaseUrl,
        WARDEN_TRUST_DOMAIN: params.trustDomain,
        WARDEN_ATTESTATION_ISSUER: `spiffe://${params.trustDomain}/warden/control-plane`,
        WARDEN_CP_AUDIT_SPOOL: join(params.dir, "audit-spool.ndjson"),
        VAULT_ADDR: params.vaultAddress,
        VAULT_TOKEN_FILE: params.vaultTokenFile,
        VAULT_TOKEN: "",
        NODE_EXTRA_CA_CERTS: params.vaultCaFile,
      },
    }),
    async ready(alive) {
      await waitWhileAlive("control plane ready", alive, () => httpOk(`${url}/readyz`), 90_000);
      if (!params.createDataPlaneLogins) return;
      // authz-server reads the registry and appends its decisions to the audit log.
      const groups = {
        [DATA_PLANE_LOGINS.authz]: "warden_dataplane, warden_audit_writer",
        [DATA_PLANE_LOGINS.extproc]: "warden_extproc",
      };
      for (const [login, group] of Object.entries(groups)) {
        await querySql(
          params.databaseUrl,
          `DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${login}') THEN
               CREATE ROLE ${login} LOGIN;
             END IF;
           END $$;
           GRANT ${group} TO ${login}`,
        );
      }
    },
    healthy: () => httpOk(`${url}/readyz`),
  };
}

/** The shipped policy, built into a signed bundle when missing or older than policies/. */
export async function ensurePolicyBundle(dir: string): Promise<{ bundle: string; publicKey: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const signingKey = join(dir, "signing-key.pem");
  const publicKey = join(dir, "signing-key.pub.pem");
  if (!existsSync(signingKey)) {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(signingKey, pair.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    writeFileSync(publicKey, pair.publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  }
  const bundle = join(dir, "bundle.tar.gz");
  const policyDir = join(REPO_ROOT, "policies");
  if (!existsSync(bundle) || newestMtime(policyDir) > statSync(bundle).mtimeMs) {
    await run(
      process.execPath,
      [
        join(REPO_ROOT, "scripts", "build-policy.mjs"),
        "--dir",
        policyDir,
        "--out",
        bundle,
        "--signing-key",
        signingKey,
        "--quiet",
      ],
      { cwd: REPO_ROOT, timeout: 120_000 },
    );
    chmodSync(bundle, 0o644);
  }
  return { bundle, publicKey };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export interface ServerParams {
  trustDomain: string;
  spiffeEndpoint: string;
  uid?: number;
  databaseUrl: string;
}

export function authzComponent(
  params: ServerParams & {
    port: number;
    statusPort: number;
    policyDir: string;
    jwksUrl: string;
    /** Its own directory (the decision audit spool while PostgreSQL is down). */
    dir: string;
  },
): Component {
  let bundle = "";
  let publicKey = "";
  const readyUrl = `http://127.0.0.1:${params.statusPort}/readyz`;
  return {
    name: "authz-server",
    ports: { grpc: params.port, status: params.statusPort },
    async prepare() {
      ({ bundle, publicKey } = await ensurePolicyBundle(params.policyDir));
      mkdirSync(params.dir, { recursive: true, mode: 0o700 });
      ownedBy(params.dir, params.uid);
    },
    launch: () => ({
      command: process.execPath,
      args: [distMain("authz-server")],
      uid: params.uid,
      env: {
        WARDEN_AUTHZ_LISTEN: `127.0.0.1:${params.port}`,
        WARDEN_AUTHZ_STATUS_LISTEN: `127.0.0.1:${params.statusPort}`,
        WARDEN_POLICY_BUNDLE: bundle,
        WARDEN_POLICY_PUBLIC_KEY: publicKey,
        WARDEN_POLICY_REQUIRE_SIGNATURE: "true",
        WARDEN_REGISTRY_FILE: "",
        DATABASE_URL: params.databaseUrl,
        WARDEN_JWKS_URL: params.jwksUrl,
        WARDEN_AUDIT_SPOOL: join(params.dir, "audit-spool.ndjson"),
        WARDEN_ATTESTATION_ISSUER: `spiffe://${params.trustDomain}/warden/control-plane`,
        SPIFFE_ENDPOINT_SOCKET: params.spiffeEndpoint,
        WARDEN_SPIFFE_SOCKET: "",
      },
    }),
    async ready(alive) {
      await waitWhileAlive(
        "authz-server ready (policy loaded)",
        alive,
        async () => (await portOpen(params.port)) && (await httpOk(readyUrl)),
        60_000,
      );
    },
    healthy: async () => (await portOpen(params.port)) && (await httpOk(readyUrl)),
  };
}

export function extprocComponent(
  params: ServerParams & {
    port: number;
    vaultAddress: string;
    vaultCaFile: string;
    vaultClient: { certFile: string; keyFile: string };
    /** Its own directory (the usage spool while PostgreSQL is down). */
    dir: string;
  },
): Component {
  return {
    name: "extproc-server",
    ports: { grpc: params.port },
    async prepare() {
      mkdirSync(params.dir, { recursive: true, mode: 0o700 });
      ownedBy(params.dir, params.uid);
    },
    launch: () => ({
      command: process.execPath,
      args: [distMain("extproc-server")],
      uid: params.uid,
      env: {
        WARDEN_EXTPROC_LISTEN: `127.0.0.1:${params.port}`,
        DATABASE_URL: params.databaseUrl,
        VAULT_ADDR: params.vaultAddress,
        VAULT_CACERT: params.vaultCaFile,
        WARDEN_VAULT_CLIENT_CERT: params.vaultClient.certFile,
        WARDEN_VAULT_CLIENT_KEY: params.vaultClient.keyFile,
        WARDEN_VAULT_CERT_ROLE: "extproc",
        WARDEN_USAGE_SPOOL: join(params.dir, "usage-spool.ndjson"),
        SPIFFE_ENDPOINT_SOCKET: params.spiffeEndpoint,
        WARDEN_SPIFFE_SOCKET: "",
      },
    }),
    async ready(alive) {
      await waitWhileAlive("extproc-server listening", alive, () => portOpen(params.port), 60_000);
    },
    healthy: () => portOpen(params.port),
  };
}

export function ownedBy(path: string, uid: number | undefined): void {
  if (uid !== undefined) chownSync(path, uid, uid);
}
