import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderTable } from "./table.js";

/**
 * `warden delegations grant|list|revoke`: a user lets an agent act for them (POST /v1/delegations),
 * sees what they granted, and takes it back (POST /v1/delegations/{id}/revoke). The token of a grant
 * is printed once, for the agent; it is never stored by the control plane.
 */
type Delegation = Record<string, unknown> & { id: string; status: string; scopes: string[] };
type Grant = { delegation: Delegation; token: string; header: string };

const SCOPE = /^[a-z0-9][a-z0-9-]*:[a-z0-9*][a-z0-9:*_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = ["active", "expired", "revoked"] as const;
type FlagValues = flags.FlagValues;
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
  const scopes = flags.list(values, "scope");
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
  return flags.oneOf(values, "status", STATUSES);
}

/** The grant request body, validated before anything is sent. */
export function grantBody(values: FlagValues) {
  const ttl = flags.text(values, "ttl");
  return flags.defined({
    agent_id: uuid(flags.requiredText(values, "agent"), "--agent"),
    scopes: scopesFrom(values),
    ttl_seconds: ttl === undefined ? undefined : parseTtl(ttl),
    destinations: flags.list(values, "destination"),
  });
}

const COLUMNS = fieldColumns<Delegation>(
  ["id", "user_id", "agent_spiffe_id", "scopes", "status", "expires_at", "revoked_at"],
  { user_id: "USER", agent_spiffe_id: "AGENT", expires_at: "EXPIRES", revoked_at: "REVOKED" },
);

const grant: CommandSpec = {
  usage: "--agent <agent-id> --scope s [--scope s ...] [--ttl 24h] [--destination service ...]",
  options: {
    ...flags.stringFlags("agent", "ttl"),
    scope: { type: "string", multiple: true },
    destination: { type: "string", multiple: true },
  },
  async run(ctx) {
    flags.noPositionals(ctx);
    const body = grantBody(ctx.values);
    const granted = (await ctx.client().request<Grant>("POST", "/v1/delegations", { body })).body;
    ctx.print(granted, ({ delegation: d, header, token }) =>
      [
        `delegation ${d.id} granted: ${d.scopes.join(" ")} to ${String(d.agent_spiffe_id)} until ${String(d.expires_at)}`,
        `the agent sends this token in ${header} (shown once, not stored):`,
        token,
      ].join("\n"),
    );
  },
};

const listCommand: CommandSpec = {
  usage: "[--agent id] [--user u] [--tenant t] [--status active|expired|revoked] [--limit n] [--all]",
  options: { ...flags.stringFlags("agent", "user", "tenant", "status", "limit"), all: { type: "boolean" } },
  async run(ctx) {
    flags.noPositionals(ctx);
    const agent = flags.text(ctx.values, "agent");
    const params = {
      agent_id: agent === undefined ? undefined : uuid(agent, "--agent"),
      user_id: flags.text(ctx.values, "user"),
      tenant: flags.text(ctx.values, "tenant"),
      status: delegationStatus(ctx.values),
      limit: flags.integer(ctx.values, "limit") ?? 100,
    };
    const items = await ctx.client().list<Delegation>("/v1/delegations", params, ctx.values.all === true);
    ctx.print(items, (rows) => renderTable(COLUMNS, rows));
  },
};

const revoke: CommandSpec = {
  usage: "<delegation-id> [--reason text]",
  options: { reason: { type: "string" } },
  async run(ctx) {
    const id = uuid(flags.onePositional(ctx, "delegation id"), "the delegation id");
    const reason = flags.text(ctx.values, "reason");
    if (reason !== undefined && (reason.length < 1 || reason.length > 1024))
      throw usageError("--reason must be 1 to 1024 characters");
    const revoked = (
      await ctx
        .client()
        .request<Delegation>("POST", `/v1/delegations/${id}/revoke`, { body: flags.defined({ reason }) })
    ).body;
    ctx.print(revoked, (d) => `delegation ${d.id} ${d.status}; the data plane refuses it within a second`);
  },
};

export const delegationCommands: Record<string, CommandSpec> = { grant, list: listCommand, revoke };
