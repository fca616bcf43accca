import { budgetApplies, periodStart, type Budget, type Spender } from "../../../lib/src/llm/budgets.js";
import { PICO_PER_MICRO } from "../../../lib/src/llm/money.js";

/**
 * The budgets this sidecar enforces and their spend in the current period, in memory: checking a
 * request costs a few comparisons and no database query. Spend grows with this sidecar's own usage
 * records at once (`charge`), and is re-read from PostgreSQL now and then (`resync`) to add what
 * other sidecars spent. Pure: the clock comes in as arguments.
 *
 * Consistency: a sidecar refuses once the spend it knows of has reached a hard limit, so it can
 * overshoot by (a) the cost of its own requests already in flight when the limit was crossed (their
 * cost is known only when they end) and (b) what other sidecars spent since its last resync.
 */
export interface BudgetStatus {
  readonly budget: Budget;
  readonly periodStart: Date;
  readonly spentPico: bigint;
}

interface Tracked {
  budget: Budget;
  periodStartMs: number;
  spentPico: bigint;
  limitPico: bigint;
  /** A soft budget's crossing was reported for this period. */
  softReported: boolean;
}

interface OwnCharge {
  readonly seq: number;
  readonly spender: Spender;
  readonly occurredAtMs: number;
  readonly pico: bigint;
}

export class BudgetBook {
  private byTenant = new Map<string, Tracked[]>();
  /** This sidecar's charges not yet known to be in a resync's database read. */
  private ownCharges: OwnCharge[] = [];
  private seq = 0;

  get size(): number {
    let count = 0;
    for (const list of this.byTenant.values()) count += list.length;
    return count;
  }

  /** The sequence number of the last charge (stored with the usage row as `record_seq`). */
  get lastSeq(): number {
    return this.seq;
  }

  /** The next sequence number; the caller charges with it. */
  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /**
   * Replaces the budgets and their spend with a database read that holds every own row up to
   * `mark` (lastSeq when the read began) and none after it; own charges after `mark` are added back.
   */
  resync(budgets: readonly Budget[], spend: ReadonlyMap<string, bigint>, mark: number, now: Date): void {
    this.ownCharges = this.ownCharges.filter((charge) => charge.seq > mark);
    const previous = new Map<string, Tracked>();
    for (const list of this.byTenant.values())
      for (const tracked of list) previous.set(tracked.budget.id, tracked);
    const byTenant = new Map<string, Tracked[]>();
    for (const budget of budgets) {
      const start = periodStart(budget.period, now).getTime();
      const before = previous.get(budget.id);
      const tracked: Tracked = {
        budget,
        periodStartMs: start,
        spentPico: spend.get(budget.id) ?? 0n,
        limitPico: budget.limitMicros * PICO_PER_MICRO,
        softReported: before !== undefined && before.periodStartMs === start && before.softReported,
      };
      for (const charge of this.ownCharges) {
        if (charge.occurredAtMs >= start && budgetApplies(budget, charge.spender))
          tracked.spentPico += charge.pico;
      }
      const list = byTenant.get(budget.tenant);
      if (list) list.push(tracked);
      else byTenant.set(budget.tenant, [tracked]);
    }
    this.byTenant = byTenant;
  }

  /** The first hard budget of this spender whose spend has reached its limit, or null. */
  hardBreach(spender: Spender, now: Date): BudgetStatus | null {
    const list = this.byTenant.get(spender.tenant);
    if (!list) return null;
    for (const tracked of list) {
      if (tracked.budget.enforcement !== "hard" || !budgetApplies(tracked.budget, spender)) continue;
      this.roll(tracked, now);
      if (tracked.spentPico >= tracked.limitPico) return status(tracked);
    }
    return null;
  }

  /** The hard budgets this spender's calls fall under (reserved against before forwarding). */
  hardBudgets(spender: Spender): Budget[] {
    const list = this.byTenant.get(spender.tenant) ?? [];
    return list
      .filter((tracked) => tracked.budget.enforcement === "hard" && budgetApplies(tracked.budget, spender))
      .map((tracked) => tracked.budget);
  }

  /**
   * Adds one of this sidecar's calls to every budget it falls under; returns the soft budgets that
   * this charge took to their limit (each reported once per period).
   */
  charge(seq: number, spender: Spender, occurredAt: Date, pico: bigint, now: Date): BudgetStatus[] {
    const occurredAtMs = occurredAt.getTime();
    this.ownCharges.push({ seq, spender, occurredAtMs, pico });
    const crossed: BudgetStatus[] = [];
    const list = this.byTenant.get(spender.tenant);
    if (!list || pico === 0n) return crossed;
    for (const tracked of list) {
      if (!budgetApplies(tracked.budget, spender)) continue;
      this.roll(tracked, now);
      if (occurredAtMs < tracked.periodStartMs) continue;
      tracked.spentPico += pico;
      if (
        tracked.budget.enforcement === "soft" &&
        !tracked.softReported &&
        tracked.spentPico >= tracked.limitPico
      ) {
        tracked.softReported = true;
        crossed.push(status(tracked));
      }
    }
    return crossed;
  }

  /** Every budget's state (for logs and tests). */
  statuses(now: Date): BudgetStatus[] {
    const out: BudgetStatus[] = [];
    for (const list of this.byTenant.values()) {
      for (const tracked of list) {
        this.roll(tracked, now);
        out.push(status(tracked));
      }
    }
    return out;
  }

  /** A new period starts from nothing (until the next resync says otherwise). */
  private roll(tracked: Tracked, now: Date): void {
    const start = periodStart(tracked.budget.period, now).getTime();
    if (start === tracked.periodStartMs) return;
    tracked.periodStartMs = start;
    tracked.spentPico = 0n;
    tracked.softReported = false;
  }
}

function status(tracked: Tracked): BudgetStatus {
  return {
    budget: tracked.budget,
    periodStart: new Date(tracked.periodStartMs),
    spentPico: tracked.spentPico,
  };
}
