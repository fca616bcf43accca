import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import type { Attestation, AttestationStatus, Evidence } from "./model.js";

const COLUMNS =
  "id, agent_id, tenant, status, evidence, declared_capabilities, submitted_by, submitted_at, level, verified_capabilities, reviewed_by, reviewed_at, review_notes, rejection_reason, issued_at, expires_at, jws, signing_key_id, revoked_by, revoked_at, revocation_reason, version, updated_at";

export async function insertAttestation(
  tx: Queryable,
  input: {
    agent_id: string;
    tenant: string;
    evidence: Evidence;
    declared_capabilities: string[];
    submitted_by: string;
    now: Date;
  },
): Promise<Attestation> {
  const { rows } = await tx.query<Attestation>(
    `INSERT INTO kya_attestations (agent_id, tenant, evidence, declared_capabilities, submitted_by, submitted_at, updated_at)
     VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $6) RETURNING ${COLUMNS}`,
    [
      input.agent_id,
      input.tenant,
      JSON.stringify(input.evidence),
      JSON.stringify(input.declared_capabilities),
      input.submitted_by,
      input.now,
    ],
  );
  return rows[0]!;
}

export async function findAttestation(
  db: Queryable,
  id: string,
  forUpdate = false,
): Promise<Attestation | undefined> {
  const { rows } = await db.query<Attestation>(
    `SELECT ${COLUMNS} FROM kya_attestations WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0];
}

type Changes = Partial<
  Omit<Attestation, "id" | "agent_id" | "tenant" | "version" | "updated_at" | "submitted_at" | "submitted_by">
>;
const JSONB = new Set(["evidence", "declared_capabilities", "verified_capabilities"]);

export async function updateAttestation(
  tx: Queryable,
  id: string,
  changes: Changes,
  now: Date,
): Promise<Attestation> {
  const params: unknown[] = [id, now];
  const sets: string[] = [];
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    params.push(JSONB.has(field) && value !== null ? JSON.stringify(value) : value);
    sets.push(`${field} = $${params.length}${JSONB.has(field) ? "::jsonb" : ""}`);
  }
  const { rows } = await tx.query<Attestation>(
    `UPDATE kya_attestations SET ${[...sets, "version = version + 1", "updated_at = $2"].join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`,
    params,
  );
  return rows[0]!;
}

/** The agent's current approval, locked; it is superseded when a new one is approved. */
export async function findApprovedForAgent(tx: Queryable, agentId: string): Promise<Attestation | undefined> {
  const { rows } = await tx.query<Attestation>(
    `SELECT ${COLUMNS} FROM kya_attestations WHERE agent_id = $1 AND status = 'approved' FOR UPDATE`,
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
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    let text = sql;
    for (const value of values) {
      params.push(value);
      text = text.replace("?", `$${params.length}`);
    }
    where.push(text);
  };
  if (filter.tenant !== undefined) add("tenant = ?", filter.tenant);
  if (filter.agent_id !== undefined) add("agent_id = ?", filter.agent_id);
  if (filter.status === "expired") add("status = 'approved' AND expires_at <= ?", now);
  else if (filter.status === "approved") add("status = 'approved' AND expires_at > ?", now);
  else if (filter.status !== undefined) add("status = ?", filter.status);
  if (after) add("(submitted_at, id) > (?::timestamptz, ?::uuid)", after.t, after.i);
  params.push(limit);
  const { rows } = await db.query<Attestation>(
    `SELECT ${COLUMNS} FROM kya_attestations ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY submitted_at, id LIMIT $${params.length}`,
    params,
  );
  return rows;
}
