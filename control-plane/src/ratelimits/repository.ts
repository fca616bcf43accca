import type { Queryable } from "../../../lib/src/db/types.js";
import type {
  FailureMode,
  RateLimitDefinition,
  RateLimitScope,
  RateLimitUnit,
} from "../../../lib/src/ratelimit/definitions.js";

/** Rows of `rate_limits` (migration 021). Every query names the tenant it reads or writes. */
export interface RateLimitRow {
  id: string;
  tenant_id: string;
  scope: RateLimitScope;
  subject: string;
  unit: RateLimitUnit;
  per_minute: number;
  failure_mode: FailureMode;
  description: string | null;
  created_by: string;
  created_at: Date;
}

const COLUMNS =
  "id, tenant_id, scope, subject, unit, per_minute, failure_mode, description, created_by, created_at";

export function definitionOf(row: RateLimitRow): RateLimitDefinition {
  return {
    tenant: row.tenant_id,
    scope: row.scope,
    subject: row.subject,
    unit: row.unit,
    perMinute: row.per_minute,
    failureMode: row.failure_mode,
  };
}

export async function insertRateLimit(
  tx: Queryable,
  limit: RateLimitDefinition & { description: string | null; createdBy: string; now: Date },
): Promise<RateLimitRow> {
  const { rows } = await tx.query<RateLimitRow>(
    `INSERT INTO rate_limits (tenant_id, scope, subject, unit, per_minute, failure_mode, description, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [
      limit.tenant,
      limit.scope,
      limit.subject,
      limit.unit,
      limit.perMinute,
      limit.failureMode,
      limit.description,
      limit.createdBy,
      limit.now,
    ],
  );
  return rows[0]!;
}

/** `tenant` null: every tenant's (an operator not bound to one). */
export async function listRateLimits(db: Queryable, tenant: string | null): Promise<RateLimitRow[]> {
  const { rows } = await db.query<RateLimitRow>(
    `SELECT ${COLUMNS} FROM rate_limits WHERE ($1::text IS NULL OR tenant_id = $1)
      ORDER BY tenant_id, scope, subject, unit`,
    [tenant],
  );
  return rows;
}

export async function deleteRateLimit(
  tx: Queryable,
  id: string,
  tenant: string | null,
): Promise<RateLimitRow | null> {
  const { rows } = await tx.query<RateLimitRow>(
    `DELETE FROM rate_limits WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2) RETURNING ${COLUMNS}`,
    [id, tenant],
  );
  return rows[0] ?? null;
}
