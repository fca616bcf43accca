import type { AppContext } from "../context.js";
import { ZodError } from "zod";
import { rateLimitDefinitionSchema } from "../../../lib/src/ratelimit/definitions.js";
import { recordAction } from "../audit/record.js";
import { scopedTenant } from "../http/auth.js";
import { ApiError, notFound } from "../http/errors.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { deleteRateLimit, insertRateLimit, listRateLimits, type RateLimitRow } from "./repository.js";
import { writeServiceFile } from "./service-file.js";

interface RateLimitCreateBody {
  tenant: string;
  scope: string;
  subject?: string;
  unit: string;
  per_minute: number;
  failure_mode: string;
  description?: string;
}

function toApi(row: RateLimitRow) {
  return {
    id: row.id,
    tenant: row.tenant_id,
    scope: row.scope,
    subject: row.subject,
    unit: row.unit,
    per_minute: row.per_minute,
    failure_mode: row.failure_mode,
    description: row.description,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
  };
}

/** Rate limits through the API; `serviceFile`: where the rate-limit service reads them (null: nowhere). */
export function rateLimitHandlers(ctx: AppContext, serviceFile: string | null): Handlers {
  const publish = async () => {
    if (serviceFile !== null) await writeServiceFile(ctx.db, serviceFile);
  };
  return {
    listRateLimits: async (request) => {
      const query = request.query as { tenant?: string };
      const tenant = scopedTenant(principalOf(request), query.tenant) ?? null;
      return { items: (await listRateLimits(ctx.db, tenant)).map(toApi) };
    },

    createRateLimit: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as RateLimitCreateBody;
      scopedTenant(principal, body.tenant);
      let definition;
      try {
        definition = rateLimitDefinitionSchema.parse({
          tenant: body.tenant,
          scope: body.scope,
          subject: body.scope === "tenant" ? (body.subject ?? body.tenant) : body.subject,
          unit: body.unit,
          perMinute: body.per_minute,
          failureMode: body.failure_mode,
        });
      } catch (error) {
        if (!(error instanceof ZodError)) throw error;
        throw new ApiError(
          "bad_request",
          "the rate limit is not valid",
          error.issues.map((issue) => ({ field: issue.path.join(".") || "body", message: issue.message })),
        );
      }
      const row = await ctx.db.transaction(async (tx) => {
        const now = ctx.now();
        const created = await insertRateLimit(tx, {
          ...definition,
          description: body.description ?? null,
          createdBy: principal.subject,
          now,
        });
        await recordAction(
          tx,
          request,
          {
            tenant: created.tenant_id,
            action: "rate_limit.created",
            resourceType: "rate_limit",
            resourceId: created.id,
            details: toApi(created),
          },
          now,
        );
        return created;
      });
      await publish();
      return reply.status(201).send(toApi(row));
    },

    deleteRateLimit: async (request, reply) => {
      const principal = principalOf(request);
      const tenant = principal.tenant ?? null;
      await ctx.db.transaction(async (tx) => {
        const row = await deleteRateLimit(tx, (request.params as { id: string }).id, tenant);
        if (!row) throw notFound("rate limit");
        await recordAction(
          tx,
          request,
          {
            tenant: row.tenant_id,
            action: "rate_limit.deleted",
            resourceType: "rate_limit",
            resourceId: row.id,
            details: { scope: row.scope, subject: row.subject, unit: row.unit },
          },
          ctx.now(),
        );
      });
      await publish();
      return reply.status(204).send();
    },
  };
}
