import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import { Conditions } from "../sql/conditions.js";
import { RowTable } from "../sql/table.js";
import type { Attestation, AttestationStatus } from "./model.js";

const ATTESTATIONS = new RowTable<Attestation>(
  "kya_attestations",
  "id, agent_id, tenant, status, evidence, declared_capabilities, submitted_by, submitted_at, level, verified_capabilities, reviewed_by, reviewed_at, review_notes, rejection_reason, issued_at, expires_at, jws, signing_key_id, revoked_by, revoked_at, revocation_reason, version, updated_at",
  new Set(["evidence", "declared_capabilities", "verified_capabilities"]),
);

export type NewAttestation = Pick<
  Attestation,
  "agent_id" | "tenant" | "evidence" | "declared_capabilities" | "submitted_by"
>;
export type AttestationChanges = Partial<
  Omit<Attestation, "id" | "agent_id" | "tenant" | "version" | "updated_at" | "submitted_at" | "submitted_by">
>;

export const insertAttestation = (tx: Queryable, { now, ...attestation }: NewAttestation & { now: Date }) =>
  ATTESTATIONS.insert(tx, { ...attestation, submitted_at: now, updated_at: now });
export const findAttestation = (db: Queryable, id: string, forUpdate = false) =>
  ATTESTATIONS.find(db, id, forUpdate);
export const updateAttestation = (tx: Queryable, id: string, changes: AttestationChanges, now: Date) =>
  ATTESTATIONS.update(tx, id, changes, now);

/** The agent's current approval, locked; it is superseded when a new one is approved. */
export async function findApprovedForAgent(tx: Queryable, agentId: string): Promise<Attestation | undefined> {
  const { rows } = await tx.query<Attestation>(
    `SELECT ${ATTESTATIONS.columns} FROM kya_attestations WHERE agent_id = $1 AND status = 'approved' FOR UPDATE`,
    [agentId],
  );
  return rows[0];
}

export interface AttestationFilter {
  tenant?: string | undefined;
  agent_id?: string | undefined;
  status?: AttestationStatus | undefined;
}

export async function listAttestations(
  db: Queryable,
  filter: AttestationFilter,
  after: TimeAndIdKey | undefined,
  limit: number,
  now: Date,
): Promise<Attestation[]> {
  const where = new Conditions().equal(filter, ["tenant", "agent_id"]);
  if (filter.status === "expired") where.add("status = 'approved' AND expires_at <= ?", now);
  else if (filter.status === "approved") where.add("status = 'approved' AND expires_at > ?", now);
  else if (filter.status !== undefined) where.add("status = ?", filter.status);
  if (after) where.add("(submitted_at, id) > (?::timestamptz, ?::uuid)", after.t, after.i);
  const { rows } = await db.query<Attestation>(
    `SELECT ${ATTESTATIONS.columns} FROM kya_attestations ${where.where()} ORDER BY submitted_at, id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows;
}
