import type { Server } from "node:http";
import type { Logger } from "../../../lib/src/logger.js";
import { watchAuditWriter } from "../../../lib/src/metrics/audit-spool.js";
import { watchSvid } from "../../../lib/src/metrics/svid.js";
import { collectProcessMetrics } from "../../../lib/src/metrics/registry.js";
import { startStatusServer } from "../../../lib/src/status-server.js";
import type { RunningOAuth } from "../oauth/start-oauth.js";
import type { RunningUsage } from "../usage/start-usage.js";

/**
 * extproc-server's status listener (/healthz, /readyz, /status, /metrics). It serves operators and
 * Prometheus, not traffic: when its address is taken, the server logs it and serves without it
 * rather than refusing to process requests.
 */
export async function extprocStatus(
  address: string,
  parts: {
    logger: Logger;
    usage: RunningUsage | null;
    oauth: RunningOAuth | null;
    svid: { latest(): { spiffeId: string; expiresAt: Date } } | undefined;
  },
): Promise<Server | null> {
  collectProcessMetrics();
  const svid = parts.svid;
  if (svid) watchSvid(() => svid.latest());
  const audit = parts.oauth?.audit;
  if (audit) watchAuditWriter("saas", () => audit.status());
  try {
    return await startStatusServer(address, {
      ready: () => true,
      status: () => ({
        component: "extproc-server",
        prices: parts.usage ? { version: parts.usage.prices.version } : null,
        saas_audit: audit ? audit.status() : null,
      }),
    });
  } catch (error) {
    parts.logger.error({ err: error, status: address }, "status listener not started: no /metrics");
    return null;
  }
}
