import type { Queryable } from "../../../lib/src/db/types.js";
import type { RevisionInForce } from "../portal/pages/admin/policy.js";

/** How many of the latest authorization decisions the revision count looks at. */
export const REVISION_WINDOW = 500;

/**
 * The policy revisions of the latest authorization decisions (authz-server audits each with
 * `details.policy_revision`): what the data plane decides with now, wherever the bundle came from.
 * Reads the newest rows through audit_events_action (migration 025), never the whole log.
 */
export async function revisionInForce(db: Queryable, window = REVISION_WINDOW): Promise<RevisionInForce> {
  const { rows } = await db.query<{ revision: string | null; decisions: number; last_seen: Date }>(
    `SELECT details->>'policy_revision' AS revision, count(*)::int AS decisions, max(occurred_at) AS last_seen
       FROM (SELECT details, occurred_at FROM audit_events
              WHERE action = 'authz.decision' ORDER BY id DESC LIMIT $1) latest
      GROUP BY 1 ORDER BY max(occurred_at) DESC`,
    [window],
  );
  const recent = rows.map((row) => ({
    revision: row.revision,
    decisions: row.decisions,
    last_seen: new Date(row.last_seen).toISOString(),
  }));
  return { latest: recent[0] ?? null, recent, window };
}
