import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import type { PostgresCluster } from "../harness/postgres.js";
import { WORKLOAD_UIDS } from "../harness/stack.js";
import {
  EXTPROC_SPIFFE_ID,
  startVaultTls,
  type VaultTls,
  type VaultTlsClient,
} from "../harness/vault-tls.js";
import { catalogueWithDriveAt } from "../stubs/oauth-provider.js";
import { extprocVaultLogin } from "./extproc-vault-login.js";

/**
 * What the suites of users' Google Drive connections share: OpenBao over TLS as `warden up` starts
 * it (the control plane with a token of its policy, extproc-server with cert auth, the provider's
 * client secret stored), the SaaS catalogue pointing Google Drive at the provider stub, extproc's
 * usage spool and PostgreSQL login, and the user's side of connecting Drive in one browser.
 */
export interface DriveWorld {
  vault: VaultTls;
  /** A token of the control plane's OpenBao policy. */
  controlPlaneToken: string;
  /** The SaaS catalogue file (Google Drive's endpoints at the provider stub). */
  catalogue: string;
  /** extproc-server's environment for OpenBao, the catalogue and its usage spool. */
  extprocEnv: NodeJS.ProcessEnv;
}

export async function startDriveWorld(
  name: string,
  work: string,
  providerUrl: string,
  client: { clientId: string; clientSecret: string },
): Promise<DriveWorld> {
  const vault = await startVaultTls(name);
  const controlPlaneToken = (
    await vault.request<{ auth: { client_token: string } }>("POST", "auth/token/create", {
      policies: ["control-plane"],
      no_default_policy: true,
      ttl: "1h",
    })
  ).body.auth.client_token;
  await vault.request("POST", "warden/data/providers/google-drive", {
    data: { client_id: client.clientId, client_secret: client.clientSecret },
  });
  const login: VaultTlsClient = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
  chownSync(login.keyFile, WORKLOAD_UIDS.extproc, -1);
  for (const file of [login.certFile, vault.caFile]) chmodSync(file, 0o644);

  // The catalogue, extended by configuration only: Google Drive's endpoints point at the stub.
  const catalogue = join(work, "services.json");
  writeFileSync(catalogue, JSON.stringify(catalogueWithDriveAt(providerUrl)));
  chmodSync(catalogue, 0o644);
  const spool = join(work, "spool");
  mkdirSync(spool);
  chownSync(spool, WORKLOAD_UIDS.extproc, -1);
  return {
    vault,
    controlPlaneToken,
    catalogue,
    extprocEnv: {
      ...extprocVaultLogin(vault, login),
      WARDEN_SAAS_CATALOGUE: catalogue,
      WARDEN_USAGE_SPOOL: join(spool, "usage.ndjson"),
    },
  };
}

/** A PostgreSQL login `role` of extproc-server's group (warden_extproc), as a database URL. */
export async function extprocDatabaseLogin(
  cluster: PostgresCluster,
  databaseUrl: string,
  role: string,
): Promise<string> {
  await cluster.sql(`CREATE ROLE ${role} LOGIN IN ROLE warden_extproc`);
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = "";
  return url.toString();
}

/**
 * The user's side of connecting Google Drive, in one browser: start, consent at the provider,
 * callback, confirm. Answers the last step's status and body (the callback's when it did not offer
 * a confirmation).
 */
export async function connectDrive(
  cp: ControlPlaneProcess,
  userToken: string,
  scopes = ["google-drive:read"],
) {
  const started = await cp.call<{ authorization_url: string }>(
    "POST",
    "/v1/connections/google-drive/authorize",
    {
      token: userToken,
      body: { scopes },
    },
  );
  if (started.status !== 201) throw new Error(`authorize: ${started.status} ${started.text}`);
  const cookie = (started.headers.get("set-cookie") ?? "").split(";")[0]!;
  const consent = await fetch(started.body.authorization_url, { redirect: "manual" });
  const callback = consent.headers.get("location");
  if (consent.status !== 302 || !callback) throw new Error(`consent: ${consent.status}`);
  const landed = await fetch(callback, { headers: { cookie } });
  const pending = (await landed.json()) as { confirm_url?: string; account?: unknown };
  if (landed.status !== 200 || !pending.confirm_url)
    return { started, callback, status: landed.status, body: pending };
  const done = await cp.call("POST", pending.confirm_url, { token: userToken, headers: { cookie } });
  return { started, callback, pending, status: done.status, body: done.body };
}
