import { resolve } from "node:path";
import { AuditWriter } from "../../../lib/src/audit/writer.js";
import { openDatabase } from "../../../lib/src/db/open.js";
import type { Database } from "../../../lib/src/db/types.js";
import { describeBudget } from "../../../lib/src/llm/budgets.js";
import { formatMicros, formatUsd } from "../../../lib/src/llm/money.js";
import type { Logger } from "../../../lib/src/logger.js";
import { BudgetBook } from "../budgets/budget-book.js";
import { BudgetFeed } from "../budgets/budget-feed.js";
import { budgetGuard, type BudgetGuard } from "../budgets/budget-guard.js";
import { BudgetReserver, type BudgetReservations } from "../budgets/budget-reserver.js";
import { UsageAccounting } from "./accounting.js";
import { auditUsageSink } from "./audit-sink.js";
import type { UsageConfig } from "./config.js";
import { logUsageSink } from "./log-sink.js";
import { PriceTable } from "./prices.js";
import { meteredUsageSink } from "../metrics/usage-metrics.js";
import { watchBudgets } from "../metrics/budgets.js";
import { watchAuditWriter } from "../../../lib/src/metrics/audit-spool.js";
import { insertUsageRows, SOFT_BUDGET_ACTION, UNKNOWN_TENANT } from "./usage-event.js";

export interface RunningUsage {
  readonly usage: UsageAccounting;
  readonly budgets: BudgetGuard | null;
  readonly reservations: BudgetReservations | null;
  readonly prices: PriceTable;
  /** Writes what is queued (to the database or the spool) and closes the connections. */
  close(): Promise<void>;
}

/**
 * Usage accounting as configured: the price table (a bad one stops the start, PriceTableError), and
 * with a database the durable usage store, the budget book and its feed.
 */
export async function startUsage(config: UsageConfig, logger: Logger): Promise<RunningUsage> {
  const prices = PriceTable.load(config.pricesPath);
  logger.info({ path: config.pricesPath, version: prices.version }, "LLM price table loaded");
  if (!config.DATABASE_URL) {
    logger.warn("DATABASE_URL is not set: usage records are log lines and no budget is enforced");
    const usage = new UsageAccounting({
      prices,
      sink: meteredUsageSink(logUsageSink(logger)),
      recordedBy: config.instanceId,
    });
    return { usage, budgets: null, reservations: null, prices, close: async () => undefined };
  }

  const db: Database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    applicationName: "warden-extproc",
    max: 4,
  });
  const writer = await AuditWriter.open({
    db,
    spoolPath: resolve(config.WARDEN_USAGE_SPOOL),
    afterAppend: insertUsageRows,
    logger,
  });
  watchAuditWriter("usage", () => writer.status());
  const book = new BudgetBook();
  watchBudgets(book);
  const feed = new BudgetFeed({
    db,
    book,
    recordedBy: config.instanceId,
    resyncMs: config.WARDEN_BUDGET_RESYNC_MS,
    logger,
    ownRowsStored: async () => {
      await writer.flush();
      const status = writer.status();
      return status.queued === 0 && status.spooled === 0;
    },
  });
  const usage = new UsageAccounting({
    prices,
    sink: meteredUsageSink(auditUsageSink(writer, logger)),
    recordedBy: config.instanceId,
    budgets: book,
    onSoftLimit: (status, record) => {
      const message = `${describeBudget(status.budget)} reached its soft limit: spent $${formatUsd(status.spentPico)} of $${formatMicros(status.budget.limitMicros)}`;
      logger.warn({ budget_id: status.budget.id, decision_id: record.decisionId }, message);
      writer
        .append({
          tenant: record.tenant ?? UNKNOWN_TENANT,
          source: "extproc-server",
          action: SOFT_BUDGET_ACTION,
          actor: record.agentSpiffeId,
          agent_spiffe_id: record.agentSpiffeId,
          user_id: record.userId,
          decision_id: record.decisionId,
          reason: message,
          resource_type: "llm_budget",
          resource_id: status.budget.id,
          details: {
            period_start: status.periodStart.toISOString(),
            spent_pico_usd: status.spentPico.toString(),
            limit_micros: status.budget.limitMicros.toString(),
          },
        })
        .catch((error: unknown) => logger.error({ err: error }, "soft budget event could not be stored"));
    },
  });
  await feed.start();
  const reserver = new BudgetReserver({
    db,
    book,
    prices,
    reservedBy: config.instanceId,
    ttlMs: config.WARDEN_BUDGET_RESERVATION_TTL_MS,
    defaultMaxOutputTokens: config.WARDEN_BUDGET_DEFAULT_MAX_OUTPUT_TOKENS,
    logger,
  });
  const stopSweeper = reserver.startSweeper(config.WARDEN_BUDGET_SWEEP_MS);
  logger.info(
    { instance: config.instanceId, budgets_loaded: feed.ready, resync_ms: config.WARDEN_BUDGET_RESYNC_MS },
    "usage goes to PostgreSQL; budgets enforced",
  );
  return {
    usage,
    budgets: budgetGuard(book),
    reservations: reserver,
    prices,
    async close() {
      stopSweeper();
      await feed.close();
      await writer.close();
      await db.close();
    },
  };
}
