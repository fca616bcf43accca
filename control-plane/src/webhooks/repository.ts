import type { Queryable } from "../../../lib/src/db/types.js";
import type { TimeAndIdKey } from "../http/cursor.js";

/**
 * SQL of subscriptions, deliveries and audit cursors (migration 020). Every statement names the
 * tenant: rows of one tenant are only ever read or changed with that tenant's id in the WHERE.
 * The only statement across tenants is `tenantsWithSubscriptions` (which tenants the workers visit).
 */
export interface SubscriptionRow {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  secret_sealed: string;
  state: "active" | "disabled";
  disabled_reason: string | null;
  consecutive_failures: number;
  start_seq: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface DeliveryRow {
  id: string;
  tenant_id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  audit_seq: number | null;
  payload: Record<string, unknown>;
  state: "pending" | "succeeded" | "failed";
  attempts: number;
  next_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
}

export interface AttemptRow {
  attempt: number;
  started_at: Date;
  duration_ms: number;
  status: number | null;
  error: string | null;
}

const SUBSCRIPTION_COLUMNS =
  "id, tenant_id, url, description, event_types, secret_sealed, state, disabled_reason, consecutive_failures, start_seq, created_by, created_at, updated_at";
const DELIVERY_COLUMNS =
  "id, tenant_id, subscription_id, event_id, event_type, audit_seq, payload, state, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at";

/** The tenant's audit chain head (0 before its first event). */
export async function chainHead(db: Queryable, tenant: string): Promise<number> {
  const { rows } = await db.query<{ last_seq: number }>(
    "SELECT last_seq FROM audit_chain_heads WHERE tenant = $1",
    [tenant],
  );
  return rows[0]?.last_seq ?? 0;
}

export async function insertSubscription(
  db: Queryable,
  row: Pick<
    SubscriptionRow,
    "tenant_id" | "url" | "description" | "event_types" | "secret_sealed" | "start_seq" | "created_by"
  >,
  now: Date,
): Promise<SubscriptionRow> {
  const { rows } = await db.query<SubscriptionRow>(
    `INSERT INTO webhook_subscriptions (tenant_id, url, description, event_types, secret_sealed, start_seq, created_by, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ${SUBSCRIPTION_COLUMNS}`,
    [
      row.tenant_id,
      row.url,
      row.description,
      row.event_types,
      row.secret_sealed,
      row.start_seq,
      row.created_by,
      now,
    ],
  );
  return rows[0]!;
}

export async function findSubscription(
  db: Queryable,
  tenant: string,
  id: string,
): Promise<SubscriptionRow | undefined> {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2`,
    [tenant, id],
  );
  return rows[0];
}

/** A tenant's subscriptions, oldest first, keyset-paged on (created_at to the millisecond, id). */
export async function listSubscriptions(
  db: Queryable,
  tenant: string,
  after: TimeAndIdKey | undefined,
  limit: number,
): Promise<SubscriptionRow[]> {
  const params: unknown[] = [tenant, limit];
  let where = "tenant_id = $1";
  if (after) {
    params.push(after.t, after.i);
    where += " AND (date_trunc('milliseconds', created_at), id) > ($3::timestamptz, $4::uuid)";
  }
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE ${where}
     ORDER BY date_trunc('milliseconds', created_at), id LIMIT $2`,
    params,
  );
  return rows;
}

