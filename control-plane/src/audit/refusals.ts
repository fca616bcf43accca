import type { FastifyInstance, FastifyRequest } from "fastify";
import { UNKNOWN_TENANT, type AuditEventInput } from "../../../lib/src/audit/event.js";
import type { AuditWriter } from "../../../lib/src/audit/writer.js";
import type { Logger } from "../../../lib/src/logger.js";
import { redactUrl } from "../../../lib/src/redact-url.js";
import { operationOf } from "../http/request-log.js";

/**
 * Every refused control-plane request becomes an audit event (`api.request_refused`), with the
 * caller's identity as far as it is known and the refusal's code and message. The error mappings
 * (http/errors.ts sendError, oauth/errors.ts sendOAuthError) note the refusal on the request; one
 * `onResponse` hook per listener turns it into the event, so no handler audits its own refusals.
 *
 * Audited: 401 (authentication), 403 (authorisation), 400 (invalid input, including every OAuth
 * grant refusal) and 404 of an authenticated caller (another tenant's resource answers 404, so its
 * existence does not leak). A 404 of an unauthenticated caller on an unknown route is scanning
 * noise and is only logged.
 */
export const REFUSAL_ACTION = "api.request_refused";

export interface Refusal {
  /** The API error code (`forbidden`) or OAuth error code (`invalid_grant`). */
  code: string;
  message: string;
}

/** Who the caller is, as far as this listener knows it when the request is refused. */
export interface CallerIdentity {
  actor: string | null;
  tenant: string | null;
  agentSpiffeId?: string | null;
  /** Not verified (e.g. the SPIFFE ID of a client certificate that was refused). */
  presented?: string | null;
}

declare module "fastify" {
  interface FastifyRequest {
    refusal: Refusal | null;
  }
}

/** Called by the error mappings: remembers why this request is refused. */
export function noteRefusal(request: FastifyRequest, refusal: Refusal): void {
  request.refusal = refusal;
}

const TENANT_SLUG = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function isAudited(status: number, identified: boolean): boolean {
  if (status === 400 || status === 401 || status === 403) return true;
  return status === 404 && identified;
}

/** Pure: the audit event of one refused request, or null when this refusal is not audited. */
export function refusalAuditEvent(input: {
  status: number;
  refusal: Refusal;
  caller: CallerIdentity;
  requestId: string;
  method: string;
  url: string;
  operation: string | undefined;
  remoteAddress: string | undefined;
  source: "api" | "token_service";
}): AuditEventInput | null {
  const { caller, refusal } = input;
  if (!isAudited(input.status, caller.actor !== null)) return null;
  return {
    // An unauthenticated caller names no tenant we could trust: its refusals go to the "unknown" chain.
    tenant: caller.tenant !== null && TENANT_SLUG.test(caller.tenant) ? caller.tenant : UNKNOWN_TENANT,
    source: "control-plane",
    action: REFUSAL_ACTION,
    actor: caller.actor,
    agent_spiffe_id: caller.agentSpiffeId ?? null,
    decision: "deny",
    reason: refusal.code,
    request_id: input.requestId,
    resource_type: input.source === "api" ? "api_operation" : "oauth_endpoint",
    resource_id: input.operation ?? null,
    details: {
      status: input.status,
      message: refusal.message,
      method: input.method,
      path: redactUrl(input.url),
      ...(input.remoteAddress ? { remote_address: input.remoteAddress } : {}),
      ...(caller.presented ? { presented_identity: caller.presented } : {}),
    },
  };
}

export interface RefusalAuditOptions {
  writer: Pick<AuditWriter, "append">;
  logger: Pick<Logger, "error">;
  source: "api" | "token_service";
  identify: (request: FastifyRequest) => CallerIdentity;
}

/** Registers the hook on one Fastify listener. */
export function auditRefusals(app: FastifyInstance, options: RefusalAuditOptions): void {
  if (!app.hasRequestDecorator("refusal")) app.decorateRequest("refusal", null);
  app.addHook("onResponse", async (request, reply) => {
    if (!request.refusal) return;
    const event = refusalAuditEvent({
      status: reply.statusCode,
      refusal: request.refusal,
      caller: options.identify(request),
      requestId: String(request.id),
      method: request.method,
      url: request.url,
      operation: operationOf(request) ?? request.routeOptions.url,
      remoteAddress: request.ip,
      source: options.source,
    });
    if (!event) return;
    // Not awaited by the caller, who already has the answer; the writer makes it durable (or spools it).
    options.writer.append(event).catch((error: unknown) => {
      request.log.error({ err: error, refusal: request.refusal }, "refusal audit event could not be stored");
    });
  });
}
