import type { Queryable } from "../../../lib/src/db/types.js";
import type { AppContext } from "../context.js";
import type { Handlers } from "../http/routes.js";

export interface RevisionSeen {
  revision: string | null;
  decisions: number;
  last_seen: string;
}

export interface RevisionInForce {
  /** The revision of the latest decision, or null when none was audited yet. */
  latest: RevisionSeen | null;
  /** Revisions among the latest decisions, newest first (more than one while a rollout is under way). */
  recent: RevisionSeen[];
  /** How many of the latest decisions `recent` counts. */
  window: number;
}

/**
 * The policy revisions of the latest authorization decisions (authz-server audits each with
 * `details.policy_revision`): what the data plane decides with now, wherever the bundle came from.
 * Reads only the newest rows, through audit_events_action (migration 025), never the whole log.
 */
export async function revisionInForce(db: Queryable, window: number): Promise<RevisionInForce> {
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

export function policyRevisionHandlers(ctx: AppContext): Handlers {
  return {
    getPolicyRevision: async (request) =>
      revisionInForce(ctx.db, (request.query as { window: number }).window),
  };
}
