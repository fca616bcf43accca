import { tenantLoginCommands } from "./tenant-login-commands.js";
import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderRecord, renderTable } from "./table.js";

/**
 * `warden tenants create|list|show|suspend|resume` (docs/tenancy.md): the tenant lifecycle, for
 * platform administrators. Suspending a tenant makes the data plane refuse every agent of it.
 */
type Tenant = Record<string, unknown> & { id: string; status: string };

const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function tenantId(value: string): string {
  if (!TENANT_ID.test(value))
    throw usageError(
      "a tenant id is 1 to 63 lower-case letters, digits, `_` or `-`, starting with a letter or digit",
    );
  return value;
}

const COLUMNS = fieldColumns<Tenant>(
  ["id", "display_name", "status", "signing_key", "sealing_key", "created_at"],
  {
    display_name: "NAME",
    signing_key: "SIGNING KEY",
    sealing_key: "SEALING KEY",
    created_at: "CREATED",
  },
);

const create: CommandSpec = {
  usage: "<tenant-id> [--name display-name]",
  options: flags.stringFlags("name"),
  async run(ctx) {
    const id = tenantId(flags.onePositional(ctx, "tenant id"));
    const body = flags.defined({ id, display_name: flags.text(ctx.values, "name") });
    const tenant = (await ctx.client().request<Tenant>("POST", "/v1/tenants", { body })).body;
    ctx.print(
      tenant,
      (t) => `tenant ${t.id} created with keys ${String(t.signing_key)} and ${String(t.sealing_key)}`,
    );
  },
};

const list: CommandSpec = {
  usage: "",
  options: {},
  async run(ctx) {
    flags.noPositionals(ctx);
    const { items } = (await ctx.client().request<{ items: Tenant[] }>("GET", "/v1/tenants")).body;
    ctx.print(items, (rows) => renderTable(COLUMNS, rows));
  },
};

const show: CommandSpec = {
  usage: "<tenant-id>",
  options: {},
  async run(ctx) {
    const id = tenantId(flags.onePositional(ctx, "tenant id"));
    ctx.print((await ctx.client().request<Tenant>("GET", `/v1/tenants/${id}`)).body, renderRecord);
  },
};

const suspend: CommandSpec = {
  usage: "<tenant-id> --reason text",
  options: flags.stringFlags("reason"),
  async run(ctx) {
    const id = tenantId(flags.onePositional(ctx, "tenant id"));
    const body = { reason: flags.requiredText(ctx.values, "reason") };
    const tenant = (await ctx.client().request<Tenant>("POST", `/v1/tenants/${id}/suspend`, { body })).body;
    ctx.print(tenant, (t) => `tenant ${t.id} suspended: its agents are refused (tenant_suspended)`);
  },
};

const resume: CommandSpec = {
  usage: "<tenant-id>",
  options: {},
  async run(ctx) {
    const id = tenantId(flags.onePositional(ctx, "tenant id"));
    const tenant = (await ctx.client().request<Tenant>("POST", `/v1/tenants/${id}/resume`)).body;
    ctx.print(tenant, (t) => `tenant ${t.id} resumed`);
  },
};

export const tenantCommands: Record<string, CommandSpec> = {
  create,
  list,
  show,
  suspend,
  resume,
  ...tenantLoginCommands,
};
