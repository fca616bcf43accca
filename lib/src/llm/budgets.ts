/**
 * LLM spending budgets, as the control plane stores them (table `llm_budgets`) and extproc-server
 * enforces them. A budget caps the cost of LLM calls of one scope (a tenant, a team, an agent or a
 * user of a tenant) over a calendar period in UTC. `hard`: calls are refused (402) once the period's
 * spend has reached the limit; `soft`: reaching it only raises an audit event.
 */
export const BUDGET_SCOPES = ["tenant", "team", "agent", "user"] as const;
export const BUDGET_PERIODS = ["daily", "monthly"] as const;
export const BUDGET_ENFORCEMENTS = ["hard", "soft"] as const;

export type BudgetScope = (typeof BUDGET_SCOPES)[number];
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export type BudgetEnforcement = (typeof BUDGET_ENFORCEMENTS)[number];

/** PostgreSQL NOTIFY channel: a budget was created, changed or deleted (payload `{ op, id, tenant }`). */
export const BUDGET_CHANNEL = "warden_budgets";

export interface Budget {
  readonly id: string;
  readonly tenant: string;
  readonly scope: BudgetScope;
  /** The tenant's name (scope tenant), a team, an agent's id or SPIFFE ID, or a user id. */
  readonly subject: string;
  readonly period: BudgetPeriod;
  readonly limitMicros: bigint;
  readonly enforcement: BudgetEnforcement;
}

/** Who a call is charged to, from the ext_authz decision. */
export interface Spender {
  readonly tenant: string;
  readonly team: string | null;
  readonly agentId: string | null;
  readonly agentSpiffeId: string | null;
  readonly userId: string | null;
}

export function budgetApplies(budget: Budget, spender: Spender): boolean {
  if (budget.tenant !== spender.tenant) return false;
  switch (budget.scope) {
    case "tenant":
      return true;
    case "team":
      return budget.subject === spender.team;
    case "agent":
      return budget.subject === spender.agentId || budget.subject === spender.agentSpiffeId;
    case "user":
      return budget.subject === spender.userId;
  }
}

/** The start of the period `at` falls in (UTC midnight, or the first of the month). */
export function periodStart(period: BudgetPeriod, at: Date): Date {
  return period === "daily"
    ? new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()))
    : new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/** How a budget names itself to the agent: "the monthly hard budget of team support of tenant acme". */
export function describeBudget(budget: Budget): string {
  const whose = budget.scope === "tenant" ? `tenant ${budget.tenant}` : `${budget.scope} ${budget.subject}`;
  return `the ${budget.period} budget of ${whose}${budget.scope === "tenant" ? "" : ` (tenant ${budget.tenant})`}`;
}
