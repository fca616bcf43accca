import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import { Conditions } from "../sql/conditions.js";
import type { ApprovalRow, ApprovalState } from "./model.js";

const COLUMNS =
  "id, tenant, agent_spiffe_id, agent_id, delegation_id, user_id, server, method, name, arguments_digest, state, requested_decision_id, requested_at, expires_at, decided_by, decided_at, decision_note, used_at, used_decision_id, version";

const REQUESTED_MS = "date_trunc('milliseconds', requested_at)";

export async function findApproval(
  db: Queryable,
  id: string,
  forUpdate = false,
): Promise<ApprovalRow | undefined> {
  const { rows } = await db.query<ApprovalRow>(
    `SELECT ${COLUMNS} FROM mcp_approvals WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0];
}

export interface ApprovalFilter {
  tenant?: string | undefined;
  user_id?: string | undefined;
  agent_id?: string | undefined;
  agent_spiffe_id?: string | undefined;
  server?: string | undefined;
  state?: ApprovalState | undefined;
}

/** Oldest first, keyset-paged on (requested_at to the millisecond, id); `state` as effectiveState() reports it. */
export async function listApprovals(
  db: Queryable,
  filter: ApprovalFilter,
  after: TimeAndIdKey | undefined,
  limit: number,
  now: Date,
): Promise<ApprovalRow[]> {
  const where = new Conditions();
  if (filter.tenant !== undefined) where.add("tenant = ?", filter.tenant);
  if (filter.user_id !== undefined) where.add("user_id = ?", filter.user_id);
  if (filter.agent_id !== undefined) where.add("agent_id = ?::uuid", filter.agent_id);
  if (filter.agent_spiffe_id !== undefined) where.add("agent_spiffe_id = ?", filter.agent_spiffe_id);
  if (filter.server !== undefined) where.add("server = ?", filter.server);
  switch (filter.state) {
    case "pending":
    case "approved":
      where.add("state = ? AND expires_at > ?", filter.state, now);
      break;
    case "expired":
      where.add("(state = 'expired' OR (state IN ('pending', 'approved') AND expires_at <= ?))", now);
      break;
    case "rejected":
    case "used":
      where.add("state = ?", filter.state);
      break;
  }
  // Sorted by the millisecond the cursor can carry (the data plane stamps microseconds with now()).
  if (after) where.add(`(${REQUESTED_MS}, id) > (?::timestamptz, ?::uuid)`, after.t, after.i);
  const { rows } = await db.query<ApprovalRow>(
    `SELECT ${COLUMNS} FROM mcp_approvals ${where.where()} ORDER BY ${REQUESTED_MS}, id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows;
}

export interface Decision {
  state: "approved" | "rejected";
  by: string;
  note: string | null;
  at: Date;
  /** approved: the window in which the agent's identical retry may use it. */
  expiresAt?: Date;
}

/** Decides an open, unexpired request; undefined when it no longer is one (the caller reports 409). */
export async function decideApproval(
  tx: Queryable,
  id: string,
  d: Decision,
): Promise<ApprovalRow | undefined> {
  const { rows } = await tx.query<ApprovalRow>(
    `UPDATE mcp_approvals
        SET state = $2, decided_by = $3, decision_note = $4, decided_at = $5,
            expires_at = coalesce($6, expires_at), version = version + 1
      WHERE id = $1 AND state = 'pending' AND expires_at > $5
      RETURNING ${COLUMNS}`,
    [id, d.state, d.by, d.note, d.at, d.expiresAt ?? null],
  );
  return rows[0];
}

/** Writes down a lapse the data plane has not yet; true when this call made the change. */
export async function expireApproval(tx: Queryable, id: string, now: Date): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE mcp_approvals SET state = 'expired', version = version + 1
      WHERE id = $1 AND state IN ('pending', 'approved') AND expires_at <= $2`,
    [id, now],
  );
  return rowCount > 0;
}
