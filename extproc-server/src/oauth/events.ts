import type { AuditWriter } from "../../../lib/src/audit/writer.js";
import type { Logger } from "../../../lib/src/logger.js";

/**
 * Every use of a user's token is an audit event: read from Vault, refreshed, refresh failed,
 * injected into a request. With full identity context (agent, user, delegation, decision), never a
 * token value.
 */
export type OAuthEventKind = "token_read" | "token_refreshed" | "token_refresh_failed" | "token_injected";

export interface RequestIdentity {
  readonly decisionId: string;
  readonly agentSpiffeId: string | null;
  readonly agentId: string | null;
  readonly tenant: string;
  readonly userId: string;
  readonly delegationId: string | null;
  readonly scopes: readonly string[];
}

export interface OAuthEvent {
  kind: OAuthEventKind;
  service: string;
  identity: RequestIdentity;
  /** What else is worth knowing (CAS outcome, provider failure kind, operation); never a token. */
  details?: Record<string, unknown>;
  reason?: string | null;
}

export interface OAuthEvents {
  record(event: OAuthEvent): void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function auditEventOf(event: OAuthEvent) {
  const { identity } = event;
  return {
    tenant: identity.tenant,
    source: "extproc-server" as const,
    action: `oauth.${event.kind}`,
    actor: identity.agentSpiffeId,
    agent_id: identity.agentId && UUID.test(identity.agentId) ? identity.agentId : null,
    agent_spiffe_id: identity.agentSpiffeId,
    user_id: identity.userId,
    delegation_id: identity.delegationId,
    decision: event.kind === "token_refresh_failed" ? ("deny" as const) : null,
    decision_id: identity.decisionId,
    reason: event.reason ?? null,
    resource_type: "oauth_connection",
    resource_id: `${identity.tenant}/${identity.userId}/${event.service}`,
    upstream: event.service,
    details: { service: event.service, scopes: [...identity.scopes], ...event.details },
  };
}

/** Into the audit log through the shared writer (database, or the spool while it is unreachable). */
export function auditOAuthEvents(writer: Pick<AuditWriter, "append">, logger: Logger): OAuthEvents {
  return {
    record(event) {
      const audit = auditEventOf(event);
      writer.append(audit).catch((error: unknown) => {
        logger.error({ err: error, oauth_event: audit }, "oauth audit event could not be stored");
      });
    },
  };
}

/** Without a database: one log line per event (the same fields). */
export function logOAuthEvents(logger: Logger): OAuthEvents {
  return {
    record(event) {
      logger.info({ oauth_event: auditEventOf(event) }, `oauth ${event.kind}`);
    },
  };
}
