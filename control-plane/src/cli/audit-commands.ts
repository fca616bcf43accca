import { verifyAuditChain, type VerifyResult } from "../../../lib/src/audit/verify.js";
import { createPostgresDatabase } from "../../../lib/src/db/postgres.js";
import { queryString } from "./api-client.js";
import { usageError } from "./cli-error.js";
import type { CommandSpec } from "./command.js";
import * as flags from "./flags.js";
import { fieldColumns, renderTable } from "./table.js";

/** `warden audit ...`: search, export and verify the audit log. */
type AuditEvent = Record<string, unknown> & { id: number };

const FILTER_FLAGS = flags.stringFlags(
  "tenant",
  "agent",
  "agent-spiffe-id",
  "user",
  "decision",
  "action",
  "from",
  "to",
);
const FILTER_USAGE =
  "[--tenant t] [--agent id] [--agent-spiffe-id id] [--user u] [--decision allow|deny] [--action a.b] [--from iso] [--to iso]";

const COLUMNS = fieldColumns<AuditEvent>(
  ["id", "occurred_at", "tenant", "action", "actor", "agent_spiffe_id", "decision", "reason"],
  { occurred_at: "OCCURRED", agent_spiffe_id: "AGENT" },
);

function filters(values: flags.FlagValues) {
  return {
    tenant: flags.text(values, "tenant"),
    agent_id: flags.text(values, "agent"),
    agent_spiffe_id: flags.text(values, "agent-spiffe-id"),
    user_id: flags.text(values, "user"),
    decision: flags.text(values, "decision"),
    action: flags.text(values, "action"),
    from: flags.text(values, "from"),
    to: flags.text(values, "to"),
  };
}

export function describeVerification(result: VerifyResult): string {
  if (result.ok) return `OK: audit chain intact (${result.rows} rows, ${result.tenants} tenants)`;
  const p = result.problem!;
  const row =
    p.id === null
      ? `after chain_seq ${p.chain_seq - 1}`
      : `row id ${p.id} (chain_seq ${p.chain_seq}, event ${p.event_id})`;
  return `BROKEN: tenant ${p.tenant}, ${row}: ${p.message} [${p.kind}]`;
}

async function verifyDirect(url: string, tenant: string | undefined): Promise<VerifyResult> {
  const db = createPostgresDatabase(url, { max: 1, applicationName: "warden-audit-verify" });
  try {
    return await verifyAuditChain(db, tenant === undefined ? {} : { tenant });
  } finally {
    await db.close();
  }
}

export const auditCommands: Record<string, CommandSpec> = {
  list: {
    usage: `${FILTER_USAGE} [--limit n] [--all]`,
    options: { ...FILTER_FLAGS, limit: { type: "string" }, all: { type: "boolean" } },
    async run(ctx) {
      const params = { ...filters(ctx.values), limit: flags.integer(ctx.values, "limit") ?? 100 };
      const events = await ctx.client().list<AuditEvent>("/v1/audit/events", params, ctx.values.all === true);
      ctx.print(events, (rows) => renderTable(COLUMNS, rows));
    },
  },
  export: {
    usage: `${FILTER_USAGE} [--format ndjson|ocsf] [--cursor seq [--limit n]]   (NDJSON on stdout; the next cursor is the last line's chain_seq, in OCSF metadata.sequence)`,
    options: { ...FILTER_FLAGS, ...flags.stringFlags("format", "cursor", "limit") },
    async run(ctx) {
      const cursor = flags.text(ctx.values, "cursor");
      if (cursor !== undefined && !/^\d{1,15}$/.test(cursor))
        throw usageError("--cursor must be a chain position (a whole number; 0 to start)");
      const limit = flags.integer(ctx.values, "limit");
      if (limit !== undefined && cursor === undefined) throw usageError("--limit goes with --cursor");
      const query = {
        ...filters(ctx.values),
        format: flags.oneOf(ctx.values, "format", ["ndjson", "ocsf"] as const),
        cursor,
        limit,
      };
      const stream = await ctx.client().stream(`/v1/audit/export${queryString(query)}`);
      const decoder = new TextDecoder();
      let carry = "";
      for await (const chunk of stream) {
        const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
        carry = lines.pop() ?? "";
        for (const line of lines) if (line) ctx.io.stdout(line);
      }
      if (carry) ctx.io.stdout(carry);
    },
  },
  verify: {
    usage:
      "[--tenant t] [--direct | --database-url url]   (--direct reads DATABASE_URL; otherwise asks the API)",
    options: { ...flags.stringFlags("tenant", "database-url"), direct: { type: "boolean" } },
    async run(ctx) {
      const tenant = flags.text(ctx.values, "tenant");
      let url = flags.text(ctx.values, "database-url");
      if (ctx.values.direct) {
        url = ctx.io.env.DATABASE_URL;
        if (!url) throw usageError("--direct needs DATABASE_URL");
      }
      const result = url
        ? await verifyDirect(url, tenant)
        : (
            await ctx.client().request<VerifyResult>("POST", "/v1/audit/verify", {
              body: tenant === undefined ? {} : { tenant },
            })
          ).body;
      ctx.print(result, describeVerification);
      return result.ok ? 0 : 1;
    },
  },
};
