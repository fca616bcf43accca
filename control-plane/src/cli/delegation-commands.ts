import { queryString } from "./api-client.js";
import {
  defined,
  integer,
  list,
  onePositional,
  requiredText,
  text,
  usageError,
  type CommandContext,
  type CommandSpec,
  type FlagValues,
} from "./command.js";
import { renderRecord, renderTable } from "./table.js";

/**
 * `warden delegations grant|list|revoke`: a user lets an agent act for them (POST /v1/delegations),
 * sees what they granted, and takes it back (POST /v1/delegations/{id}/revoke). The token of a grant
 * is printed once, for the agent; it is never stored by the control plane.
 */
type Delegation = Record<string, unknown> & { id: string; status: string; scopes: string[] };
type Grant = { delegation: Delegation; token: string; header: string };
type Page = { items: Delegation[]; next_cursor: string | null };

const SCOPE = /^[a-z0-9][a-z0-9-]*:[a-z0-9*][a-z0-9:*_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = ["active", "expired", "revoked"] as const;
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `3600`, `90s`, `30m`, `24h`, `7d` → whole seconds. */
export function parseTtl(value: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  if (!match) throw usageError("--ttl must be seconds or a number with s, m, h or d (e.g. 3600, 24h, 7d)");
  const seconds = Number(match[1]) * TTL_UNITS[match[2] || "s"]!;
  if (seconds < 1) throw usageError("--ttl must be at least one second");
  return seconds;
}

export function scopesFrom(values: FlagValues): string[] {
  const scopes = list(values, "scope");
  if (!scopes?.length) throw usageError("give at least one --scope (e.g. --scope google-drive:read)");
  for (const scope of scopes)
    if (!SCOPE.test(scope)) throw usageError(`--scope "${scope}" is not a scope like google-drive:read`);
  return [...new Set(scopes)];
}

export function uuid(value: string, what: string): string {
  if (!UUID.test(value)) throw usageError(`${what} must be a UUID`);
  return value.toLowerCase();
}

export function delegationStatus(values: FlagValues): string | undefined {
  const status = text(values, "status");
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status))
    throw usageError(`--status must be one of ${STATUSES.join(", ")}`);
  return status;
}

/** The grant request body, validated before anything is sent. */
export function grantBody(values: FlagValues) {
  const ttl = text(values, "ttl");
  return defined({
    agent_id: uuid(requiredText(values, "agent"), "--agent"),
    scopes: scopesFrom(values),
    ttl_seconds: ttl === undefined ? undefined : parseTtl(ttl),
    destinations: list(values, "destination"),
  });
}

const COLUMNS = [
  { header: "ID", value: (d: Delegation) => d.id },
  { header: "USER", value: (d: Delegation) => d.user_id },
  { header: "AGENT", value: (d: Delegation) => d.agent_spiffe_id },
  { header: "SCOPES", value: (d: Delegation) => d.scopes },
  { header: "STATUS", value: (d: Delegation) => d.status },
  { header: "EXPIRES", value: (d: Delegation) => d.expires_at },
  { header: "REVOKED", value: (d: Delegation) => d.revoked_at },
];

function show(ctx: CommandContext, delegation: Delegation): void {
  ctx.io.stdout(ctx.json ? JSON.stringify(delegation, null, 2) : renderRecord(delegation));
}

const grant: CommandSpec = {
  usage: "--agent <agent-id> --scope s [--scope s ...] [--ttl 24h] [--destination service ...]",
  options: {
    agent: { type: "string" },
    scope: { type: "string", multiple: true },
    ttl: { type: "string" },
    destination: { type: "string", multiple: true },
  },
  async run(ctx) {
    if (ctx.positionals.length) throw usageError(`unexpected argument "${ctx.positionals[0]}"`);
    const body = grantBody(ctx.values);
    const granted = (await ctx.client().request<Grant>("POST", "/v1/delegations", { body })).body;
    if (ctx.json) {
      ctx.io.stdout(JSON.stringify(granted, null, 2));
      return;
    }
    const d = granted.delegation;
    ctx.io.stdout(
      [
        `delegation ${d.id} granted: ${d.scopes.join(" ")} to ${String(d.agent_spiffe_id)} until ${String(d.expires_at)}`,
        `the agent sends this token in ${granted.header} (shown once, not stored):`,
        granted.token,
      ].join("\n"),
    );
  },
};

const listCommand: CommandSpec = {
  usage: "[--agent id] [--user u] [--tenant t] [--status active|expired|revoked] [--limit n] [--all]",
  options: {
    agent: { type: "string" },
    user: { type: "string" },
    tenant: { type: "string" },
    status: { type: "string" },
    limit: { type: "string" },
    all: { type: "boolean" },
  },
  async run(ctx) {
    if (ctx.positionals.length) throw usageError(`unexpected argument "${ctx.positionals[0]}"`);
    const agent = text(ctx.values, "agent");
    const params = {
      agent_id: agent === undefined ? undefined : uuid(agent, "--agent"),
      user_id: text(ctx.values, "user"),
      tenant: text(ctx.values, "tenant"),
      status: delegationStatus(ctx.values),
      limit: integer(ctx.values, "limit") ?? 100,
    };
    const client = ctx.client();
    const items: Delegation[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.request<Page>("GET", `/v1/delegations${queryString({ ...params, cursor })}`);
      items.push(...page.body.items);
      cursor = ctx.values.all ? (page.body.next_cursor ?? undefined) : undefined;
    } while (cursor);
    ctx.io.stdout(ctx.json ? JSON.stringify(items, null, 2) : renderTable(COLUMNS, items));
  },
};

const revoke: CommandSpec = {
  usage: "<delegation-id> [--reason text]",
  options: { reason: { type: "string" } },
  async run(ctx) {
    const id = uuid(onePositional(ctx, "delegation id"), "the delegation id");
    const reason = text(ctx.values, "reason");
    if (reason !== undefined && (reason.length < 1 || reason.length > 1024))
      throw usageError("--reason must be 1 to 1024 characters");
    const revoked = (
      await ctx
        .client()
        .request<Delegation>("POST", `/v1/delegations/${id}/revoke`, { body: defined({ reason }) })
    ).body;
    if (ctx.json) show(ctx, revoked);
    else
      ctx.io.stdout(`delegation ${revoked.id} ${revoked.status}; the data plane refuses it within a second`);
  },
};

export const delegationCommands: Record<string, CommandSpec> = { grant, list: listCommand, revoke };
