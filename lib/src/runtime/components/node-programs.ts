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

/** One of our Node programs: how it is launched and how to tell that it serves. */
export interface NodeProgram {
  name: string;
  /** The script Node runs and its arguments (e.g. [distMain("authz-server")]). */
  args: string[];
  ports: Record<string, number>;
  /** Its environment, read at every launch (after `prepare`). */
  env: () => NodeJS.ProcessEnv;
  uid?: number;
  /** Its own directory (spools), made 0700 and owned by `uid`. */
  dir?: string;
  prepare?: () => Promise<void>;
  /** What the start waits for (named in a timeout). */
  readiness: string;
  serving: () => Promise<boolean>;
  readyTimeoutMs: number;
  /** Set-up once it serves, after every launch. */
  afterReady?: () => Promise<void>;
  /** Defaults to `serving`. */
  healthy?: () => Promise<boolean>;
}

export function nodeProgramComponent(program: NodeProgram): Component {
  const { dir, uid } = program;
  return {
    name: program.name,
    ports: program.ports,
    async prepare() {
      await program.prepare?.();
      if (dir === undefined) return;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      ownedBy(dir, uid);
    },
    launch: () => ({ command: process.execPath, args: program.args, uid, env: program.env() }),
    async ready(alive) {
      await waitWhileAlive(program.readiness, alive, program.serving, program.readyTimeoutMs);
      await program.afterReady?.();
    },
    healthy: program.healthy ?? program.serving,
  };
}

export function devOidcComponent(dir: string, port: number): Component {
  const issuer = `http://127.0.0.1:${port}`;
  return nodeProgramComponent({
    name: "dev-oidc",
    args: [join(REPO_ROOT, "dist", "lib", "src", "runtime", "dev-oidc", "main.js"), dir, String(port)],
    ports: { http: port },
    env: () => ({}),
    readiness: "dev-oidc issuer",
    serving: () => httpOk(`${issuer}/.well-known/openid-configuration`),
    readyTimeoutMs: 30_000,
    healthy: () => httpOk(`${issuer}/healthz`),
  });
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
  /** Where the rate-limit service reads the API's limits (WARDEN_RATELIMIT_CONFIG_FILE). */
  rateLimitConfigFile?: string;
  /** Keycloak's realm instead of the development issuer, and the web portal (warden up --with-idp). */
  portal?: {
    issuer: string;
    clientId: string;
    clientSecretFile: string;
    url: string;
    /** The signed bundle the authz-servers load and its key (the admin's policy page lists its models). */
    policyBundle?: { bundle: string; publicKey: string };
  };
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
  return nodeProgramComponent({
    name: "control-plane",
    args: [distMain("control-plane")],
    ports: { http: params.port },
    env: () => ({
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
      ...(params.rateLimitConfigFile ? { WARDEN_RATELIMIT_CONFIG_FILE: params.rateLimitConfigFile } : {}),
      ...(params.portal
        ? {
            WARDEN_OIDC_ISSUER: params.portal.issuer,
            WARDEN_OIDC_ROLES_CLAIM: "realm_access.roles",
            WARDEN_PORTAL_CLIENT_ID: params.portal.clientId,
            WARDEN_PORTAL_CLIENT_SECRET_FILE: params.portal.clientSecretFile,
            WARDEN_PORTAL_URL: params.portal.url,
            ...(params.portal.policyBundle
              ? {
                  WARDEN_PORTAL_POLICY_BUNDLE: params.portal.policyBundle.bundle,
                  WARDEN_PORTAL_POLICY_PUBLIC_KEY: params.portal.policyBundle.publicKey,
                }
              : {}),
          }
        : {}),
    }),
    readiness: "control plane ready",
    serving: () => httpOk(`${url}/readyz`),
    readyTimeoutMs: 90_000,
    afterReady: async () => {
      if (params.createDataPlaneLogins) await createDataPlaneLogins(params.databaseUrl);
    },
  });
}

/** authz-server reads the registry and appends its decisions to the audit log. */
async function createDataPlaneLogins(databaseUrl: string): Promise<void> {
  const groups = {
    [DATA_PLANE_LOGINS.authz]: "warden_dataplane, warden_audit_writer",
    [DATA_PLANE_LOGINS.extproc]: "warden_extproc",
  };
  for (const [login, group] of Object.entries(groups)) {
    await querySql(
      databaseUrl,
      `DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${login}') THEN
           CREATE ROLE ${login} LOGIN;
         END IF;
       END $$;
       GRANT ${group} TO ${login}`,
    );
  }
}

/** The shipped policy, built into a signed bundle when missing or older than policies/. */
/** Where ensurePolicyBundle keeps the signed bundle and its public key. */
export function policyBundleFiles(dir: string): { bundle: string; publicKey: string } {
  return { bundle: join(dir, "bundle.tar.gz"), publicKey: join(dir, "signing-key.pub.pem") };
}

