import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import { Conditions } from "../sql/conditions.js";
import { findRowById, insertRow, updateRow, type Table } from "../sql/table.js";
import type { Attestation, AttestationStatus } from "./model.js";

const ATTESTATIONS: Table = {
  name: "kya_attestations",
  columns:
    "id, agent_id, tenant, status, evidence, declared_capabilities, submitted_by, submitted_at, level, verified_capabilities, reviewed_by, reviewed_at, review_notes, rejection_reason, issued_at, expires_at, jws, signing_key_id, revoked_by, revoked_at, revocation_reason, version, updated_at",
  jsonb: new Set(["evidence", "declared_capabilities", "verified_capabilities"]),
};

export async function insertAttestation(
  tx: Queryable,
  {
    now,
    ...input
  }: Pick<Attestation, "agent_id" | "tenant" | "evidence" | "declared_capabilities" | "submitted_by"> & {
    now: Date;
  },
): Promise<Attestation> {
  return insertRow(tx, ATTESTATIONS, { ...input, submitted_at: now, updated_at: now });
}

export async function findAttestation(
  db: Queryable,
  id: string,
  forUpdate = false,
): Promise<Attestation | undefined> {
  return findRowById(db, ATTESTATIONS, id, forUpdate);
}

export type AttestationChanges = Partial<
  Omit<Attestation, "id" | "agent_id" | "tenant" | "version" | "updated_at" | "submitted_at" | "submitted_by">
>;

export async function updateAttestation(
  tx: Queryable,
  id: string,
  changes: AttestationChanges,
  now: Date,
): Promise<Attestation> {
  return updateRow(tx, ATTESTATIONS, id, changes, now);
}

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
  const where = new Conditions();
  if (filter.tenant !== undefined) where.add("tenant = ?", filter.tenant);
  if (filter.agent_id !== undefined) where.add("agent_id = ?", filter.agent_id);
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
