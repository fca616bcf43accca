import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { AuditWriter } from "../../lib/src/audit/writer.js";
import { migrate } from "../../lib/src/db/migrate.js";
import { openDatabase } from "../../lib/src/db/open.js";
import type { Database } from "../../lib/src/db/types.js";
import { tenantScopedDatabase } from "../../lib/src/db/tenant-scope.js";
import { createTenantKeys } from "./tenants/keys.js";
import { tenantHandlers } from "./tenants/handlers.js";
import { currentRequestTenant } from "./tenants/request-scope.js";
import { createLogger, type Logger } from "../../lib/src/logger.js";
import { vaultClientFrom } from "../../lib/src/vault/client.js";
import { loadControlPlaneConfig } from "./config.js";
import { MIGRATIONS_DIR } from "./files.js";
import { createOidcAuthenticator } from "./http/auth.js";
import { approvalHandlers } from "./approvals/handlers.js";
import { rateLimitHandlers } from "./ratelimits/handlers.js";
import { writeServiceFile } from "./ratelimits/service-file.js";
import type { AppContext } from "./context.js";
import { createTransitSigner } from "./kya/signer.js";
import { createTokenService } from "./oauth/token-service.js";
import { createConnections } from "./connections/connections.js";
import { mcpHandlers } from "./mcp/handlers.js";
import { buildServer } from "./server.js";
import { createWebhooks, type Webhooks } from "./webhooks/service.js";
import { watchAuditWriter } from "../../lib/src/metrics/audit-spool.js";
import { resolvePortalSettings } from "./portal/config.js";
import { createOidcClient } from "./portal/oidc-client.js";
import { registerPortal } from "./portal/portal.js";

export interface RunningControlPlane {
  app: FastifyInstance;
  db: Database;
  url: string;
  webhooks: Webhooks;
  close(): Promise<void>;
}

/** Wires configuration, database (migrated), Vault signer, OIDC and the HTTP server, and listens. */
export async function startControlPlane(
  environment: NodeJS.ProcessEnv = process.env,
  logger?: Logger,
): Promise<RunningControlPlane> {
  const config = loadControlPlaneConfig(environment);
  const log = logger ?? createLogger("control-plane", config.WARDEN_LOG_LEVEL);
  const db = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    pgliteDir: config.WARDEN_PGLITE_DIR,
    applicationName: "warden-control-plane",
  });
  let closeWriter: (() => Promise<void>) | undefined;
  try {
    if (config.WARDEN_MIGRATE) {
      const applied = await migrate(db, MIGRATIONS_DIR);
      if (applied.length)
        log.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, "database migrated");
    }
    const auditWriter = await AuditWriter.open({
      db,
      spoolPath: resolve(config.WARDEN_CP_AUDIT_SPOOL),
      logger: log,
    });
    closeWriter = () => auditWriter.close();
    watchAuditWriter("api", () => auditWriter.status());
    const vault = vaultClientFrom(config);
    const tokenService = createTokenService(config, vault, config.WARDEN_VAULT_TRANSIT_MOUNT, log);
    const connections = createConnections(config, vault, config.WARDEN_VAULT_TRANSIT_MOUNT, log);
    const webhooks = createWebhooks(config, vault, config.WARDEN_VAULT_TRANSIT_MOUNT, log);
    const context: AppContext = {
      db: tenantScopedDatabase(db, currentRequestTenant),
      trustDomain: config.WARDEN_TRUST_DOMAIN,
      attestationTtlDays: config.WARDEN_KYA_TTL_DAYS,
      attestationIssuer:
        config.WARDEN_ATTESTATION_ISSUER ?? `spiffe://${config.WARDEN_TRUST_DOMAIN}/warden/control-plane`,
      signer: tokenService.publishing(
        vault
          ? createTransitSigner(vault, {
              mount: config.WARDEN_VAULT_TRANSIT_MOUNT,
              name: config.WARDEN_SIGNING_KEY,
            })
          : null,
      ),
      logger: log,
      now: () => new Date(),
      auditWriter,
    };
    const authenticator = createOidcAuthenticator({
      issuer: config.WARDEN_OIDC_ISSUER,
      audience: config.WARDEN_OIDC_AUDIENCE,
      jwksUrl: config.WARDEN_OIDC_JWKS_URL,
      rolesClaim: config.WARDEN_OIDC_ROLES_CLAIM,
      tenantClaim: config.WARDEN_OIDC_TENANT_CLAIM,
      delegableScopesClaim: tokenService.context.delegableScopesClaim,
    });
    const app = await buildServer({
      bodyLimit: config.WARDEN_CP_BODY_LIMIT,
      metricsToken: config.WARDEN_CP_METRICS_TOKEN,
      authenticator,
      context,
      handlers: {
        ...tokenService.handlers(context),
        ...connections.handlers(context),
        ...mcpHandlers(context, tokenService.context),
        ...approvalHandlers(context, { approvedTtlSeconds: config.WARDEN_APPROVAL_APPROVED_TTL_S }),
        ...tenantHandlers(
          context,
          vault ? createTenantKeys(vault, config.WARDEN_VAULT_TRANSIT_MOUNT, log) : null,
        ),
        ...webhooks.handlers(context),
        ...rateLimitHandlers(context, config.WARDEN_RATELIMIT_CONFIG_FILE ?? null),
      },
    });
    const portal = resolvePortalSettings(config);
    if (portal) {
      await registerPortal(app, {
        settings: portal,
        oidc: createOidcClient({
          issuer: config.WARDEN_OIDC_ISSUER,
          clientId: portal.clientId,
          clientSecret: portal.clientSecret,
          redirectUri: portal.redirectUri,
        }),
        authenticator,
        db,
        logger: log,
        now: context.now,
        context,
        saas: connections.catalogue,
      });
    }
    if (config.WARDEN_RATELIMIT_CONFIG_FILE) {
      const count = await writeServiceFile(db, config.WARDEN_RATELIMIT_CONFIG_FILE);
      log.info(
        { path: config.WARDEN_RATELIMIT_CONFIG_FILE, limits: count },
        "rate limits written for the rate-limit service",
      );
    }
    const address = await app.listen({ host: config.WARDEN_CP_HOST, port: config.WARDEN_CP_PORT });
    try {
      await tokenService.start(context, address);
      connections.start(address);
      await webhooks.start(context);
    } catch (error) {
      await webhooks.close();
      await app.close();
      throw error;
    }
    log.info(
      { address, database: db.kind, vault: vault ? "configured" : "not configured" },
      "control plane listening",
    );
    return {
      app,
      db,
      url: address,
      webhooks,
      async close() {
        await webhooks.close();
        await tokenService.close();
        await app.close();
        await auditWriter.close();
        await db.close();
      },
    };
  } catch (error) {
    await closeWriter?.();
    await db.close();
    throw error;
  }
}
