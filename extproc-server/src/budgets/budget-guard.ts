import { WardenError } from "../../../lib/src/errors.js";
import { describeBudget, type Spender } from "../../../lib/src/llm/budgets.js";
import { formatMicros, formatUsd } from "../../../lib/src/llm/money.js";
import type { BudgetBook, BudgetStatus } from "./budget-book.js";

/** The request-path side of budgets: a lookup in memory, and the agent's 402 when one is used up. */
export interface BudgetGuard {
  /** Throws WardenError `budget_exceeded` (402) when a hard budget of this spender is used up. */
  check(spender: Spender): void;
}

export function budgetExceededMessage(status: BudgetStatus): string {
  const { budget } = status;
  const period = status.periodStart.toISOString().slice(0, budget.period === "daily" ? 10 : 7);
  return (
    `${describeBudget(budget)} is used up for ${period} (UTC): ` +
    `spent $${formatUsd(status.spentPico)} of $${formatMicros(budget.limitMicros)}; no request was sent upstream`
  );
}

/** A reservation did not fit: what is spent and held by calls in flight leaves no room for this one. */
export function budgetNoRoomMessage(status: BudgetStatus, costPico: bigint, reservedPico: bigint): string {
  const { budget } = status;
  const period = status.periodStart.toISOString().slice(0, budget.period === "daily" ? 10 : 7);
  return (
    `${describeBudget(budget)} has no room for this call in ${period} (UTC): ` +
    `spent $${formatUsd(status.spentPico)} and $${formatUsd(reservedPico)} held by calls in flight of ` +
    `$${formatMicros(budget.limitMicros)}, and this call may cost up to $${formatUsd(costPico)}; no request was sent upstream`
  );
}

export function budgetGuard(book: BudgetBook, now: () => Date = () => new Date()): BudgetGuard {
  return {
    check(spender: Spender): void {
      const breach = book.hardBreach(spender, now());
      if (breach) throw new WardenError("budget_exceeded", budgetExceededMessage(breach));
    },
  };
}
