import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type RunningControlPlane } from "../../control-plane/src/app.js";
import { loadApiDocument, type OperationSpec } from "../../control-plane/src/http/openapi.js";
import type { Logger } from "../../lib/src/logger.js";
import { callApi, type ApiResponse, type CallOptions } from "../harness/control-plane.js";
import { startPostgres, type PostgresCluster } from "../harness/postgres.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { REPO_ROOT } from "../harness/process.js";
import { startVault, type VaultDev } from "../harness/vault.js";
import { StubOidcIssuer, type TokenClaims } from "../stubs/oidc-issuer.js";

/**
 * Starts the control plane for integration tests against the real PostgreSQL and OpenBao, with the
 * stub OIDC issuer, and gives tests an HTTP client that records which OpenAPI operations it used.
 */
export type { ApiResponse, CallOptions };

export interface ControlPlaneFixture {
  cluster: PostgresCluster | null;
  vault: VaultDev | null;
  oidc: StubOidcIssuer;
  controlPlane: RunningControlPlane;
  databaseUrl: string | null;
  url: string;
  token(claims: TokenClaims): Promise<string>;
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: CallOptions,
  ): Promise<ApiResponse<T>>;
  /** operationIds called so far that answered with a documented status. */
  covered: Set<string>;
  operations: OperationSpec[];
  close(): Promise<void>;
}

export async function startControlPlaneFixture(
  options: { postgres?: boolean; vault?: boolean; env?: NodeJS.ProcessEnv; logger?: Logger } = {},
): Promise<ControlPlaneFixture> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  let controlPlane: RunningControlPlane;
  let cluster: PostgresCluster | null = null;
  let vault: VaultDev | null = null;
  let oidc: StubOidcIssuer;
  let databaseUrl: string | null = null;
  try {
    if (options.postgres !== false) {
      const started = await startPostgres();
      cluster = started;
      cleanups.push(() => started.destroy());
      databaseUrl = await started.createDatabase();
    }
    if (options.vault) {
      const started = await startVault();
      vault = started;
      cleanups.push(() => started.stop());
    }
    const issuer = await StubOidcIssuer.start();
    oidc = issuer;
    cleanups.push(() => issuer.close());
    // One refusal-audit spool per control plane: parallel test files must never share one.
    const spoolDir = mkdtempSync(join(tmpdir(), "warden-cp-spool-"));
    cleanups.push(async () => rmSync(spoolDir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WARDEN_CP_PORT: "0",
      WARDEN_CP_AUDIT_SPOOL: join(spoolDir, "audit-spool.ndjson"),
      WARDEN_OIDC_ISSUER: issuer.issuer,
      WARDEN_LOG_LEVEL: "error",
      DATABASE_URL: databaseUrl ?? "",
      VAULT_ADDR: vault?.address ?? "",
      VAULT_TOKEN: vault ? await vault.tokenFor("control-plane") : "",
      ...options.env,
    };
    controlPlane = await startControlPlane(env, options.logger);
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const { operations } = loadApiDocument(join(REPO_ROOT, "control-plane", "openapi.yaml"));
  const matchers = operations.map((op) => ({
    op,
    pattern: new RegExp(`^${op.path.replace(/\{[^}]+\}/g, "[^/]+").replace(/\./g, "\\.")}$`),
  }));
  const covered = new Set<string>();

  return {
    cluster,
    vault,
    oidc,
    controlPlane,
    databaseUrl,
    url: controlPlane.url,
    covered,
    operations,
    token: (claims) => oidc.token(claims),
    async call<T>(method: string, path: string, call: CallOptions = {}): Promise<ApiResponse<T>> {
      const response = await callApi<T>(controlPlane.url, method, path, call);
      const bare = path.split("?")[0]!;
      const match = matchers.find((m) => m.op.method === method && m.pattern.test(bare));
      if (match && match.op.responses.has(response.status)) covered.add(match.op.operationId);
      return response;
    },
    async close() {
      await controlPlane.close();
      await cleanUp();
    },
  };
}

/**
 * The control plane with its token service: a fresh SPIRE gives it its own SVID (it waits for it
 * before its mutual-TLS listener starts), OpenBao signs the tokens, keys are active at once.
 * `env` adds to (or overrides) those settings.
 */
export async function startTokenServiceFixture(
  name: string,
  trustDomain: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ spire: SpireStack; fixture: ControlPlaneFixture; controlPlaneId: string }> {
  const controlPlaneId = `spiffe://${trustDomain}/warden/control-plane`;
  const spire = await startSpire({ name, trustDomain, logLevel: "INFO" });
  await spire.register(controlPlaneId, [currentProcessSelector()]);
  const fixture = await startControlPlaneFixture({
    vault: true,
    env: {
      SPIFFE_ENDPOINT_SOCKET: spire.endpoint,
      WARDEN_CP_SPIFFE_ID: controlPlaneId,
      WARDEN_CP_MTLS_PORT: "0",
      WARDEN_TOKEN_KEY_ACTIVATION_S: "0",
      ...env,
    },
  });
  return { spire, fixture, controlPlaneId };
}