export async function ensurePolicyBundle(dir: string): Promise<{ bundle: string; publicKey: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const signingKey = join(dir, "signing-key.pem");
  const { bundle, publicKey } = policyBundleFiles(dir);
  if (!existsSync(signingKey)) {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(signingKey, pair.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    writeFileSync(publicKey, pair.publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  }
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
  /** WARDEN_WORKERS: serving processes sharing its ports (lib/src/grpc-server/workers.ts); default 1. */
  workers?: number;
  /** Traces go to this OTLP/gRPC collector; null: tracing off. */
  otlpEndpoint?: string | null;
}

export function authzComponent(
  params: ServerParams & {
    port: number;
    statusPort: number;
    policyDir: string;
    jwksUrl: string;
    /** Its own directory (the decision audit spool while PostgreSQL is down). */
    dir: string;
    /**
     * The authz-server of an MCP server's inbound sidecar (WARDEN_INBOUND_*): it answers that
     * sidecar's Envoy (`envoySpiffeId`) only. Without it, the agents' sidecar's (and no WARDEN_INBOUND_*
     * from the supervisor's own environment leaks in).
     */
    inbound?: { name: string; server: string; resourceUri: string; envoySpiffeId: string };
    /**
     * The authz-server of an agent's zero-code sidecar (WARDEN_ZERO_CODE_AGENT): it answers only that
     * sidecar's Envoy, which holds the agent's SVID, and believes its zero-code routes.
     */
    zeroCode?: { name: string; agentSpiffeId: string };
  },
): Component {
  let bundle = "";
  let publicKey = "";
  const readyUrl = `http://127.0.0.1:${params.statusPort}/readyz`;
  const inbound = params.inbound;
  const zeroCode = params.zeroCode;
  const name = inbound?.name ?? zeroCode?.name ?? "authz-server";
  return nodeProgramComponent({
    name,
    args: [distMain("authz-server")],
    ports: { grpc: params.port, status: params.statusPort },
    uid: params.uid,
    dir: params.dir,
    async prepare() {
      ({ bundle, publicKey } = await ensurePolicyBundle(params.policyDir));
    },
    env: () => ({
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
      WARDEN_INBOUND_MCP_SERVER: inbound?.server ?? "",
      WARDEN_INBOUND_RESOURCE_URI: inbound?.resourceUri ?? "",
      WARDEN_INBOUND_TRUSTED_SIDECARS: "",
      WARDEN_ALLOWED_CLIENT_IDS: inbound?.envoySpiffeId ?? zeroCode?.agentSpiffeId ?? "",
      WARDEN_ZERO_CODE_AGENT: zeroCode?.agentSpiffeId ?? "",
      WARDEN_WORKERS: String(params.workers ?? 1),
      WARDEN_OTLP_ENDPOINT: params.otlpEndpoint ?? "",
    }),
    readiness: `${name} ready (policy loaded)`,
    serving: async () => (await portOpen(params.port)) && (await httpOk(readyUrl)),
    readyTimeoutMs: 60_000,
  });
}

export function extprocComponent(
  params: ServerParams & {
    port: number;
    /** Its status listener: /healthz, /readyz, /status, /metrics. */
    statusPort: number;
    vaultAddress: string;
    vaultCaFile: string;
    vaultClient: { certFile: string; keyFile: string };
    /** Its own directory (the usage spool while PostgreSQL is down). */
    dir: string;
    /** The Envoys it answers (the agents' sidecar and an inbound sidecar); default: the agents' sidecar. */
    allowedClients?: string[];
    /** The rate-limit service's gRPC port on loopback: LLM tokens are charged to it. */
    rateLimitPort?: number;
  },
): Component {
  return nodeProgramComponent({
    name: "extproc-server",
    args: [distMain("extproc-server")],
    ports: { grpc: params.port, status: params.statusPort },
    uid: params.uid,
    dir: params.dir,
    env: () => ({
      WARDEN_EXTPROC_LISTEN: `127.0.0.1:${params.port}`,
      WARDEN_EXTPROC_STATUS_LISTEN: `127.0.0.1:${params.statusPort}`,
      DATABASE_URL: params.databaseUrl,
      VAULT_ADDR: params.vaultAddress,
      VAULT_CACERT: params.vaultCaFile,
      WARDEN_VAULT_CLIENT_CERT: params.vaultClient.certFile,
      WARDEN_VAULT_CLIENT_KEY: params.vaultClient.keyFile,
      WARDEN_VAULT_CERT_ROLE: "extproc",
      WARDEN_USAGE_SPOOL: join(params.dir, "usage-spool.ndjson"),
      SPIFFE_ENDPOINT_SOCKET: params.spiffeEndpoint,
      WARDEN_SPIFFE_SOCKET: "",
      WARDEN_ALLOWED_CLIENT_IDS: (params.allowedClients ?? []).join(","),
      WARDEN_RATELIMIT_GRPC_ADDRESS:
        params.rateLimitPort === undefined ? "" : `127.0.0.1:${params.rateLimitPort}`,
      WARDEN_WORKERS: String(params.workers ?? 1),
      WARDEN_OTLP_ENDPOINT: params.otlpEndpoint ?? "",
    }),
    readiness: "extproc-server listening",
    serving: () => portOpen(params.port),
    readyTimeoutMs: 60_000,
  });
}

export function ownedBy(path: string, uid: number | undefined): void {
  if (uid !== undefined) chownSync(path, uid, uid);
}
