import { randomUUID } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { BlockList } from "node:net";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { scopedTenant, type Principal } from "../http/auth.js";
import { decodeTimeCursor } from "../http/cursor.js";
import { ApiError, notFound } from "../http/errors.js";
import { withIsoDates } from "../http/iso-dates.js";
import { afterTime, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import type { EventType, WebhookEvent } from "./events.js";
import {
  attemptsOf,
  chainHead,
  deleteSubscription,
  findSubscription,
  insertDeliveries,
  insertSubscription,
  listDeliveries,
  listSubscriptions,
  reactivateSubscription,
  type AttemptRow,
  type DeliveryRow,
  type SubscriptionRow,
} from "./repository.js";
import { newSigningSecret, type SecretSealer } from "./secrets.js";
import { targetProblem, type Resolve } from "./target.js";

/**
 * Webhook subscriptions API (admins of the tenant): subscribe (the secret is in that answer only),
 * list, show, remove, reactivate, send a test event, read the delivery history. Every change is
 * audited in its transaction (`webhook.subscribed|removed|reactivated`).
 */
export interface WebhookApiDeps {
  /** null when OpenBao is not configured: subscribing answers 503 (nothing to seal the secret with). */
  sealer: SecretSealer | null;
  allowedNetworks: BlockList;
  resolve?: Resolve;
  /** Tell the worker a tenant has something to do now. */
  kick(tenant: string): void;
}

type IdParams = { id: string };
type TenantQuery = { tenant?: string };
type CreateBody = { url: string; event_types: EventType[]; description?: string; tenant?: string };
type PageQuery = { limit: number; cursor?: string; tenant?: string };

const RESOURCE = "webhook_subscription";

/** The tenant an admin acts in: the token's, or (a token not limited to one tenant) the one it names. */
function tenantOf(principal: Principal, requested: string | undefined): string {
  const tenant = scopedTenant(principal, requested);
  if (tenant === undefined)
    throw new ApiError("bad_request", "name the tenant: this token is not limited to one tenant", [
      { field: "tenant", message: "is required for a token without a tenant claim" },
    ]);
  return tenant;
}

/** What the API shows of a subscription: never the sealed secret. */
export function subscriptionToApi(row: SubscriptionRow) {
  return withIsoDates({
    id: row.id,
    tenant: row.tenant_id,
    url: row.url,
    description: row.description,
    event_types: row.event_types,
    state: row.state,
    disabled_reason: row.disabled_reason,
    consecutive_failures: row.consecutive_failures,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
  });
}

export function deliveryToApi(row: DeliveryRow, history: AttemptRow[]) {
  return withIsoDates({
    id: row.id,
    subscription_id: row.subscription_id,
    event_id: row.event_id,
    event_type: row.event_type,
    sequence: row.audit_seq,
    state: row.state,
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at,
    last_status: row.last_status,
    last_error: row.last_error,
    created_at: row.created_at,
    delivered_at: row.delivered_at,
    history: history.map((a) => withIsoDates(a)),
  });
}

export function webhookHandlers(ctx: AppContext, deps: WebhookApiDeps): Handlers {
  async function visible(request: FastifyRequest): Promise<{ tenant: string; row: SubscriptionRow }> {
    const tenant = tenantOf(principalOf(request), (request.query as TenantQuery).tenant);
    const row = await findSubscription(ctx.db, tenant, (request.params as IdParams).id);
    if (!row) throw notFound("webhook subscription");
    return { tenant, row };
  }

  return {
    createWebhook: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as CreateBody;
      const tenant = tenantOf(principal, body.tenant);
      const problem = await targetProblem(body.url, deps.allowedNetworks, deps.resolve);
      if (problem) throw new ApiError("bad_request", `url ${problem}`, [{ field: "url", message: problem }]);
      if (!deps.sealer)
        throw new ApiError("unavailable", "webhooks need OpenBao to seal their signing secrets (VAULT_ADDR)");
      const secret = newSigningSecret();
      const sealed = await deps.sealer.seal(tenant, secret).catch(() => {
        throw new ApiError("unavailable", "OpenBao is unavailable; the subscription was not made");
      });
      const now = ctx.now();
      const row = await ctx.db.transaction(async (tx) => {
        const created = await insertSubscription(
          tx,
          {
            tenant_id: tenant,
            url: body.url,
            description: body.description ?? null,
            event_types: body.event_types,
            secret_sealed: sealed,
            start_seq: await chainHead(tx, tenant),
            created_by: principal.subject,
          },
          now,
        );
        await recordAction(
          tx,
          request,
          {
            tenant,
            action: "webhook.subscribed",
            resourceType: RESOURCE,
            resourceId: created.id,
            details: { url: created.url, event_types: created.event_types },
          },
          now,
        );
        return created;
      });
      return reply.status(201).send({ subscription: subscriptionToApi(row), secret });
    },

    listWebhooks: async (request) => {
      const query = request.query as PageQuery;
      const tenant = tenantOf(principalOf(request), query.tenant);
      const after = decodeTimeCursor("webhooks", query.cursor);
      return readPage(
        query,
        (rows) => listSubscriptions(ctx.db, tenant, after, rows),
        subscriptionToApi,
        afterTime("webhooks", (row: SubscriptionRow) => row.created_at),
      );
    },

    getWebhook: async (request) => subscriptionToApi((await visible(request)).row),

    deleteWebhook: async (request, reply) => {
      const { tenant, row } = await visible(request);
      const now = ctx.now();
      await ctx.db.transaction(async (tx) => {
        if (!(await deleteSubscription(tx, tenant, row.id))) throw notFound("webhook subscription");
        await recordAction(
          tx,
          request,
          {
            tenant,
            action: "webhook.removed",
            resourceType: RESOURCE,
            resourceId: row.id,
            details: { url: row.url },
          },
          now,
        );
      });
      return reply.status(204).send();
    },

    reactivateWebhook: async (request) => {
      const { tenant, row } = await visible(request);
      const now = ctx.now();
      const after = await ctx.db.transaction(async (tx) => {
        const updated = await reactivateSubscription(tx, tenant, row.id, now);
        if (!updated) throw notFound("webhook subscription");
        await recordAction(
          tx,
          request,
          {
            tenant,
            action: "webhook.reactivated",
            resourceType: RESOURCE,
            resourceId: row.id,
            details: { was: row.state, disabled_reason: row.disabled_reason },
          },
          now,
        );
        return updated;
      });
      deps.kick(tenant);
      return subscriptionToApi(after);
    },

    testWebhook: async (request, reply) => {
      const { tenant, row } = await visible(request);
      if (row.state !== "active")
        throw new ApiError("conflict", "the subscription is disabled; reactivate it first", [
          { field: "state", message: row.state },
        ]);
      const now = ctx.now();
      const event: WebhookEvent = {
        id: randomUUID(),
        type: "webhook.test",
        tenant,
        occurred_at: now.toISOString(),
        sequence: null,
        data: { subscription_id: row.id, requested_by: principalOf(request).subject },
      };
      const [delivery] = await insertDeliveries(
        ctx.db,
        tenant,
        [
          {
            subscription_id: row.id,
            event_id: event.id,
            event_type: event.type,
            audit_seq: null,
            payload: event as unknown as Record<string, unknown>,
          },
        ],
        now,
      );
      deps.kick(tenant);
      return reply.status(202).send(deliveryToApi(delivery!, []));
    },

    listWebhookDeliveries: async (request) => {
      const query = request.query as PageQuery;
      const { tenant, row } = await visible(request);
      const after = decodeTimeCursor("webhook-deliveries", query.cursor);
      const page = await readPage(
        query,
        (rows) => listDeliveries(ctx.db, tenant, row.id, after, rows),
        (delivery) => delivery,
        afterTime("webhook-deliveries", (delivery: DeliveryRow) => delivery.created_at),
      );
      const attempts = await attemptsOf(
        ctx.db,
        tenant,
        page.items.map((d) => d.id),
      );
      return {
        items: page.items.map((d) => deliveryToApi(d, attempts.get(d.id) ?? [])),
        next_cursor: page.next_cursor,
      };
    },
  };
}
