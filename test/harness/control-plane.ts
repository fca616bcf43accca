import { join } from "node:path";
import type { PostgresCluster } from "./postgres.js";
import { httpOk } from "../../lib/src/runtime/child.js";
import { nodeProgramComponent } from "../../lib/src/runtime/components/node-programs.js";
import { distMain } from "../../lib/src/runtime/layout.js";
import { freePort, launchComponent, RUN_DIR, type ManagedProcess } from "./process.js";
import { ensureBuilt } from "./stack.js";
import type { VaultDev } from "./vault.js";

/**
 * The control plane as a real process (dist/control-plane/src/main.js, as production runs it), an
 * HTTP client for its API, and the data plane's database login (migration 004's read-only role).
 */
export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** One API call; a JSON answer is parsed, anything else is returned as text. */
export async function callApi<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  call: CallOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  let body: string | undefined = call.rawBody;
  if (call.body !== undefined) body = JSON.stringify(call.body);
  if (body !== undefined) headers["content-type"] = call.contentType ?? "application/json";
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get("content-type") ?? "").includes("application/json")) parsed = JSON.parse(text);
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

export interface ControlPlaneProcessOptions {
  /** Prefix of the log file in `.run/`. */
  name: string;
  databaseUrl: string;
  oidcIssuer: string;
  /** Signs attestations with a token holding only vault/control-plane.hcl. */
  vault?: VaultDev;
  env?: NodeJS.ProcessEnv;
  /** A port picked beforehand (the portal's redirect URI is registered before it starts); default: a free one. */
  port?: number;
}

export interface ControlPlaneProcess {
  url: string;
  process: ManagedProcess;
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: CallOptions,
  ): Promise<ApiResponse<T>>;
  stop(): Promise<void>;
}

const CONTROL_PLANE_MAIN = distMain("control-plane");

export async function startControlPlaneProcess(
  options: ControlPlaneProcessOptions,
): Promise<ControlPlaneProcess> {
  ensureBuilt([CONTROL_PLANE_MAIN], ["lib/src", "control-plane/src"]);
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  // The token goes through the environment, never the command line.
  const vaultToken = options.vault ? await options.vault.tokenFor("control-plane") : "";
  const component = nodeProgramComponent({
    name: "control-plane",
    args: [CONTROL_PLANE_MAIN],
    ports: { http: port },
    env: () => ({
      NODE_ENV: "test",
      WARDEN_CP_PORT: String(port),
      // One spool per process: two control planes must never share one.
      WARDEN_CP_AUDIT_SPOOL: join(RUN_DIR, `${options.name}-${process.pid}-${port}-audit-spool.ndjson`),
      WARDEN_OIDC_ISSUER: options.oidcIssuer,
      WARDEN_LOG_LEVEL: "info",
      DATABASE_URL: options.databaseUrl,
      VAULT_ADDR: options.vault?.address ?? "",
      VAULT_TOKEN: vaultToken,
      ...options.env,
    }),
    readiness: "control plane ready",
    serving: () => httpOk(`${url}/readyz`),
    readyTimeoutMs: 90_000,
  });
  const managed = await launchComponent(component, `${options.name}-${process.pid}`);
  return {
    url,
    process: managed,
    call: (method, path, call) => callApi(url, method, path, call),
    stop: async () => {
      await managed.stop();
    },
  };
}

/**
 * A login role in `groups`, by default `warden_dataplane` and `warden_audit_writer` (what production
 * gives authz-server: read the registry, append its decisions to the audit log), and its connection
 * string for the database. The database must be migrated (migrations 004 and 008 create the group roles). Roles are
 * cluster-wide, so the login is created once per cluster.
 */
export async function dataPlaneLogin(
  cluster: PostgresCluster,
  databaseUrl: string,
  user = "warden_authz",
  groups: readonly string[] = ["warden_dataplane", "warden_audit_writer"],
): Promise<string> {
  for (const name of [user, ...groups])
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain role name: ${name}`);
  await cluster.sql(
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${user}') THEN
         CREATE ROLE ${user} LOGIN IN ROLE ${groups.join(", ")};
       END IF;
     END $$`,
  );
  const url = new URL(databaseUrl);
  url.username = user;
  return url.toString();
}

/** extproc-server's login (usage rows and their audit events, budgets: migration 005's group role). */
export function extprocLogin(cluster: PostgresCluster, databaseUrl: string): Promise<string> {
  return dataPlaneLogin(cluster, databaseUrl, "warden_extproc_login", ["warden_extproc"]);
}

/**
 * authz-server's environment for a data plane that follows the control plane: the registry read
 * from PostgreSQL with the data-plane login (no registry file), the control plane's JWKS, and, with
 * `acceptTokens`, the access tokens it issues.
 */
export async function followingControlPlane(
  cluster: PostgresCluster,
  databaseUrl: string,
  controlPlaneUrl: string,
  options: { acceptTokens: boolean },
): Promise<NodeJS.ProcessEnv> {
  return {
    WARDEN_REGISTRY_FILE: "",
    // The data-plane login: reads the registry, appends decisions (migrations 004 and 008).
    DATABASE_URL: await dataPlaneLogin(cluster, databaseUrl),
    WARDEN_JWKS_URL: `${controlPlaneUrl}/.well-known/jwks.json`,
    ...(options.acceptTokens ? { WARDEN_TOKEN_ISSUER: controlPlaneUrl } : {}),
  };
}
