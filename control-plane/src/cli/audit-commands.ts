import { verifyAuditChain, type VerifyResult } from "../../../lib/src/audit/verify.js";
import { createPostgresDatabase } from "../../../lib/src/db/postgres.js";
import { queryString } from "./api-client.js";
import {
  integer,
  text,
  usageError,
  type CommandContext,
  type CommandSpec,
  type FlagValues,
} from "./command.js";
import { renderTable } from "./table.js";

/** `warden audit ...`: search, export and verify the audit log. */
type AuditEvent = Record<string, unknown> & { id: number };

const FILTER_FLAGS = {
  tenant: { type: "string" },
  agent: { type: "string" },
  "agent-spiffe-id": { type: "string" },
  user: { type: "string" },
  decision: { type: "string" },
  action: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
} as const;
const FILTER_USAGE =
  "[--tenant t] [--agent id] [--agent-spiffe-id id] [--user u] [--decision allow|deny] [--action a.b] [--from iso] [--to iso]";

function filters(values: FlagValues) {
  return {
    tenant: text(values, "tenant"),
    agent_id: text(values, "agent"),
    agent_spiffe_id: text(values, "agent-spiffe-id"),
    user_id: text(values, "user"),
    decision: text(values, "decision"),
    action: text(values, "action"),
    from: text(values, "from"),
    to: text(values, "to"),
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

async function verifyDirect(
  ctx: CommandContext,
  url: string,
  tenant: string | undefined,
): Promise<VerifyResult> {
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
      const client = ctx.client();
      const events: AuditEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.request<{ items: AuditEvent[]; next_cursor: string | null }>(
          "GET",
          `/v1/audit/events${queryString({ ...filters(ctx.values), limit: integer(ctx.values, "limit") ?? 100, cursor })}`,
        );
        events.push(...page.body.items);
        cursor = ctx.values.all ? (page.body.next_cursor ?? undefined) : undefined;
      } while (cursor);
      const columns = [
        { header: "ID", value: (e: AuditEvent) => e.id },
        { header: "OCCURRED", value: (e: AuditEvent) => e.occurred_at },
        { header: "TENANT", value: (e: AuditEvent) => e.tenant },
        { header: "ACTION", value: (e: AuditEvent) => e.action },
        { header: "ACTOR", value: (e: AuditEvent) => e.actor },
        { header: "AGENT", value: (e: AuditEvent) => e.agent_spiffe_id },
        { header: "DECISION", value: (e: AuditEvent) => e.decision },
        { header: "REASON", value: (e: AuditEvent) => e.reason },
      ];
      ctx.io.stdout(ctx.json ? JSON.stringify(events, null, 2) : renderTable(columns, events));
    },
  },
  export: {
    usage: `${FILTER_USAGE}   (NDJSON on stdout)`,
    options: FILTER_FLAGS,
    async run(ctx) {
      const stream = await ctx.client().stream(`/v1/audit/export${queryString(filters(ctx.values))}`);
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
    options: { tenant: { type: "string" }, direct: { type: "boolean" }, "database-url": { type: "string" } },
    async run(ctx) {
      const tenant = text(ctx.values, "tenant");
      let url = text(ctx.values, "database-url");
      if (ctx.values.direct) {
        url = ctx.io.env.DATABASE_URL;
        if (!url) throw usageError("--direct needs DATABASE_URL");
      }
      const result = url
        ? await verifyDirect(ctx, url, tenant)
        : (
            await ctx.client().request<VerifyResult>("POST", "/v1/audit/verify", {
              body: tenant === undefined ? {} : { tenant },
            })
          ).body;
      ctx.io.stdout(ctx.json ? JSON.stringify(result, null, 2) : describeVerification(result));
      return result.ok ? 0 : 1;
    },
  },
};
