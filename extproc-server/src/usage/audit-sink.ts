import type { AuditWriter } from "../../../lib/src/audit/writer.js";
import type { Logger } from "../../../lib/src/logger.js";
import { usageJson, type PricedUsageRecord, type PricedUsageSink } from "./record.js";
import { usageAuditEvent } from "./usage-event.js";

/**
 * Usage records into the audit log and the usage table through the audit writer (durable: the
 * database, or the local spool while it is unreachable). Nothing waits for the write; a record the
 * writer refuses is logged in full, so it can still be accounted for. The event is built here from
 * typed values, so it takes the writer's typed path (no schema parse, no promise per call: the
 * schema parse was ~6% of extproc-server's CPU on the real path, bench `realpath --profile`).
 */
export function auditUsageSink(writer: Pick<AuditWriter, "submitTyped">, logger: Logger): PricedUsageSink {
  return {
    record(record: PricedUsageRecord): void {
      writer.submitTyped(usageAuditEvent(record), (error) => {
        logger.error(
          { err: error, decision_id: record.decisionId, usage_record: usageJson(record) },
          "llm usage record could not be stored",
        );
      });
    },
  };
}
