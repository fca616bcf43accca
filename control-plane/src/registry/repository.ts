import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";
import { Conditions } from "../sql/conditions.js";
import { RowTable } from "../sql/table.js";
import type { RegistrationStatus, RegistryEntry, RegistryKind, RegistryUpdateBody } from "./model.js";

const AGENTS = new RowTable<RegistryEntry>(
  "agents",
  "id, kind, name, spiffe_id, tenant, owner, team, type, environment, capabilities, external_services, status, metadata, resource_uri, tool_rules, version, created_by, created_at, updated_at",
  new Set(["capabilities", "external_services", "metadata", "tool_rules"]),
);

export type NewEntry = Omit<RegistryEntry, "id" | "status" | "version" | "updated_at" | "tool_rules">;
export const insertEntry = (tx: Queryable, entry: NewEntry) =>
  AGENTS.insert(tx, { ...entry, updated_at: entry.created_at });

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

/**
 * An entry by id or by name. Names are unique per kind (the SPIFFE ID, which is unique, is
 * spiffe://<td>/<agent|mcp>/<name>), so a name finds at most one.
 */
export async function findEntryByIdOrName(
  db: Queryable,
  idOrName: string,
  options: { kind: RegistryKind; forUpdate?: boolean },
): Promise<RegistryEntry | undefined> {
  const where = new Conditions().add("kind = ?", options.kind);
  if (UUID.test(idOrName)) where.add("id = ?::uuid", idOrName);
  else where.add("name = ?", idOrName);
  const { rows } = await db.query<RegistryEntry>(
    `SELECT ${AGENTS.columns} FROM agents ${where.where()}${options.forUpdate ? " FOR UPDATE" : ""}`,
    where.params,
  );
  return rows[0];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const updateEntry = (
  tx: Queryable,
  id: string,
  changes:
    | RegistryUpdateBody
    | { status: RegistrationStatus }
    | { tool_rules: Readonly<Record<string, unknown>> | null },
  updatedAt: Date,
) => AGENTS.update(tx, id, changes, updatedAt);

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

/** Filter fields that match their column exactly. */
const EXACT_FILTERS = ["kind", "tenant", "status", "team", "owner", "type", "environment"] as const;

export async function listEntries(
  db: Queryable,
  filter: RegistryFilter,
  after: TimeAndIdKey | undefined,
  limit: number,
): Promise<RegistryEntry[]> {
  const where = new Conditions().equal(filter, EXACT_FILTERS);
  if (filter.status === undefined) where.add("status <> 'archived'");
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
