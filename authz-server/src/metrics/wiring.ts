import type { AuditWriter } from "../../../lib/src/audit/writer.js";
import { watchAuditWriter } from "../../../lib/src/metrics/audit-spool.js";
import { watchSvid } from "../../../lib/src/metrics/svid.js";
import { collectProcessMetrics } from "../../../lib/src/metrics/registry.js";
import type { DelegationVerifier } from "../authorizer.js";
import type { DelegationEnforcement } from "../delegation/enforcement.js";
import type { AgentIndex } from "../directory/agent-index.js";
import type { RegistryFeed } from "../directory/registry-feed.js";
import type { PolicyHolder } from "../policy/holder.js";
import { DelegationStopwatch } from "./delegation-stopwatch.js";
import { registerAuthzState } from "./state.js";

/** The authz-server's metrics, wired to its parts once at start-up (main.ts); /metrics renders them. */
export function authzMetrics(parts: {
  holder: PolicyHolder;
  directory: AgentIndex;
  feed: RegistryFeed | undefined;
  delegations: DelegationEnforcement | undefined;
  auditWriter: AuditWriter | undefined;
  svid: { latest(): { spiffeId: string; expiresAt: Date } } | undefined;
}): { timeDelegations: (v: DelegationVerifier) => DelegationVerifier; delegationNs: () => number } {
  collectProcessMetrics();
  const { holder, directory, feed, delegations, auditWriter, svid } = parts;
  if (svid) watchSvid(() => svid.latest());
  registerAuthzState({
    policy: () => holder.status(),
    registry: () => {
      if (!feed) return { agents: directory.size, lastSyncAt: null, listening: null };
      const status = feed.status();
      const times = [status.last_full_sync_at, status.last_update_at]
        .filter((t): t is string => t !== null)
        .map((t) => Date.parse(t));
      return {
        agents: status.agents,
        lastSyncAt: times.length ? new Date(Math.max(...times)) : null,
        listening: status.listening,
      };
    },
    revocations: () => (delegations ? delegations.status().revocations : null),
    tokenCache: () => (delegations ? delegations.status().verifier : null),
  });
  if (auditWriter) watchAuditWriter("decisions", () => auditWriter.status());
  const stopwatch = new DelegationStopwatch();
  return { timeDelegations: (v) => stopwatch.wrap(v), delegationNs: () => stopwatch.take() };
}
