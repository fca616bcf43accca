import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { AUDIT_SELECT, recordFromRow } from "../../../lib/src/audit/store.js";
import type { Queryable } from "../../../lib/src/db/types.js";

export interface AuditFilter {
  tenant?: string | undefined;
  agent_id?: string | undefined;
  agent_spiffe_id?: string | undefined;
  user_id?: string | undefined;
  decision?: "allow" | "deny" | undefined;
  action?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** Audit events matching the filter, in the order they were stored, after the event with id `afterId`. */
export async function queryAuditEvents(
  db: Queryable,
  filter: AuditFilter,
  afterId: number,
  limit: number,
): Promise<AuditRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (column: string, operator: string, value: unknown, cast = "") => {
    params.push(value);
    where.push(`${column} ${operator} $${params.length}${cast}`);
  };
  if (filter.tenant !== undefined) add("tenant", "=", filter.tenant);
  if (filter.agent_id !== undefined) add("agent_id", "=", filter.agent_id, "::uuid");
  if (filter.agent_spiffe_id !== undefined) add("agent_spiffe_id", "=", filter.agent_spiffe_id);
  if (filter.user_id !== undefined) add("user_id", "=", filter.user_id);
  if (filter.decision !== undefined) add("decision", "=", filter.decision);
  if (filter.action !== undefined) add("action", "=", filter.action);
  if (filter.from !== undefined) add("occurred_at", ">=", filter.from, "::timestamptz");
  if (filter.to !== undefined) add("occurred_at", "<", filter.to, "::timestamptz");
  add("id", ">", afterId);
  params.push(limit);
  const { rows } = await db.query(
    `${AUDIT_SELECT} WHERE ${where.join(" AND ")} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return rows.map(recordFromRow);
}
