import type { Spender } from "../../../lib/src/llm/budgets.js";
import type { BudgetBook, BudgetStatus } from "../budgets/budget-book.js";
import { costOf, type PriceTable } from "./prices.js";
import type { PricedUsageRecord, PricedUsageSink, UsageRecord, UsageSink } from "./record.js";

export interface UsageAccountingOptions {
  prices: PriceTable;
  /** Where priced records are stored. */
  sink: PricedUsageSink;
  /** This instance's name on its usage rows. */
  recordedBy: string;
  /** Budgets to charge (null without a database). */
  budgets?: BudgetBook | null;
  /** A soft budget reached its limit with this record. */
  onSoftLimit?: (status: BudgetStatus, record: PricedUsageRecord) => void;
  now?: () => Date;
}

/** Who pays for a call: its tenant and identity from the decision. */
export function spenderOf(record: {
  tenant: string | null;
  team: string | null;
  agentId: string | null;
  agentSpiffeId: string | null;
  userId: string | null;
}): Spender | null {
  if (record.tenant === null) return null;
  return {
    tenant: record.tenant,
    team: record.team,
    agentId: record.agentId,
    agentSpiffeId: record.agentSpiffeId,
    userId: record.userId,
  };
}

/**
 * Every LLM call's usage record, priced from the table (the model sent upstream, else the one that
 * answered), charged to the budgets it falls under, and handed to the store. Synchronous: it runs
 * when an exchange ends and must not delay anything.
 */
export class UsageAccounting implements UsageSink {
  private seq = 0;
  private readonly now: () => Date;

  constructor(private readonly options: UsageAccountingOptions) {
    this.now = options.now ?? (() => new Date());
  }

  record(record: UsageRecord): void {
    const { prices, budgets } = this.options;
    const price = prices.priceOfFirst(record.provider, [record.model, record.responseModel]);
    const recordSeq = budgets ? budgets.nextSeq() : ++this.seq;
    const priced: PricedUsageRecord = {
      ...record,
      costPicoUsd: price ? costOf(record.usage, price) : null,
      priceVersion: prices.version,
      priceKey: price?.key ?? null,
      recordedBy: this.options.recordedBy,
      recordSeq,
    };
    const spender = spenderOf(record);
    const crossed =
      budgets && spender
        ? budgets.charge(recordSeq, spender, new Date(record.startedAt), priced.costPicoUsd ?? 0n, this.now())
        : [];
    this.options.sink.record(priced);
    for (const status of crossed) this.options.onSoftLimit?.(status, priced);
  }
}