export async function activeSubscriptions(db: Queryable, tenant: string): Promise<SubscriptionRow[]> {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE tenant_id = $1 AND state = 'active' ORDER BY id`,
    [tenant],
  );
  return rows;
}

export async function deleteSubscription(db: Queryable, tenant: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2", [
    tenant,
    id,
  ]);
  return rowCount > 0;
}

/** Active again (an admin fixed the receiver): the failure count starts over. */
export async function reactivateSubscription(
  db: Queryable,
  tenant: string,
  id: string,
  now: Date,
): Promise<SubscriptionRow | undefined> {
  const { rows } = await db.query<SubscriptionRow>(
    `UPDATE webhook_subscriptions SET state = 'active', disabled_reason = NULL, consecutive_failures = 0, updated_at = $3
     WHERE tenant_id = $1 AND id = $2 RETURNING ${SUBSCRIPTION_COLUMNS}`,
    [tenant, id, now],
  );
  return rows[0];
}

/** Tenants the workers visit: those with at least one active subscription. */
export async function tenantsWithSubscriptions(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ tenant_id: string }>(
    "SELECT DISTINCT tenant_id FROM webhook_subscriptions WHERE state = 'active' ORDER BY tenant_id",
  );
  return rows.map((r) => r.tenant_id);
}

export interface NewDelivery {
  subscription_id: string;
  event_id: string;
  event_type: string;
  audit_seq: number | null;
  payload: Record<string, unknown>;
}

/** Inserts deliveries due now; one already made for the same subscription, audit row and type is skipped. */
export async function insertDeliveries(
  db: Queryable,
  tenant: string,
  deliveries: readonly NewDelivery[],
  now: Date,
): Promise<DeliveryRow[]> {
  if (deliveries.length === 0) return [];
  const { rows } = await db.query<DeliveryRow>(
    `INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event_type, audit_seq, payload, next_attempt_at, created_at, updated_at)
     SELECT $1, d.subscription_id, d.event_id, d.event_type, d.audit_seq, d.payload, $3, $3, $3
       FROM jsonb_to_recordset($2::jsonb) AS d(subscription_id uuid, event_id uuid, event_type text, audit_seq bigint, payload jsonb)
     ON CONFLICT ON CONSTRAINT webhook_deliveries_once DO NOTHING
     RETURNING ${DELIVERY_COLUMNS}`,
    [tenant, JSON.stringify(deliveries), now],
  );
  return rows;
}

/**
 * Takes up to `limit` due deliveries of active subscriptions of the tenant and leases them until
 * `leaseUntil` (another worker, or this one after a crash, takes them again after that).
 */
export async function claimDueDeliveries(
  db: Queryable,
  tenant: string,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<(DeliveryRow & { url: string; secret_sealed: string; consecutive_failures: number })[]> {
  const { rows } = await db.query<
    DeliveryRow & { url: string; secret_sealed: string; consecutive_failures: number }
  >(
    `WITH due AS (
       SELECT d.id FROM webhook_deliveries d
         JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.tenant_id = d.tenant_id
        WHERE d.tenant_id = $1 AND d.state = 'pending' AND d.next_attempt_at <= $2 AND s.state = 'active'
        ORDER BY d.next_attempt_at, d.id
        LIMIT $4
        FOR UPDATE OF d SKIP LOCKED)
     UPDATE webhook_deliveries w SET next_attempt_at = $3, updated_at = $2
       FROM due, webhook_subscriptions s
      WHERE w.id = due.id AND w.tenant_id = $1 AND s.id = w.subscription_id AND s.tenant_id = $1
     RETURNING ${DELIVERY_COLUMNS.split(", ")
       .map((c) => `w.${c}`)
       .join(", ")}, s.url, s.secret_sealed, s.consecutive_failures`,
    [tenant, now, leaseUntil, limit],
  );
  return rows;
}

/** When the tenant's next pending delivery is due (null: none). */
export async function nextDueAt(db: Queryable, tenant: string): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>(
    `SELECT min(d.next_attempt_at) AS at FROM webhook_deliveries d
       JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.tenant_id = d.tenant_id
      WHERE d.tenant_id = $1 AND d.state = 'pending' AND s.state = 'active'`,
    [tenant],
  );
  return rows[0]?.at ?? null;
}

export interface AttemptRecord {
  attempt: number;
  startedAt: Date;
  durationMs: number;
  status: number | null;
  error: string | null;
}

/** Records one attempt and where the delivery stands after it. */
export async function recordAttempt(
  db: Queryable,
  tenant: string,
  deliveryId: string,
  attempt: AttemptRecord,
  outcome: { state: DeliveryRow["state"]; nextAttemptAt: Date | null },
  now: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO webhook_delivery_attempts (delivery_id, tenant_id, attempt, started_at, duration_ms, status, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
    [
      deliveryId,
      tenant,
      attempt.attempt,
      attempt.startedAt,
      attempt.durationMs,
      attempt.status,
      attempt.error,
    ],
  );
  await db.query(
    `UPDATE webhook_deliveries SET attempts = $3, state = $4, next_attempt_at = $5, last_status = $6,
            last_error = $7, updated_at = $8, delivered_at = CASE WHEN $4 = 'succeeded' THEN $8 ELSE delivered_at END
      WHERE tenant_id = $1 AND id = $2`,
    [
      tenant,
      deliveryId,
      attempt.attempt,
      outcome.state,
      outcome.nextAttemptAt,
      attempt.status,
      attempt.error,
      now,
    ],
  );
}

/** A success: the subscription's failures in a row start over. */
export async function noteSuccess(db: Queryable, tenant: string, id: string): Promise<void> {
  await db.query(
    "UPDATE webhook_subscriptions SET consecutive_failures = 0 WHERE tenant_id = $1 AND id = $2 AND consecutive_failures <> 0",
    [tenant, id],
  );
}

/**
 * A failed attempt: one more failure in a row, counted in one statement (concurrent deliveries of a
 * subscription add up); at `disableAfter` the subscription is disabled, which stops its deliveries.
 * Returns true when this failure disabled it.
 */
export async function noteFailure(
  db: Queryable,
  tenant: string,
  id: string,
  disableAfter: number,
  lastError: string,
  now: Date,
): Promise<boolean> {
  // Old values are what SET sees, so the failure that reaches the limit is the one that disables.
  const { rows } = await db.query<{ disabled_now: boolean }>(
    `UPDATE webhook_subscriptions
        SET consecutive_failures = consecutive_failures + 1,
            state = CASE WHEN consecutive_failures + 1 >= $3 THEN 'disabled' ELSE state END,
            disabled_reason = CASE WHEN consecutive_failures + 1 = $3 THEN $4 ELSE disabled_reason END,
            updated_at = $5
      WHERE tenant_id = $1 AND id = $2
      RETURNING consecutive_failures = $3 AS disabled_now`,
    [
      tenant,
      id,
      disableAfter,
      `disabled after ${disableAfter} failed attempts in a row; last: ${lastError}`,
      now,
    ],
  );
  return rows[0]?.disabled_now ?? false;
}

/** A subscription's deliveries, newest first, keyset-paged on (created_at to the millisecond, id). */
export async function listDeliveries(
  db: Queryable,
  tenant: string,
  subscriptionId: string,
  after: TimeAndIdKey | undefined,
  limit: number,
): Promise<DeliveryRow[]> {
  const params: unknown[] = [tenant, subscriptionId, limit];
  let where = "tenant_id = $1 AND subscription_id = $2";
  if (after) {
    params.push(after.t, after.i);
    where += " AND (date_trunc('milliseconds', created_at), id) < ($4::timestamptz, $5::uuid)";
  }
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE ${where}
     ORDER BY date_trunc('milliseconds', created_at) DESC, id DESC LIMIT $3`,
    params,
  );
  return rows;
}

