import { createOutboundClient, outboundPolicyFrom } from "../../../lib/src/http/outbound.js";
import { dirname, join, resolve } from "node:path";
import { AuditWriter } from "../../../lib/src/audit/writer.js";
import { openDatabase } from "../../../lib/src/db/open.js";
import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import { loadSaasCatalogue, type SaasCatalogue } from "../../../lib/src/saas/catalogue.js";
import type { VaultCertSession } from "../credentials/vault-cert-session.js";
import { SaasProvider } from "../providers/saas/provider.js";
import type { OAuthConfig } from "./config.js";
import { auditOAuthEvents, logOAuthEvents, type OAuthEvents } from "./events.js";
import { UserTokens, type ReconsentMarker } from "./user-tokens.js";
import { vaultTokenVault } from "./vault-token-vault.js";

export interface RunningOAuth {
  provider: SaasProvider;
  tokens: UserTokens;
  catalogue: SaasCatalogue;
  events: OAuthEvents;
  /** The audit writer (database, spool), when there is a database; other extproc events share it. */
  audit: AuditWriter | null;
  close(): Promise<void>;
}

/**
 * SaaS token injection as configured: the catalogue (a bad one stops the start), users' tokens from
 * Vault through the shared cert-auth session, audit events into the audit log (or the log without a
 * database), and the narrow database function that marks a connection as needing re-consent.
 */
export async function startOAuth(
  config: OAuthConfig,
  session: VaultCertSession,
  kvMount: string,
  logger: Logger,
  /** The usage spool: the OAuth spool goes next to it unless configured (same writable folder). */
  usageSpool: string,
): Promise<RunningOAuth> {
  const catalogue = loadSaasCatalogue(config.WARDEN_SAAS_CATALOGUE);
  let db: Database | null = null;
  let writer: AuditWriter | null = null;
  let events: OAuthEvents;
  let markReconsent: ReconsentMarker | undefined;
  if (config.DATABASE_URL) {
    const database = await openDatabase({
      databaseUrl: config.DATABASE_URL,
      applicationName: "warden-extproc-oauth",
      max: 2,
    });
    db = database;
    writer = await AuditWriter.open({
      db: database,
      spoolPath: resolve(
        config.WARDEN_OAUTH_AUDIT_SPOOL ?? join(dirname(usageSpool), "extproc-oauth-spool.ndjson"),
      ),
      logger,
    });
    events = auditOAuthEvents(writer, logger);
    // migration 007: the role warden_extproc may call this function and nothing else on oauth_connections.
    markReconsent = async (key, reason) => {
      await database.query("SELECT oauth_connection_needs_reconsent($1, $2, $3, $4)", [
        key.tenant,
        key.userId,
        key.service,
        reason,
      ]);
    };
  } else {
    events = logOAuthEvents(logger);
  }
  const tokens = new UserTokens({
    vault: vaultTokenVault(
      session,
      { kvMount, transitMount: config.WARDEN_VAULT_TRANSIT_MOUNT },
      () => new Date(),
    ),
    events,
    logger,
    refreshMarginMs: config.WARDEN_OAUTH_REFRESH_MARGIN_S * 1000,
    providerTimeoutMs: config.WARDEN_OAUTH_PROVIDER_TIMEOUT_MS,
    http: createOutboundClient(outboundPolicyFrom(config)),
    cacheTtlMs: config.WARDEN_OAUTH_TOKEN_CACHE_TTL_MS,
    ...(markReconsent ? { markReconsent } : {}),
  });
  logger.info({ services: catalogue.services.map((s) => s.name) }, "SaaS token injection from Vault");
  return {
    provider: new SaasProvider({ catalogue, tokens, events }),
    tokens,
    catalogue,
    events,
    audit: writer,
    async close() {
      await writer?.close();
      await db?.close();
    },
  };
}
