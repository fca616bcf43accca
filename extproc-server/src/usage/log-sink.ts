import type { Logger } from "../../../lib/src/logger.js";
import { usageJson, type PricedUsageRecord, type PricedUsageSink } from "./record.js";

/** Usage records as log lines (`msg: "llm usage"`): the store when extproc-server has no database. */
export function logUsageSink(logger: Logger): PricedUsageSink {
  return {
    record(record: PricedUsageRecord): void {
      logger.info({ decision_id: record.decisionId, usage_record: usageJson(record) }, "llm usage");
    },
  };
}
