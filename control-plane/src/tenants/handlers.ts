import type { FastifyReply, FastifyRequest } from "fastify";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { canSeeTenant, type Principal } from "../http/auth.js";
import { etagOf } from "../http/conditional.js";
import { ApiError, notFound } from "../http/errors.js";
import { principalOf, type Handlers } from "../http/routes.js";
import type { TenantKeys } from "./keys.js";
import {
  findTenant,
  insertTenant,
  listTenants,
  setTenantStatus,
  type TenantRow,
  type TenantStatusChange,
} from "./repository.js";

type TenantParams = { tenant_id: string };

function toApi(row: TenantRow) {
  return {
    ...row,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    suspended_at: row.suspended_at?.toISOString() ?? null,
  };
}

function send(reply: FastifyReply, row: TenantRow, status = 200) {
  return reply.status(status).header("etag", etagOf(row.version)).send(toApi(row));
}

/** The lifecycle is the platform's: a token limited to a tenant never manages tenants, its own included. */
function requirePlatform(principal: Principal): void {
  if (principal.tenant !== null)
    throw new ApiError("forbidden", "managing tenants needs a platform token (no tenant claim)");
}

/** Tenants: create (with their transit keys), list, get, suspend, resume (docs/tenancy.md). */
export function tenantHandlers(ctx: AppContext, keys: TenantKeys | null): Handlers {
  async function visible(request: FastifyRequest): Promise<TenantRow> {
    const id = (request.params as TenantParams).tenant_id;
    const row = await findTenant(ctx.db, id);
    if (!row || !canSeeTenant(principalOf(request), row.id)) throw notFound("tenant");
    return row;
  }

  function changeStatus(
    target: TenantRow["status"],
    change: (request: FastifyRequest, now: Date) => TenantStatusChange,
  ) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const principal = principalOf(request);
      requirePlatform(principal);
      const id = (request.params as TenantParams).tenant_id;
      const updated = await ctx.db.transaction(async (tx) => {
        const before = await findTenant(tx, id, true);
        if (!before) throw notFound("tenant");
        if (before.status === target) throw new ApiError("conflict", `the tenant is already ${target}`);
        const now = ctx.now();
        const wanted = change(request, now);
        const row = await setTenantStatus(tx, id, wanted, now);
        await recordAction(
          tx,
          request,
          {
            tenant: row.id,
            action: target === "suspended" ? "tenant.suspended" : "tenant.resumed",
            resourceType: "tenant",
            resourceId: row.id,
            reason: wanted.suspension_reason,
            details: { version: row.version },
          },
          now,
        );
        return row;
      });
      return send(reply, updated);
    };
  }

  return {
    listTenants: async (request) => {
      const principal = principalOf(request);
      return { items: (await listTenants(ctx.db, principal.tenant ?? undefined)).map(toApi) };
    },

    createTenant: async (request, reply) => {
      const principal = principalOf(request);
      requirePlatform(principal);
      const body = request.body as { id: string; display_name?: string };
      if (!keys) throw new ApiError("unavailable", "OpenBao is not configured: a tenant needs its own keys");
      if (await findTenant(ctx.db, body.id)) throw new ApiError("conflict", "this tenant already exists");
      // Keys first: a tenant row always has its keys. Creation is idempotent, so a retry after a
      // failure further on (or a lost race with another creator, then 409) leaves nothing broken.
      const names = await keys.ensure(body.id);
      const created = await ctx.db.transaction(async (tx) => {
        const now = ctx.now();
        const row = await insertTenant(tx, {
          id: body.id,
          display_name: body.display_name ?? body.id,
          ...names,
          created_by: principal.subject,
          created_at: now,
        });
        await recordAction(
          tx,
          request,
          {
            tenant: row.id,
            action: "tenant.created",
            resourceType: "tenant",
            resourceId: row.id,
            details: { signing_key: row.signing_key, sealing_key: row.sealing_key },
          },
          now,
        );
        return row;
      });
      return send(reply, created, 201);
    },

    getTenant: async (request, reply) => send(reply, await visible(request)),

    suspendTenant: changeStatus("suspended", (request, now) => ({
      status: "suspended",
      suspended_at: now,
      suspended_by: principalOf(request).subject,
      suspension_reason: (request.body as { reason: string }).reason,
    })),

    resumeTenant: changeStatus("active", () => ({
      status: "active",
      suspended_at: null,
      suspended_by: null,
      suspension_reason: null,
    })),
  };
}
