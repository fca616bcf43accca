import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import { uuid } from "./delegation-commands.js";
import * as flags from "./flags.js";
import { fieldColumns, renderRecord, renderTable } from "./table.js";

/**
 * `warden approvals list|show|approve|reject`: the delegating user of a held MCP call (or an admin of
 * its tenant) sees what an agent asked to do and decides (POST /v1/approvals/{id}/approve|reject).
 * An approval lets the agent's next identical call through, once.
 */
type Approval = Record<string, unknown> & {
  id: string;
  state: string;
  server: string;
  method: string;
  name: string;
  expires_at: string;
};

const STATES = ["pending", "approved", "rejected", "used", "expired"] as const;
const SPIFFE = /^spiffe:\/\//;
type FlagValues = flags.FlagValues;

/** The list's query: `--agent` is a registry id (UUID) or a SPIFFE ID. */
export function listParams(values: FlagValues) {
  const agent = flags.text(values, "agent");
  if (agent !== undefined && !SPIFFE.test(agent) && !/^[0-9a-f-]{36}$/i.test(agent))
    throw usageError("--agent must be the agent's id (a UUID) or its SPIFFE ID (spiffe://...)");
  return {
    state: flags.oneOf(values, "state", STATES),
    server: flags.text(values, "server"),
    agent_id: agent !== undefined && !SPIFFE.test(agent) ? uuid(agent, "--agent") : undefined,
    agent_spiffe_id: agent !== undefined && SPIFFE.test(agent) ? agent : undefined,
    user_id: flags.text(values, "user"),
    tenant: flags.text(values, "tenant"),
    limit: flags.integer(values, "limit") ?? 100,
  };
}

/** The decision's body: an optional note of 1 to 1024 characters. */
export function decisionBody(values: FlagValues): { note?: string } {
  const note = flags.text(values, "note");
  if (note !== undefined && (note.length < 1 || note.length > 1024))
    throw usageError("--note must be 1 to 1024 characters");
  return flags.defined({ note });
}

const COLUMNS = fieldColumns<Approval>(
  ["id", "state", "agent_spiffe_id", "user_id", "server", "method", "name", "expires_at"],
  { agent_spiffe_id: "AGENT", user_id: "USER", name: "TOOL", expires_at: "EXPIRES" },
);

const listCommand: CommandSpec = {
  usage:
    "[--state pending|approved|rejected|used|expired] [--server name] [--agent id|spiffe-id] [--user u] [--tenant t] [--limit n] [--all]",
  options: {
    ...flags.stringFlags("state", "server", "agent", "user", "tenant", "limit"),
    all: { type: "boolean" },
  },
  async run(ctx) {
    flags.noPositionals(ctx);
    const items = await ctx
      .client()
      .list<Approval>("/v1/approvals", listParams(ctx.values), ctx.values.all === true);
    ctx.print(items, (rows) => renderTable(COLUMNS, rows));
  },
};

const show: CommandSpec = {
  usage: "<approval-id>",
  options: {},
  async run(ctx) {
    const id = uuid(flags.onePositional(ctx, "approval id"), "the approval id");
    const approval = (await ctx.client().request<Approval>("GET", `/v1/approvals/${id}`)).body;
    ctx.print(approval, renderRecord);
  },
};

function decide(verb: "approve" | "reject"): CommandSpec {
  return {
    usage: "<approval-id> [--note text]",
    options: { note: { type: "string" } },
    async run(ctx) {
      const id = uuid(flags.onePositional(ctx, "approval id"), "the approval id");
      const body = decisionBody(ctx.values);
      const decided = (await ctx.client().request<Approval>("POST", `/v1/approvals/${id}/${verb}`, { body }))
        .body;
      ctx.print(decided, (a) =>
        verb === "approve"
          ? `approval ${a.id} approved: the agent's next identical ${a.method} ${a.name} on ${a.server} passes once, until ${a.expires_at}`
          : `approval ${a.id} rejected: ${a.method} ${a.name} on ${a.server} stays refused`,
      );
    },
  };
}

export const approvalCommands: Record<string, CommandSpec> = {
  list: listCommand,
  show,
  approve: decide("approve"),
  reject: decide("reject"),
};
