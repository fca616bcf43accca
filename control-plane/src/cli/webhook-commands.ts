import { queryString } from "./api-client.js";
import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import { uuid } from "./delegation-commands.js";
import * as flags from "./flags.js";
import { fieldColumns, renderRecord, renderTable } from "./table.js";

/**
 * `warden webhooks add|list|remove|deliveries|test|reactivate`: an admin's webhook subscriptions
 * (docs/integrations.md). The signing secret is printed once, by `add`.
 */
type Webhook = Record<string, unknown> & { id: string; url: string; state: string; event_types: string[] };
type Delivery = Record<string, unknown> & { id: string; history: Record<string, unknown>[] };

const COLUMNS = fieldColumns<Webhook>(["id", "state", "url", "event_types", "consecutive_failures"], {
  consecutive_failures: "FAILURES",
  event_types: "EVENTS",
});
const DELIVERY_COLUMNS = fieldColumns<Delivery>(
  ["id", "event_type", "state", "attempts", "last_status", "next_attempt_at", "created_at"],
  { last_status: "STATUS", next_attempt_at: "NEXT", created_at: "CREATED" },
);

const tenantParam = (values: flags.FlagValues) => queryString({ tenant: flags.text(values, "tenant") });

/** The body of `add`: the URL and at least one event type. */
export function subscriptionBody(positionals: readonly string[], values: flags.FlagValues) {
  if (positionals.length !== 1) throw usageError("name the receiver's URL once");
  const events = flags.list(values, "events");
  if (!events?.length)
    throw usageError("--events is required (comma-separated event types, e.g. agent.revoked,kya.approved)");
  return flags.defined({
    url: positionals[0]!,
    event_types: events,
    description: flags.text(values, "description"),
    tenant: flags.text(values, "tenant"),
  });
}

const idOf = (ctx: { positionals: string[] }) =>
  uuid(flags.onePositional(ctx, "subscription id"), "the subscription id");

/** The subscription named on the command line, and its API path plus `suffix` (with `--tenant`). */
function subscriptionTarget(ctx: { positionals: string[]; values: flags.FlagValues }, suffix = "") {
  const id = idOf(ctx);
  return { id, path: `/v1/webhooks/${id}${suffix}${tenantParam(ctx.values)}` };
}

export const webhookCommands: Record<string, CommandSpec> = {
  add: {
    usage: "<https-url> --events type[,type...] [--description text] [--tenant t]",
    options: { ...flags.stringFlags("description", "tenant"), events: { type: "string", multiple: true } },
    async run(ctx) {
      const body = subscriptionBody(ctx.positionals, ctx.values);
      const created = (
        await ctx
          .client()
          .request<{ subscription: Webhook; secret: string }>("POST", "/v1/webhooks", { body })
      ).body;
      ctx.print(
        created,
        (c) =>
          `subscribed ${c.subscription.id}: ${c.subscription.url} gets ${c.subscription.event_types.join(", ")}\n` +
          `secret (shown once): ${c.secret}\n` +
          "verify Warden-Signature with it (docs/integrations.md); it cannot be shown again",
      );
    },
  },
  list: {
    usage: "[--tenant t] [--all]",
    options: { ...flags.stringFlags("tenant"), all: { type: "boolean" } },
    async run(ctx) {
      flags.noPositionals(ctx);
      const items = await ctx
        .client()
        .list<Webhook>(
          "/v1/webhooks",
          { tenant: flags.text(ctx.values, "tenant"), limit: 100 },
          ctx.values.all === true,
        );
      ctx.print(items, (rows) => renderTable(COLUMNS, rows));
    },
  },
  show: {
    usage: "<subscription-id> [--tenant t]",
    options: flags.stringFlags("tenant"),
    async run(ctx) {
      const { path } = subscriptionTarget(ctx);
      const webhook = (await ctx.client().request<Webhook>("GET", path)).body;
      ctx.print(webhook, renderRecord);
    },
  },
  remove: {
    usage: "<subscription-id> [--tenant t]",
    options: flags.stringFlags("tenant"),
    async run(ctx) {
      const { id, path } = subscriptionTarget(ctx);
      await ctx.client().request("DELETE", path);
      ctx.print({ id, removed: true }, () => `removed ${id} and its delivery history`);
    },
  },
  reactivate: {
    usage: "<subscription-id> [--tenant t]",
    options: flags.stringFlags("tenant"),
    async run(ctx) {
      const { path } = subscriptionTarget(ctx, "/reactivate");
      const webhook = (await ctx.client().request<Webhook>("POST", path)).body;
      ctx.print(webhook, (w) => `${w.id} is active again; its pending deliveries resume`);
    },
  },
  test: {
    usage: "<subscription-id> [--tenant t]",
    options: flags.stringFlags("tenant"),
    async run(ctx) {
      const { id, path } = subscriptionTarget(ctx, "/test");
      const delivery = (await ctx.client().request<Delivery>("POST", path)).body;
      ctx.print(
        delivery,
        (d) => `queued webhook.test as delivery ${d.id}; follow it with: warden webhooks deliveries ${id}`,
      );
    },
  },
  deliveries: {
    usage: "<subscription-id> [--tenant t] [--limit n] [--all]",
    options: { ...flags.stringFlags("tenant", "limit"), all: { type: "boolean" } },
    async run(ctx) {
      const id = idOf(ctx);
      const items = await ctx
        .client()
        .list<Delivery>(
          `/v1/webhooks/${id}/deliveries`,
          { tenant: flags.text(ctx.values, "tenant"), limit: flags.integer(ctx.values, "limit") ?? 50 },
          ctx.values.all === true,
        );
      ctx.print(items, (rows) => renderTable(DELIVERY_COLUMNS, rows));
    },
  },
};
