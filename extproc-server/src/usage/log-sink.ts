import type { Logger } from "../../../lib/src/logger.js";
import type { UsageRecord, UsageSink } from "./record.js";

/** Usage records as log lines (`msg: "llm usage"`), until the control plane's usage table takes them. */
export function logUsageSink(logger: Logger): UsageSink {
  return {
    record(record: UsageRecord): void {
      logger.info({ decision_id: record.decisionId, usage_record: record }, "llm usage");
    },
  };
}
