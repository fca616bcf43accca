import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Logger } from "../../../lib/src/logger.js";
import { auditRefusals, type RefusalAuditOptions } from "../audit/refusals.js";
import { logRequests } from "./request-log.js";

/**
 * The Fastify options both control-plane listeners (the REST API and the token service's mTLS
 * listener) are built with: a request id per request, prototype poisoning refused, 503 while closing,
 * and Fastify's own request lines off (they carry the full URL; request-log.ts writes a redacted one).
 */
export function listenerOptions(logger: Logger, bodyLimit: number) {
  return {
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit,
    genReqId: () => randomUUID(),
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    return503OnClosing: true,
    disableRequestLogging: true,
  } as const;
}

/** The redacted request log, and every refusal into the audit log when there is an audit writer. */
export function watchRequests(app: FastifyInstance, refusals: RefusalAuditOptions | null): void {
  logRequests(app);
  app.decorateRequest("refusal", null);
  if (refusals) auditRefusals(app, refusals);
}
