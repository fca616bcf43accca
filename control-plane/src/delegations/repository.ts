import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import { Conditions } from "../sql/conditions.js";
import { RowTable } from "../sql/table.js";
import type { Delegation, DelegationStatus, RevocationVia } from "./model.js";

const DELEGATIONS = new RowTable<Delegation>(
  "delegations",
  "id, tenant, user_id, agent_id, agent_spiffe_id, scopes, destinations, issued_at, expires_at, signing_key_id, granted_by, revoked_at, revoked_by, revoked_via, revocation_reason, version",
  new Set(["scopes", "destinations"]),
);

export type NewDelegation = Omit<
  Delegation,
  "revoked_at" | "revoked_by" | "revoked_via" | "revocation_reason" | "version"
>;
export const insertDelegation = (tx: Queryable, delegation: NewDelegation) =>
  DELEGATIONS.insert(tx, delegation);
export const findDelegation = (db: Queryable, id: string, forUpdate = false) =>
  DELEGATIONS.find(db, id, forUpdate);

/** The verified capabilities of the agent's approved, unexpired attestation; null when it has none. */
export async function verifiedCapabilities(
  db: Queryable,
  agentId: string,
  now: Date,
): Promise<string[] | null> {
  const { rows } = await db.query<{ verified_capabilities: string[] | null }>(
    `SELECT verified_capabilities FROM kya_attestations
      WHERE agent_id = $1 AND status = 'approved' AND expires_at > $2`,
    [agentId, now],
  );
  return rows[0]?.verified_capabilities ?? null;
}

export interface DelegationFilter {
  tenant?: string | undefined;
  user_id?: string | undefined;
  agent_id?: string | undefined;
  status?: DelegationStatus | undefined;
}

function conditionsOf(filter: DelegationFilter, now: Date, alias = ""): Conditions {
  const where = new Conditions();
  if (filter.tenant !== undefined) where.add(`${alias}tenant = ?`, filter.tenant);
  if (filter.user_id !== undefined) where.add(`${alias}user_id = ?`, filter.user_id);
  if (filter.agent_id !== undefined) where.add(`${alias}agent_id = ?::uuid`, filter.agent_id);
  if (filter.status === "revoked") where.add(`${alias}revoked_at IS NOT NULL`);
  else if (filter.status === "active")
    where.add(`${alias}revoked_at IS NULL AND ${alias}expires_at > ?`, now);
  else if (filter.status === "expired")
    where.add(`${alias}revoked_at IS NULL AND ${alias}expires_at <= ?`, now);
  return where;
}

export async function listDelegations(
  db: Queryable,
  filter: DelegationFilter,
  after: TimeAndIdKey | undefined,
  limit: number,
  now: Date,
): Promise<Delegation[]> {
  const where = conditionsOf(filter, now);
  if (after) where.add("(issued_at, id) > (?::timestamptz, ?::uuid)", after.t, after.i);
  const { rows } = await db.query<Delegation>(
    `SELECT ${DELEGATIONS.columns} FROM delegations ${where.where()} ORDER BY issued_at, id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows;
}

export interface DelegationWithActivity extends Delegation {
  agent_name: string;
  agent_kind: string;
  events: number;
  allowed: number;
  denied: number;
  last_event_at: Date | null;
}

/**
 * A user's delegations with the agent's name and what was done under each: the audit events that
 * name the delegation (data-plane decisions, token exchanges, the grant and its revocation).
 */
export async function listWithActivity(
  db: Queryable,
  filter: DelegationFilter & { user_id: string },
  after: TimeAndIdKey | undefined,
  limit: number,
  now: Date,
): Promise<DelegationWithActivity[]> {
  const where = conditionsOf(filter, now, "d.");
  if (after) where.add("(d.issued_at, d.id) > (?::timestamptz, ?::uuid)", after.t, after.i);
  const { rows } = await db.query<DelegationWithActivity>(
    `SELECT ${DELEGATIONS.columns
      .split(", ")
      .map((c) => `d.${c}`)
      .join(", ")},
            a.name AS agent_name, a.kind AS agent_kind,
            coalesce(e.events, 0)::int AS events, coalesce(e.allowed, 0)::int AS allowed,
            coalesce(e.denied, 0)::int AS denied, e.last_event_at
       FROM delegations d
       JOIN agents a ON a.id = d.agent_id
       LEFT JOIN LATERAL (
         SELECT count(*) AS events,
                count(*) FILTER (WHERE decision = 'allow') AS allowed,
                count(*) FILTER (WHERE decision = 'deny') AS denied,
                max(occurred_at) AS last_event_at
           FROM audit_events
          WHERE user_id = d.user_id AND delegation_id = d.id::text
       ) e ON true
      ${where.where()}
      ORDER BY d.issued_at, d.id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows;
}

export type RevocationSelector =
  | { via: "delegation"; id: string }
  | { via: "user"; user_id: string; tenant?: string | undefined }
  | { via: "agent"; agent_id: string }
  | { via: "tenant"; tenant: string };

export interface RevokedRow {
  id: string;
  tenant: string;
  user_id: string;
  agent_id: string;
  agent_spiffe_id: string;
  expires_at: Date;
}

/** Revokes every live delegation the selector names, in one statement; returns what it revoked. */
export async function revokeDelegations(
  tx: Queryable,
  selector: RevocationSelector,
  by: { subject: string; reason: string | null },
  now: Date,
): Promise<RevokedRow[]> {
  const where = new Conditions(
    [now, by.subject, selector.via, by.reason],
    ["revoked_at IS NULL", "expires_at > $1"],
  );
  switch (selector.via) {
    case "delegation":
      where.add("id = ?::uuid", selector.id);
      break;
    case "user":
      where.add("user_id = ?", selector.user_id);
      if (selector.tenant !== undefined) where.add("tenant = ?", selector.tenant);
      break;
    case "agent":
      where.add("agent_id = ?::uuid", selector.agent_id);
      break;
    case "tenant":
      where.add("tenant = ?", selector.tenant);
      break;
  }
  const { rows } = await tx.query<RevokedRow>(
    `UPDATE delegations
        SET revoked_at = $1, revoked_by = $2, revoked_via = $3, revocation_reason = $4, version = version + 1
      ${where.where()}
      RETURNING id, tenant, user_id, agent_id, agent_spiffe_id, expires_at`,
    where.params,
  );
  return rows;
}

export type { RevocationVia };
