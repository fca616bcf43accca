import { Gauge } from "prom-client";
import { PICO_PER_MICRO } from "../../../lib/src/llm/money.js";
import { metricsRegistry } from "../../../lib/src/metrics/registry.js";
import type { BudgetBook } from "../budgets/budget-book.js";

/**
 * Each budget's spend in its current period as a share of its limit, as this sidecar knows it (its
 * own charges at once, other sidecars' at the last resync), read at scrape time. Labelled by the
 * budget's id, tenant, scope and enforcement, never by its subject (a user id for user budgets).
 */
let watched: BudgetBook | null = null;

export function watchBudgets(book: BudgetBook): void {
  watched = book;
}

new Gauge({
  name: "warden_budget_used_ratio",
  help: "Spend in the current period divided by the budget's limit (1 = limit reached).",
  labelNames: ["budget_id", "tenant", "scope", "period", "enforcement"],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    for (const { budget, spentPico } of watched?.statuses(new Date()) ?? []) {
      const limitPico = Number(budget.limitMicros * PICO_PER_MICRO);
      this.set(
        {
          budget_id: budget.id,
          tenant: budget.tenant,
          scope: budget.scope,
          period: budget.period,
          enforcement: budget.enforcement,
        },
        limitPico > 0 ? Number(spentPico) / limitPico : 0,
      );
    }
  },
});
