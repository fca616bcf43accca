import type { BlockList } from "node:net";
import type { Database } from "../../../lib/src/db/types.js";
import { OutboundError, type OutboundClient } from "../../../lib/src/http/outbound.js";
import type { Logger } from "../../../lib/src/logger.js";
import {
  ATTEMPT_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
} from "../../../lib/src/webhooks/signature.js";
import { isSuccessStatus, nextStep, type AttemptOutcome, type RetryPolicy } from "./retry.js";
import {
  claimDueDeliveries,
  noteFailure,
  noteSuccess,
  recordAttempt,
  type DeliveryRow,
} from "./repository.js";
import { targetProblem, type Resolve } from "./target.js";

/**
 * Sends a tenant's due deliveries: one signed POST per attempt, the outcome recorded with the
 * attempt, then success, a retry after a backoff, or given up; failures in a row disable the
 * subscription. The secret is opened only to sign and never written anywhere else.
 */
export interface DelivererDeps {
  db: Database;
  http: OutboundClient;
  policy: RetryPolicy;
  timeoutMs: number;
  allowedNetworks: BlockList;
  openSecret: (tenant: string, sealed: string) => Promise<string>;
  logger: Logger;
  now: () => Date;
  resolve?: Resolve;
  /** Called when a subscription was just disabled (to audit it). */
  onDisabled?: (tenant: string, subscriptionId: string, reason: string) => Promise<void>;
}

const BATCH = 16;
/** A claimed delivery is retaken by any worker after this long (this one crashed mid-attempt). */
const LEASE_MS = 5 * 60_000;
const USER_AGENT = "agent-warden-webhooks/1";

type Claimed = DeliveryRow & { url: string; secret_sealed: string; consecutive_failures: number };

async function attempt(deps: DelivererDeps, delivery: Claimed, number: number): Promise<AttemptOutcome> {
  // Checked again at delivery: the name may resolve elsewhere now (the socket's lookup checks too).
  const problem = await targetProblem(delivery.url, deps.allowedNetworks, deps.resolve);
  if (problem) return { ok: false, status: null, error: `target refused: the URL ${problem}` };
  let secret: string;
  try {
    secret = await deps.openSecret(delivery.tenant_id, delivery.secret_sealed);
  } catch {
    return { ok: false, status: null, error: "the signing secret could not be opened (OpenBao unavailable)" };
  }
  const body = JSON.stringify(delivery.payload);
  const timestamp = Math.floor(deps.now().getTime() / 1000);
  try {
    const response = await deps.http.request({
      method: "POST",
      url: delivery.url,
      headers: {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        [SIGNATURE_HEADER]: signatureHeader(secret, timestamp, body),
        [EVENT_ID_HEADER]: delivery.event_id,
        [EVENT_TYPE_HEADER]: delivery.event_type,
        [ATTEMPT_HEADER]: String(number),
      },
      body,
      timeoutMs: deps.timeoutMs,
    });
    if (isSuccessStatus(response.status)) return { ok: true, status: response.status };
    return { ok: false, status: response.status, error: `the receiver answered ${response.status}` };
  } catch (error) {
    const message = error instanceof OutboundError ? error.message : "the request failed";
    return { ok: false, status: null, error: message };
  }
}

async function deliverOne(deps: DelivererDeps, delivery: Claimed): Promise<void> {
  const number = delivery.attempts + 1;
  const startedAt = deps.now();
  const outcome = await attempt(deps, delivery, number);
  const finishedAt = deps.now();
  const step = nextStep(deps.policy, outcome, number);
  const tenant = delivery.tenant_id;
  const state = step.delivery === "retry" ? "pending" : step.delivery;
  const nextAttemptAt = step.delivery === "retry" ? new Date(finishedAt.getTime() + step.delayMs) : null;
  await deps.db.transaction(async (tx) => {
    await recordAttempt(
      tx,
      tenant,
      delivery.id,
      {
        attempt: number,
        startedAt,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        status: outcome.status,
        error: outcome.ok ? null : outcome.error,
      },
      { state, nextAttemptAt },
      finishedAt,
    );
    if (outcome.ok) await noteSuccess(tx, tenant, delivery.subscription_id);
  });
  if (outcome.ok) return;
  const disabled = await noteFailure(
    deps.db,
    tenant,
    delivery.subscription_id,
    deps.policy.disableAfter,
    outcome.error,
    finishedAt,
  );
  deps.logger.warn(
    {
      tenant,
      subscription: delivery.subscription_id,
      delivery: delivery.id,
      attempt: number,
      status: outcome.status,
      error: outcome.error,
      next_attempt_at: nextAttemptAt?.toISOString() ?? null,
    },
    "webhook delivery attempt failed",
  );
  if (disabled) {
    const reason = `disabled after ${deps.policy.disableAfter} failed attempts in a row; last: ${outcome.error}`;
    deps.logger.warn({ tenant, subscription: delivery.subscription_id }, "webhook subscription disabled");
    await deps.onDisabled?.(tenant, delivery.subscription_id, reason);
  }
}

/** Sends the tenant's due deliveries, batch after batch; resolves to how many were attempted. */
export async function deliverDue(deps: DelivererDeps, tenant: string): Promise<number> {
  let total = 0;
  for (;;) {
    const now = deps.now();
    const claimed = await claimDueDeliveries(deps.db, tenant, now, new Date(now.getTime() + LEASE_MS), BATCH);
    await Promise.all(
      claimed.map((delivery) =>
        deliverOne(deps, delivery).catch((error: unknown) =>
          deps.logger.error({ err: error, delivery: delivery.id }, "webhook delivery could not be recorded"),
        ),
      ),
    );
    total += claimed.length;
    if (claimed.length < BATCH) return total;
  }
}
