import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import type { RegistrationStatus, RegistryEntry, RegistryKind, RegistryUpdateBody } from "./model.js";

const COLUMNS =
  "id, kind, name, spiffe_id, tenant, owner, team, type, environment, capabilities, external_services, status, metadata, version, created_by, created_at, updated_at";

export interface NewEntry {
  kind: RegistryKind;
  name: string;
  spiffe_id: string;
  tenant: string;
  owner: string;
  team: string;
  type: string;
  environment: string;
  capabilities: string[];
  external_services: string[];
  metadata: Record<string, unknown>;
  created_by: string;
  created_at: Date;
}

export async function insertEntry(tx: Queryable, entry: NewEntry): Promise<RegistryEntry> {
  const { rows } = await tx.query<RegistryEntry>(
    `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, capabilities, external_services, metadata, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, $13)
     RETURNING ${COLUMNS}`,
    [
      entry.kind,
      entry.name,
      entry.spiffe_id,
      entry.tenant,
      entry.owner,
      entry.team,
      entry.type,
      entry.environment,
      JSON.stringify(entry.capabilities),
      JSON.stringify(entry.external_services),
      JSON.stringify(entry.metadata),
      entry.created_by,
      entry.created_at,
    ],
  );
  return rows[0]!;
}

export async function findEntry(
  db: Queryable,
  id: string,
  options: { kind?: RegistryKind; forUpdate?: boolean } = {},
): Promise<RegistryEntry | undefined> {
  const params: unknown[] = [id];
  let sql = `SELECT ${COLUMNS} FROM agents WHERE id = $1`;
  if (options.kind) {
    params.push(options.kind);
    sql += " AND kind = $2";
  }
  if (options.forUpdate) sql += " FOR UPDATE";
  const { rows } = await db.query<RegistryEntry>(sql, params);
  return rows[0];
}

const JSONB_FIELDS = new Set(["capabilities", "external_services", "metadata"]);

export async function updateEntry(
  tx: Queryable,
  id: string,
  changes: RegistryUpdateBody | { status: RegistrationStatus },
  updatedAt: Date,
): Promise<RegistryEntry> {
  const sets: string[] = [];
  const params: unknown[] = [id, updatedAt];
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    params.push(JSONB_FIELDS.has(field) ? JSON.stringify(value) : value);
    sets.push(`${field} = $${params.length}${JSONB_FIELDS.has(field) ? "::jsonb" : ""}`);
  }
  const { rows } = await tx.query<RegistryEntry>(
    `UPDATE agents SET ${[...sets, "version = version + 1", "updated_at = $2"].join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`,
    params,
  );
  return rows[0]!;
}

export interface RegistryFilter {
  kind: RegistryKind;
  tenant?: string | undefined;
  status?: RegistrationStatus | undefined;
  team?: string | undefined;
  owner?: string | undefined;
  type?: string | undefined;
  environment?: string | undefined;
  capability?: string | undefined;
  external_service?: string | undefined;
}

export async function listEntries(
  db: Queryable,
  filter: RegistryFilter,
  after: TimeAndIdKey | undefined,
  limit: number,
): Promise<RegistryEntry[]> {
  const where: string[] = ["kind = $1"];
  const params: unknown[] = [filter.kind];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (filter.tenant !== undefined) add("tenant = ?", filter.tenant);
  if (filter.status !== undefined) add("status = ?", filter.status);
  else where.push("status <> 'archived'");
  if (filter.team !== undefined) add("team = ?", filter.team);
  if (filter.owner !== undefined) add("owner = ?", filter.owner);
  if (filter.type !== undefined) add("type = ?", filter.type);
  if (filter.environment !== undefined) add("environment = ?", filter.environment);
  if (filter.capability !== undefined) add("capabilities @> ?::jsonb", JSON.stringify([filter.capability]));
  if (filter.external_service !== undefined)
    add("external_services @> ?::jsonb", JSON.stringify([filter.external_service]));
  if (after) {
    params.push(after.t, after.i);
    where.push(`(created_at, id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(limit);
  const { rows } = await db.query<RegistryEntry>(
    `SELECT ${COLUMNS} FROM agents WHERE ${where.join(" AND ")} ORDER BY created_at, id LIMIT $${params.length}`,
    params,
  );
  return rows;
}
