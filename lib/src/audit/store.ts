import type { Queryable } from "../db/types.js";
import { chainHash, GENESIS_HASH, type AuditRecord, type ChainedEntry, type ChainHead } from "./chain.js";
import type { AuditEntry } from "./event.js";

/**
 * Appending to and reading from `audit_events`. Appends hold the tenant's chain-head row lock
 * (SELECT ... FOR UPDATE on `audit_chain_heads`) for the rest of the transaction, so concurrent
 * writers, in any number of processes, extend each tenant's chain one after the other.
 */
const ENTRY_COLUMNS = [
  "event_id",
  "tenant",
  "occurred_at",
  "source",
  "action",
  "actor",
  "agent_id",
  "agent_spiffe_id",
  "user_id",
  "delegation_id",
  "decision",
  "reason",
  "decision_id",
  "request_id",
  "resource_type",
  "resource_id",
  "upstream",
  "model",
  "tokens_in",
  "tokens_out",
  "cost_micros",
  "latency_ms",
  "details",
] as const satisfies readonly (keyof AuditEntry)[];

const INSERT_COLUMNS = [...ENTRY_COLUMNS, "chain_seq", "recorded_at", "prev_hash", "hash"] as const;

/** Column types, for reading a batch from one JSON parameter (jsonb_to_recordset). */
const COLUMN_TYPES: Record<(typeof INSERT_COLUMNS)[number], string> = {
  event_id: "uuid",
  tenant: "text",
  occurred_at: "timestamptz",
  source: "text",
  action: "text",
  actor: "text",
  agent_id: "uuid",
  agent_spiffe_id: "text",
  user_id: "text",
  delegation_id: "text",
  decision: "text",
  reason: "text",
  decision_id: "text",
  request_id: "text",
  resource_type: "text",
  resource_id: "text",
  upstream: "text",
  model: "text",
  tokens_in: "bigint",
  tokens_out: "bigint",
  cost_micros: "bigint",
  latency_ms: "double precision",
  details: "jsonb",
  chain_seq: "bigint",
  recorded_at: "timestamptz",
  prev_hash: "text",
  hash: "text",
};

/**
 * A whole batch is one jsonb parameter, each row an array of its column values in INSERT_COLUMNS
 * order, rather than 27 parameters per row: the writer's process (on the data plane, authz-server,
 * once per decision) serialises it with one native JSON.stringify and no repeated key names, and
 * PostgreSQL does the per-column parsing. Values arrive with the same types as separate parameters
 * would give them (JSON numbers as their shortest text; null as NULL).
 */
const INSERT_BATCH_SQL = `INSERT INTO audit_events (${INSERT_COLUMNS.join(", ")})
  SELECT ${INSERT_COLUMNS.map((c, i) => (c === "details" ? `r->${i}` : `(r->>${i})::${COLUMN_TYPES[c]}`)).join(", ")}
    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS rows(r, n)
   ORDER BY n
  RETURNING id, event_id`;

export const AUDIT_SELECT = `SELECT id, ${INSERT_COLUMNS.join(", ")} FROM audit_events`;

export interface AppendResult {
  /** Entries written now. */
  inserted: AuditRecord[];
  /** Entries whose event_id was already stored (an earlier delivery that committed): skipped. */
  duplicates: string[];
}

async function lockHead(tx: Queryable, tenant: string): Promise<ChainHead> {
  await tx.query(
    "INSERT INTO audit_chain_heads (tenant, last_seq, last_hash) VALUES ($1, 0, $2) ON CONFLICT (tenant) DO NOTHING",
    [tenant, GENESIS_HASH],
  );
  const { rows } = await tx.query<ChainHead>(
    "SELECT tenant, last_seq, last_hash FROM audit_chain_heads WHERE tenant = $1 FOR UPDATE",
    [tenant],
  );
  return rows[0]!;
}

