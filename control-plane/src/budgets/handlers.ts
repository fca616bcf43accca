import type { FastifyReply, FastifyRequest } from "fastify";
import type { Queryable } from "../../../lib/src/db/types.js";
import { budgetSpend } from "../../../lib/src/llm/budget-store.js";
import {
  BUDGET_CHANNEL,
  periodStart,
  type BudgetEnforcement,
  type BudgetPeriod,
  type BudgetScope,
} from "../../../lib/src/llm/budgets.js";
import { formatMicros, formatUsd, usdToMicros } from "../../../lib/src/llm/money.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { canSeeTenant, scopedTenant } from "../http/auth.js";
import { checkIfMatch, etagOf } from "../http/conditional.js";
import { ApiError, notFound } from "../http/errors.js";
import { principalOf, type Handlers } from "../http/routes.js";
import {
  deleteBudget,
  findBudget,
  insertBudget,
  listBudgets,
  updateBudget,
  type BudgetChanges,
  type BudgetRow,
} from "./repository.js";

interface BudgetCreateBody {
  tenant: string;
  scope: BudgetScope;
  subject?: string;
  period: BudgetPeriod;
  limit_usd: string;
  enforcement: BudgetEnforcement;
  description?: string;
}

interface BudgetUpdateBody {
  limit_usd?: string;
  enforcement?: BudgetEnforcement;
  description?: string | null;
}

type IdParams = { id: string };

/** Tells every sidecar (LISTEN warden_budgets) to re-read budgets; sent when the transaction commits. */
async function announce(tx: Queryable, op: "upsert" | "delete", budget: BudgetRow): Promise<void> {
  await tx.query("SELECT pg_notify($1, $2)", [
    BUDGET_CHANNEL,
    JSON.stringify({ op, id: budget.id, tenant: budget.tenant }),
  ]);
}

function toApi(row: BudgetRow, spentPico: bigint, now: Date) {
  return {
    id: row.id,
    tenant: row.tenant,
    scope: row.scope,
    subject: row.subject,
    period: row.period,
    limit_usd: formatMicros(row.limit_micros),
    enforcement: row.enforcement,
    description: row.description,
    period_start: periodStart(row.period, now).toISOString(),
    spent_usd: formatUsd(spentPico),
    version: row.version,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function limitOf(text: string): bigint {
  const micros = usdToMicros(text);
  if (micros === 0n)
    throw new ApiError("bad_request", "a budget limit must be above zero", [
      { field: "limit_usd", message: "must be above zero" },
    ]);
  return micros;
}

export function budgetHandlers(ctx: AppContext): Handlers {
  async function withSpend(rows: BudgetRow[]) {
    const now = ctx.now();
    const spend = rows.length
      ? await budgetSpend(ctx.db, now, { budgetIds: rows.map((row) => row.id) })
      : new Map<string, bigint>();
    return rows.map((row) => toApi(row, spend.get(row.id) ?? 0n, now));
  }

  async function send(reply: FastifyReply, row: BudgetRow, status = 200) {
    const [body] = await withSpend([row]);
    return reply.status(status).header("etag", etagOf(row.version)).send(body);
  }

  async function loadVisible(request: FastifyRequest, db: Queryable, forUpdate: boolean): Promise<BudgetRow> {
    const row = await findBudget(db, (request.params as IdParams).id, forUpdate);
    if (!row || !canSeeTenant(principalOf(request), row.tenant)) throw notFound("budget");
    return row;
  }

  return {
    listBudgets: async (request) => {
      const query = request.query as { tenant?: string; scope?: BudgetScope };
      const tenant = scopedTenant(principalOf(request), query.tenant);
      return { items: await withSpend(await listBudgets(ctx.db, { tenant, scope: query.scope })) };
    },

    createBudget: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as BudgetCreateBody;
      scopedTenant(principal, body.tenant);
      const subject = body.scope === "tenant" ? (body.subject ?? body.tenant) : body.subject;
      if (subject === undefined || (body.scope === "tenant" && subject !== body.tenant)) {
        throw new ApiError("bad_request", `a ${body.scope} budget needs its ${body.scope} as subject`, [
          {
            field: "subject",
            message: body.scope === "tenant" ? "must be the tenant (or leave it out)" : "is required",
          },
        ]);
      }
      const limitMicros = limitOf(body.limit_usd);
      const created = await ctx.db.transaction(async (tx) => {
        const now = ctx.now();
        const row = await insertBudget(tx, {
          tenant: body.tenant,
          scope: body.scope,
          subject,
          period: body.period,
          limit_micros: limitMicros,
          enforcement: body.enforcement,
          description: body.description ?? null,
          created_by: principal.subject,
          created_at: now,
        });
        await recordAction(
          tx,
          request,
          {
            tenant: row.tenant,
            action: "llm_budget.created",
            resourceType: "llm_budget",
            resourceId: row.id,
            details: {
              scope: row.scope,
              subject: row.subject,
              period: row.period,
              limit_usd: body.limit_usd,
              enforcement: row.enforcement,
            },
          },
          now,
        );
        await announce(tx, "upsert", row);
        return row;
      });
      return send(reply, created, 201);
    },

    getBudget: async (request, reply) => send(reply, await loadVisible(request, ctx.db, false)),

    updateBudget: async (request, reply) => {
      const body = request.body as BudgetUpdateBody;
      const changes: BudgetChanges = {};
      if (body.limit_usd !== undefined) changes.limit_micros = limitOf(body.limit_usd);
      if (body.enforcement !== undefined) changes.enforcement = body.enforcement;
      if (body.description !== undefined) changes.description = body.description;
      const updated = await ctx.db.transaction(async (tx) => {
        const before = await loadVisible(request, tx, true);
        checkIfMatch(request.headers["if-match"], before.version, false);
        const now = ctx.now();
        const row = await updateBudget(tx, before.id, changes, now);
        await recordAction(
          tx,
          request,
          {
            tenant: row.tenant,
            action: "llm_budget.updated",
            resourceType: "llm_budget",
            resourceId: row.id,
            details: { changes: body, version: row.version },
          },
          now,
        );
        await announce(tx, "upsert", row);
        return row;
      });
      return send(reply, updated);
    },

    deleteBudget: async (request, reply) => {
      await ctx.db.transaction(async (tx) => {
        const row = await loadVisible(request, tx, true);
        checkIfMatch(request.headers["if-match"], row.version, false);
        await deleteBudget(tx, row.id);
        await recordAction(
          tx,
          request,
          {
            tenant: row.tenant,
            action: "llm_budget.deleted",
            resourceType: "llm_budget",
            resourceId: row.id,
            details: { scope: row.scope, subject: row.subject, period: row.period },
          },
          ctx.now(),
        );
        await announce(tx, "delete", row);
      });
      return reply.status(204).send();
    },
  };
}
