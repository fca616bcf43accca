import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import { deliverDue, type DelivererDeps } from "./deliverer.js";
import { dispatchBatch } from "./dispatcher.js";
import { nextDueAt, tenantsWithSubscriptions } from "./repository.js";

/**
 * Runs the dispatcher and the deliverer: woken by NOTIFY `warden_audit` (a tenant's audit rows
 * committed), by the API (a test event, a reactivated subscription), by a timer at the next due
 * retry, and by a periodic poll as the safety net for missed notifications. One pass at a time.
 */
export const AUDIT_CHANNEL = "warden_audit";

export interface WebhookWorker {
  /** Visit one tenant soon (or every tenant with subscriptions); `known`: it has subscriptions now. */
  kick(tenant?: string, known?: boolean): void;
  /** Resolves when no pass is running or waiting (tests, shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebhookWorker(
  deps: DelivererDeps & { db: Database; pollMs: number; logger: Logger },
): Promise<WebhookWorker> {
  const waiting = new Set<string>();
  // Tenants with active subscriptions as of the last full pass: audit rows of others wake nothing.
  let subscribed = new Set<string>();
  let everyone = true;
  let running: Promise<void> | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const arm = (delayMs: number) => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(() => kick(), Math.max(10, Math.min(delayMs, deps.pollMs)));
    timer.unref();
  };

  async function visit(tenant: string): Promise<void> {
    for (let more = true; more && !stopped;) ({ more } = await dispatchBatch(deps.db, tenant, deps.now()));
    if (!stopped) await deliverDue(deps, tenant);
  }

  async function pass(): Promise<void> {
    while (!stopped && (everyone || waiting.size > 0)) {
      if (everyone) subscribed = new Set(await tenantsWithSubscriptions(deps.db));
      const tenants = everyone ? [...subscribed] : [...waiting];
      everyone = false;
      waiting.clear();
      for (const tenant of tenants) await visit(tenant);
    }
    if (stopped) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const tenant of subscribed) {
      const due = await nextDueAt(deps.db, tenant);
      if (due) earliest = Math.min(earliest, due.getTime());
    }
    arm(earliest - deps.now().getTime());
  }

  function kick(tenant?: string, known = false): void {
    if (stopped) return;
    if (tenant === undefined) everyone = true;
    else if (known) subscribed.add(tenant);
    if (tenant !== undefined && subscribed.has(tenant)) waiting.add(tenant);
    start();
  }

  function start(): void {
    if (running || stopped || !(everyone || waiting.size > 0)) return;
    running = pass()
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, "webhook pass failed; retrying at the next poll");
        arm(deps.pollMs);
      })
      .finally(() => {
        running = null;
        start();
      });
  }

  const unlisten = await deps.db.listen(AUDIT_CHANNEL, (tenant) => kick(tenant || undefined), {
    onReconnect: () => kick(),
  });
  kick();

  return {
    kick,
    async idle() {
      while (running) await running;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await unlisten().catch(() => undefined);
      while (running) await running;
    },
  };
}