export async function attemptsOf(
  db: Queryable,
  tenant: string,
  deliveryIds: readonly string[],
): Promise<Map<string, AttemptRow[]>> {
  const { rows } = await db.query<AttemptRow & { delivery_id: string }>(
    `SELECT delivery_id, attempt, started_at, duration_ms, status, error FROM webhook_delivery_attempts
      WHERE tenant_id = $1 AND delivery_id = ANY($2::uuid[]) ORDER BY delivery_id, attempt`,
    [tenant, deliveryIds],
  );
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const { delivery_id, ...attempt } of rows) {
    const list = byDelivery.get(delivery_id) ?? [];
    list.push(attempt);
    byDelivery.set(delivery_id, list);
  }
  return byDelivery;
}

/** Where a consumer of the tenant's audit chain stands; locked for the transaction. Null: never started. */
export async function lockCursor(db: Queryable, tenant: string, consumer: string): Promise<number | null> {
  const { rows } = await db.query<{ last_seq: number }>(
    "SELECT last_seq FROM event_cursors WHERE tenant_id = $1 AND consumer = $2 FOR UPDATE",
    [tenant, consumer],
  );
  return rows[0]?.last_seq ?? null;
}

export async function saveCursor(
  db: Queryable,
  tenant: string,
  consumer: string,
  lastSeq: number,
  now: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO event_cursors (tenant_id, consumer, last_seq, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, consumer) DO UPDATE SET last_seq = excluded.last_seq, updated_at = excluded.updated_at`,
    [tenant, consumer, lastSeq, now],
  );
}
