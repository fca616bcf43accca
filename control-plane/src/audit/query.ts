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

/** Filter fields that match their column exactly. */
const EXACT_FILTERS = ["tenant", "agent_spiffe_id", "user_id", "decision", "action"] as const;

/** Audit events matching the filter, in the order they were stored, after the event with id `afterId`. */
export async function queryAuditEvents(
  db: Queryable,
  filter: AuditFilter,
  afterId: number,
  limit: number,
): Promise<AuditRecord[]> {
  const where = new Conditions().equal(filter, EXACT_FILTERS);
  if (filter.agent_id !== undefined) where.add("agent_id = ?::uuid", filter.agent_id);
  where.within("occurred_at", filter.from, filter.to);
  where.add("id > ?", afterId);
  const { rows } = await db.query(
    `${AUDIT_SELECT} ${where.where()} ORDER BY id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows.map(recordFromRow);
}

/**
 * One tenant's events after chain position `afterSeq`, in chain order: gap-free and committed in
 * order per tenant (appends hold the tenant's chain head lock), so a reader that resumes from the
 * last position it saw never misses a row that committed late, unlike with the global id.
 */
export async function auditAfterSeq(
  db: Queryable,
  tenant: string,
  afterSeq: number,
  limit: number,
  filter: Omit<AuditFilter, "tenant"> = {},
): Promise<AuditRecord[]> {
  const where = new Conditions().equal(filter, ["agent_spiffe_id", "user_id", "decision", "action"]);
  if (filter.agent_id !== undefined) where.add("agent_id = ?::uuid", filter.agent_id);
  where.within("occurred_at", filter.from, filter.to);
  where.add("tenant = ?", tenant);
  where.add("chain_seq > ?", afterSeq);
  const { rows } = await db.query(
    `${AUDIT_SELECT} ${where.where()} ORDER BY chain_seq LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows.map(recordFromRow);
}
