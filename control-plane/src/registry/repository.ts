import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import { Conditions } from "../sql/conditions.js";
import { insertRow, updateRow, type Table } from "../sql/table.js";
import type { RegistrationStatus, RegistryEntry, RegistryKind, RegistryUpdateBody } from "./model.js";

const AGENTS: Table = {
  name: "agents",
  columns:
    "id, kind, name, spiffe_id, tenant, owner, team, type, environment, capabilities, external_services, status, metadata, version, created_by, created_at, updated_at",
  jsonb: new Set(["capabilities", "external_services", "metadata"]),
};

export type NewEntry = Omit<RegistryEntry, "id" | "status" | "version" | "updated_at">;

export async function insertEntry(tx: Queryable, entry: NewEntry): Promise<RegistryEntry> {
  return insertRow(tx, AGENTS, { ...entry, updated_at: entry.created_at });
}

export async function findEntry(
  db: Queryable,
  id: string,
  options: { kind?: RegistryKind; forUpdate?: boolean } = {},
): Promise<RegistryEntry | undefined> {
  const where = new Conditions().add("id = ?", id);
  if (options.kind) where.add("kind = ?", options.kind);
  const { rows } = await db.query<RegistryEntry>(
    `SELECT ${AGENTS.columns} FROM agents ${where.where()}${options.forUpdate ? " FOR UPDATE" : ""}`,
    where.params,
  );
  return rows[0];
}

export async function updateEntry(
  tx: Queryable,
  id: string,
  changes: RegistryUpdateBody | { status: RegistrationStatus },
  updatedAt: Date,
): Promise<RegistryEntry> {
  return updateRow(tx, AGENTS, id, changes, updatedAt);
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
  const where = new Conditions().add("kind = ?", filter.kind);
  if (filter.tenant !== undefined) where.add("tenant = ?", filter.tenant);
  if (filter.status !== undefined) where.add("status = ?", filter.status);
  else where.add("status <> 'archived'");
  if (filter.team !== undefined) where.add("team = ?", filter.team);
  if (filter.owner !== undefined) where.add("owner = ?", filter.owner);
  if (filter.type !== undefined) where.add("type = ?", filter.type);
  if (filter.environment !== undefined) where.add("environment = ?", filter.environment);
  if (filter.capability !== undefined)
    where.add("capabilities @> ?::jsonb", JSON.stringify([filter.capability]));
  if (filter.external_service !== undefined)
    where.add("external_services @> ?::jsonb", JSON.stringify([filter.external_service]));
  if (after) where.add("(created_at, id) > (?::timestamptz, ?::uuid)", after.t, after.i);
  const { rows } = await db.query<RegistryEntry>(
    `SELECT ${AGENTS.columns} FROM agents ${where.where()} ORDER BY created_at, id LIMIT ${where.bind(limit)}`,
    where.params,
  );
  return rows;
}
