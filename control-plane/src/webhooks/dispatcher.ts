import { createHash } from "node:crypto";
import type { AuditRecord } from "../../../lib/src/audit/chain.js";
import type { Database } from "../../../lib/src/db/types.js";
import { auditAfterSeq } from "../audit/query.js";
import { eventData, eventTypesOf, type WebhookEvent } from "./events.js";
import {
  activeSubscriptions,
  insertDeliveries,
  lockCursor,
  saveCursor,
  type NewDelivery,
  type SubscriptionRow,
} from "./repository.js";

/**
 * Follows one tenant's audit chain from the `webhooks` cursor and turns each row into deliveries for
 * the subscriptions that asked for its event types. Deliveries and the new cursor are stored in one
 * transaction (the cursor row locked), so a restart resumes exactly where the last commit left off
 * and several control planes never dispatch the same rows twice.
 */
export const WEBHOOK_CONSUMER = "webhooks";
const BATCH = 500;

/** The same id for the same event of the same audit row, whichever subscription receives it. */
export function eventIdOf(auditEventId: string, type: string): string {
  const hex = createHash("sha256").update(`${auditEventId}\u0000${type}`).digest("hex");
  // Shaped as a UUID version 8 (RFC 9562: custom), variant 10.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Pure: the deliveries one audit row makes for the given subscriptions. */
export function deliveriesFor(record: AuditRecord, subscriptions: readonly SubscriptionRow[]): NewDelivery[] {
  const types = eventTypesOf(record);
  const out: NewDelivery[] = [];
  for (const subscription of subscriptions) {
    if (record.chain_seq <= subscription.start_seq) continue;
    for (const type of types) {
      if (!subscription.event_types.includes(type)) continue;
      const event: WebhookEvent = {
        id: eventIdOf(record.event_id, type),
        type,
        tenant: record.tenant,
        occurred_at: record.occurred_at,
        sequence: record.chain_seq,
        data: eventData(record),
      };
      out.push({
        subscription_id: subscription.id,
        event_id: event.id,
        event_type: type,
        audit_seq: record.chain_seq,
        payload: event as unknown as Record<string, unknown>,
      });
    }
  }
  return out;
}

/** One batch of the tenant's new audit rows; resolves to whether more rows may be waiting. */
export async function dispatchBatch(
  db: Database,
  tenant: string,
  now: Date,
): Promise<{ created: number; more: boolean }> {
  return db.transaction(async (tx) => {
    const subscriptions = await activeSubscriptions(tx, tenant);
    if (subscriptions.length === 0) return { created: 0, more: false };
    const stored = await lockCursor(tx, tenant, WEBHOOK_CONSUMER);
    // Nothing before the oldest subscription can be sent: a cursor behind it skips ahead.
    const cursor = Math.max(stored ?? 0, Math.min(...subscriptions.map((s) => s.start_seq)));
    const records = await auditAfterSeq(tx, tenant, cursor, BATCH);
    if (records.length === 0) {
      if (stored !== cursor) await saveCursor(tx, tenant, WEBHOOK_CONSUMER, cursor, now);
      return { created: 0, more: false };
    }
    const deliveries = records.flatMap((record) => deliveriesFor(record, subscriptions));
    const created = await insertDeliveries(tx, tenant, deliveries, now);
    await saveCursor(tx, tenant, WEBHOOK_CONSUMER, records[records.length - 1]!.chain_seq, now);
    return { created: created.length, more: records.length === BATCH };
  });
}
