import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { AUDIT_SELECT, recordFromRow } from "../../../lib/src/audit/store.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import { Conditions } from "../sql/conditions.js";

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
  const where = new Conditions();
  if (filter.tenant !== undefined) where.add("tenant = ?", filter.tenant);
  if (filter.agent_id !== undefined) where.add("agent_id = ?::uuid", filter.agent_id);
  if (filter.agent_spiffe_id !== undefined) where.add("agent_spiffe_id = ?", filter.agent_spiffe_id);
  if (filter.user_id !== undefined) where.add("user_id = ?", filter.user_id);
  if (filter.decision !== undefined) where.add("decision = ?", filter.decision);
  if (filter.action !== undefined) where.add("action = ?", filter.action);
  if (filter.from !== undefined) where.add("occurred_at >= ?::timestamptz", filter.from);
  if (filter.to !== undefined) where.add("occurred_at < ?::timestamptz", filter.to);
  where.add("id > ?", afterId);
  const { rows } = await db.query(
    `${AUDIT_SELECT} ${where.where()} ORDER BY id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows.map(recordFromRow);
}
