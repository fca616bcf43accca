import type { AuditWriter } from "../../../lib/src/audit/writer.js";
import type { CheckRequest } from "../../../lib/src/envoy/services.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { DecisionRecord } from "../authorizer.js";
import { decisionAuditEvent } from "./decision-event.js";

/**
 * Decisions into the hash-chained audit log through the audit writer: nothing on the request path
 * waits for it (the writer batches events into one transaction per batch, or spools them to a local
 * fsync'd file while PostgreSQL is unreachable). Every denial is recorded; allows too, unless the
 * operator chose to sample them (`WARDEN_AUDIT_ALLOW_SAMPLE` < 1), and then each kept allow says so.
 */
export interface DecisionAuditOptions {
  writer: Pick<AuditWriter, "submitTyped">;
  logger: Pick<Logger, "error">;
  /** Fraction of allowed requests recorded, 0..1; denials are always recorded. */
  allowSample: number;
  random?: () => number;
}

export type DecisionAuditor = (record: DecisionRecord, check: CheckRequest) => void;

export function decisionAuditor(options: DecisionAuditOptions): DecisionAuditor {
  const { writer, logger, allowSample } = options;
  const random = options.random ?? Math.random;
  return (record, check) => {
    if (record.allow && allowSample < 1 && random() >= allowSample) return;
    const event = decisionAuditEvent(record, check);
    if (record.allow && allowSample < 1) event.details = { ...event.details, allow_sample: allowSample };
    writer.submitTyped(event, (error) => {
      // The decision line on stdout still holds the decision; this says its audit row is missing.
      logger.error(
        { err: error, decision_id: record.decision_id },
        "decision audit event could not be stored",
      );
    });
  };
}
