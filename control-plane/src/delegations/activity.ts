import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import { AUDIT_SELECT, recordFromRow } from "../../../lib/src/audit/store.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import type { Delegation } from "./model.js";

export { DELEGATION_HEADER } from "../../../lib/src/handoff/contract.js";

/**
 * What was done under a delegation: the audit events naming it (its grant and revocation, token
 * exchanges, and the data plane's decisions on requests that presented it), oldest first. Read
 * through the per-user index: every such event carries the delegating user.
 */
export async function delegationEvents(
  db: Queryable,
  delegation: Pick<Delegation, "id" | "user_id">,
  afterId: number,
  limit: number,
): Promise<AuditRecord[]> {
  const { rows } = await db.query(
    `${AUDIT_SELECT} WHERE user_id = $1 AND delegation_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
    [delegation.user_id, delegation.id, afterId, limit],
  );
  return rows.map(recordFromRow);
}
