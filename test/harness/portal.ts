import { startControlPlaneProcess, type ControlPlaneProcess } from "./control-plane.js";
import { startKeycloak, type KeycloakIdp } from "./keycloak.js";
import { startPostgres, type PostgresCluster } from "./postgres.js";
import { freePort } from "./process.js";
import { startVault, type VaultDev } from "./vault.js";

/**
 * Everything the portal runs against, real: PostgreSQL, OpenBao, Keycloak and the control plane
 * (a process, as production runs it) with the portal on `http://localhost:<port>/portal`.
 */
export interface PortalStack {
  /** `http://localhost:<port>/portal`. */
  portalUrl: string;
  /** `http://localhost:<port>`: the portal's origin. */
  origin: string;
  cp: ControlPlaneProcess;
  idp: KeycloakIdp;
  vault: VaultDev;
  cluster: PostgresCluster;
  databaseUrl: string;
  /** A test user's API bearer token (for setting up data the pages then show). */
  apiToken(username: string): Promise<string>;
  stop(): Promise<void>;
}

export interface PortalStackOptions {
  /** The control plane's port, when the test needs it beforehand (e.g. for a callback URL). */
  port?: number;
  /** More of the control plane's environment. */
  env?: NodeJS.ProcessEnv;
}

export async function startPortalStack(name: string, options: PortalStackOptions = {}): Promise<PortalStack> {
  const port = options.port ?? (await freePort());
  const origin = `http://localhost:${port}`;
  const [cluster, vault, idp] = await Promise.all([
    startPostgres(),
    startVault(),
    startKeycloak({ portalOrigins: [origin] }),
  ]);
  const databaseUrl = await cluster.createDatabase("portal");
  const cp = await startControlPlaneProcess({
    name,
    databaseUrl,
    oidcIssuer: idp.issuer,
    vault,
    port,
    env: {
      WARDEN_OIDC_ROLES_CLAIM: "realm_access.roles",
      WARDEN_PORTAL_CLIENT_ID: "warden-portal",
      WARDEN_PORTAL_CLIENT_SECRET_FILE: idp.clientSecretFile,
      WARDEN_PORTAL_URL: `${origin}/portal`,
      ...options.env,
    },
  });
  return {
    portalUrl: `${origin}/portal`,
    origin,
    cp,
    idp,
    vault,
    cluster,
    databaseUrl,
    apiToken: (username) => idp.tokenFor(username),
    async stop() {
      await cp.stop();
      await Promise.all([idp.stop(), vault.stop(), cluster.destroy()]);
    },
  };
}