/**
 * Appends entries in the given order; call inside a transaction. Redelivered event ids are skipped.
 * `fresh`: the caller knows no entry was ever committed (a first delivery, not from a spool), so the
 * look-up of already stored ids is left out (a duplicate would then fail the insert, not be skipped).
 */
export async function appendAuditEntries(
  tx: Queryable,
  entries: readonly AuditEntry[],
  now: Date = new Date(),
  options: { fresh?: boolean } = {},
): Promise<AppendResult> {
  if (entries.length === 0) return { inserted: [], duplicates: [] };
  // Lock heads in a fixed order so two writers with overlapping tenants cannot deadlock.
  const tenants = [...new Set(entries.map((e) => e.tenant))].sort();
  const heads = new Map<string, ChainHead>();
  for (const tenant of tenants) heads.set(tenant, await lockHead(tx, tenant));

  const existing = options.fresh
    ? []
    : (
        await tx.query<{ event_id: string }>(
          "SELECT event_id FROM audit_events WHERE event_id = ANY($1::uuid[])",
          [entries.map((e) => e.event_id)],
        )
      ).rows;
  const seen = new Set(existing.map((r) => r.event_id));
  const duplicates: string[] = [];
  const records: Omit<AuditRecord, "id">[] = [];
  const recordedAt = now.toISOString();
  for (const entry of entries) {
    if (seen.has(entry.event_id)) {
      duplicates.push(entry.event_id);
      continue;
    }
    seen.add(entry.event_id);
    const head = heads.get(entry.tenant)!;
    const record = chainedRecord(entry, head.last_seq + 1, recordedAt, head.last_hash);
    head.last_seq = record.chain_seq;
    head.last_hash = record.hash;
    records.push(record);
  }
  if (records.length === 0) return { inserted: [], duplicates };

  const batch = records.map((record) => INSERT_COLUMNS.map((column) => record[column]));
  const { rows } = await tx.query<{ id: number; event_id: string }>(INSERT_BATCH_SQL, [
    JSON.stringify(batch),
  ]);
  const ids = new Map(rows.map((r) => [r.event_id, r.id]));
  for (const tenant of tenants) {
    const head = heads.get(tenant)!;
    await tx.query(
      "UPDATE audit_chain_heads SET last_seq = $2, last_hash = $3, updated_at = now() WHERE tenant = $1",
      [tenant, head.last_seq, head.last_hash],
    );
  }
  const inserted = records as AuditRecord[];
  for (const record of inserted) record.id = ids.get(record.event_id)!;
  return { inserted, duplicates };
}

/** The hashed fields in sorted order: chainedRecord builds rows in it, so hashing takes the fast path. */
const HASHED_KEYS = INSERT_COLUMNS.filter((c) => c !== "hash").sort();

/**
 * An entry with its chain fields and hash, built by assignment in key order: object spreads of these
 * rows cost several µs each, and this runs once per audited decision.
 */
function chainedRecord(
  entry: AuditEntry,
  chainSeq: number,
  recordedAt: string,
  prevHash: string,
): Omit<AuditRecord, "id"> {
  const source = entry as unknown as Record<string, unknown>;
  const chain: Record<string, unknown> = {
    chain_seq: chainSeq,
    recorded_at: recordedAt,
    prev_hash: prevHash,
  };
  const record: Record<string, unknown> = {};
  for (const key of HASHED_KEYS) record[key] = key in chain ? chain[key] : source[key];
  record.hash = chainHash(record as unknown as ChainedEntry);
  return record as unknown as Omit<AuditRecord, "id">;
}

type DbTimestamp = Date | string;

/** A row as the driver returns it, with timestamps in the same ISO form that was hashed. */
export function recordFromRow(row: Record<string, unknown>): AuditRecord {
  const iso = (value: unknown) => new Date(value as DbTimestamp).toISOString();
  return {
    ...(row as unknown as AuditRecord),
    occurred_at: iso(row.occurred_at),
    recorded_at: iso(row.recorded_at),
  };
}
