import type { Queryable } from "../../../lib/src/db/types.js";
import { RowTable } from "../sql/table.js";

/** Rows of `tenants` (migration 022). */
export interface TenantRow {
  id: string;
  display_name: string;
  status: "active" | "suspended";
  signing_key: string;
  sealing_key: string;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  suspended_at: Date | null;
  suspended_by: string | null;
  suspension_reason: string | null;
  version: number;
}

const TENANTS = new RowTable<TenantRow>(
  "tenants",
  "id, display_name, status, signing_key, sealing_key, created_by, created_at, updated_at, suspended_at, suspended_by, suspension_reason, version",
);

export type NewTenant = Pick<
  TenantRow,
  "id" | "display_name" | "signing_key" | "sealing_key" | "created_by" | "created_at"
>;

export function insertTenant(tx: Queryable, tenant: NewTenant): Promise<TenantRow> {
  return TENANTS.insert(tx, { ...tenant, updated_at: tenant.created_at });
}

export function findTenant(db: Queryable, id: string, forUpdate = false): Promise<TenantRow | undefined> {
  return TENANTS.find(db, id, forUpdate);
}

export async function listTenants(db: Queryable, only: string | undefined): Promise<TenantRow[]> {
  const { rows } = await db.query<TenantRow>(
    `SELECT ${TENANTS.columns} FROM tenants ${only === undefined ? "" : "WHERE id = $1"} ORDER BY created_at, id`,
    only === undefined ? [] : [only],
  );
  return rows;
}

export type TenantStatusChange =
  | { status: "suspended"; suspended_at: Date; suspended_by: string; suspension_reason: string }
  | { status: "active"; suspended_at: null; suspended_by: null; suspension_reason: null };

export function setTenantStatus(
  tx: Queryable,
  id: string,
  change: TenantStatusChange,
  now: Date,
): Promise<TenantRow> {
  return TENANTS.update(tx, id, change, now);
}
