import { createOutboundClient, networksOf } from "../../../lib/src/http/outbound.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { VaultClient } from "../../../lib/src/vault/client.js";
import type { AppContext } from "../context.js";
import type { Handlers } from "../http/routes.js";
import type { WebhookConfig } from "./config.js";
import { webhookHandlers } from "./handlers.js";
import type { RetryPolicy } from "./retry.js";
import { cachedOpener, transitSealer } from "./secrets.js";
import { startWebhookWorker, type WebhookWorker } from "./worker.js";
import { startSyslogPush, type SyslogPush } from "../siem/syslog-push.js";

/** Largest receiver answer read (and thrown away): receivers answer with a status, not content. */
const MAX_RECEIVER_ANSWER = 64 * 1024;
const SECRET_CACHE_MS = 5 * 60_000;

export interface Webhooks {
  handlers(app: AppContext): Handlers;
  start(app: AppContext): Promise<void>;
  close(): Promise<void>;
  /** The worker, once started (tests wait for it to be idle). */
  readonly worker: WebhookWorker | null;
}

export function retryPolicyFrom(config: WebhookConfig): RetryPolicy {
  return {
    baseMs: config.WARDEN_WEBHOOK_RETRY_BASE_MS,
    capMs: config.WARDEN_WEBHOOK_RETRY_CAP_MS,
    jitter: config.WARDEN_WEBHOOK_JITTER,
    maxAttempts: config.WARDEN_WEBHOOK_MAX_ATTEMPTS,
    disableAfter: config.WARDEN_WEBHOOK_DISABLE_AFTER,
  };
}

export function createWebhooks(
  config: WebhookConfig,
  vault: VaultClient | null,
  transitMount: string,
  logger: Logger,
): Webhooks {
  const allowedNetworks = networksOf(config.WARDEN_WEBHOOK_ALLOW_CIDRS);
  const sealer = vault ? transitSealer(vault, transitMount) : null;
  let worker: WebhookWorker | null = null;
  let syslog: SyslogPush | null = null;
  const pendingKicks = new Set<string>();
  const kick = (tenant: string) => {
    if (worker) worker.kick(tenant, true);
    else pendingKicks.add(tenant);
  };
  return {
    get worker() {
      return worker;
    },
    handlers: (app) => webhookHandlers(app, { sealer, allowedNetworks, kick }),
    async start(app) {
      if (config.WARDEN_SYSLOG_TARGET !== undefined)
        syslog = await startSyslogPush({
          db: app.db,
          target: config.WARDEN_SYSLOG_TARGET,
          caFile: config.WARDEN_SYSLOG_CA_FILE,
          tenants: config.WARDEN_SYSLOG_TENANTS,
          allowedNetworks,
          pollMs: config.WARDEN_WEBHOOK_POLL_MS,
          logger,
          now: app.now,
        });
      if (!config.WARDEN_WEBHOOKS) return;
      if (!sealer) {
        logger.warn(
          "webhooks: OpenBao is not configured, so no signing secret can be opened; nothing is delivered",
        );
        return;
      }
      const open = cachedOpener(sealer, SECRET_CACHE_MS);
      worker = await startWebhookWorker({
        db: app.db,
        http: createOutboundClient({
          maxResponseBytes: MAX_RECEIVER_ANSWER,
          allowedPrivateHosts: new Set(),
          allowedNetworks,
        }),
        policy: retryPolicyFrom(config),
        timeoutMs: config.WARDEN_WEBHOOK_TIMEOUT_MS,
        allowedNetworks,
        openSecret: open,
        logger,
        now: app.now,
        pollMs: config.WARDEN_WEBHOOK_POLL_MS,
        async onDisabled(tenant, subscriptionId, reason) {
          await app.auditWriter
            ?.append({
              tenant,
              source: "control-plane",
              action: "webhook.disabled",
              actor: "control-plane",
              resource_type: "webhook_subscription",
              resource_id: subscriptionId,
              reason,
            })
            .catch((error: unknown) => logger.error({ err: error }, "webhook.disabled could not be audited"));
        },
      });
      for (const tenant of pendingKicks) worker.kick(tenant, true);
      pendingKicks.clear();
    },
    async close() {
      await worker?.stop();
      await syslog?.stop();
      worker = null;
      syslog = null;
    },
  };
}
