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

/** One tenant's events after chain position `afterSeq`, in chain order (gap-free, commit-ordered per tenant). */
export async function auditAfterSeq(
  db: Queryable,
  tenant: string,
  afterSeq: number,
  limit: number,
): Promise<AuditRecord[]> {
  const { rows } = await db.query(
    `${AUDIT_SELECT} WHERE tenant = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3`,
    [tenant, afterSeq, limit],
  );
  return rows.map(recordFromRow);
}
