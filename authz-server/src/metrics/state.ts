import { Gauge, Histogram } from "prom-client";
import { watchCacheStats } from "../../../lib/src/metrics/cache.js";
import { REVOCATION_LAG_BUCKETS } from "../../../lib/src/metrics/buckets.js";
import { metricsRegistry } from "../../../lib/src/metrics/registry.js";

/**
 * The authz-server's state as gauges, read from the components' own status() when Prometheus
 * scrapes (nothing on the request path): policy revision and last swap, registry size and feed lag,
 * revocations, the token cache.
 */
export interface AuthzStateSources {
  policy: () => {
    revision: string | null;
    loaded_at: string | null;
    swaps: number;
    last_error_at: string | null;
  };
  /** Agents known; the last time the registry feed read or heard from the database (null: never). */
  registry: () => { agents: number; lastSyncAt: Date | null; listening: boolean | null };
  revocations: () => { revoked: number; listening: boolean } | null;
  tokenCache: () => { signature_checks: number; cache_hits: number } | null;
}

const seconds = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : 0);

export function registerAuthzState(sources: AuthzStateSources): void {
  new Gauge({
    name: "warden_policy_info",
    help: "The policy bundle revision deciding now (value 1; no series before a policy is loaded).",
    labelNames: ["revision"],
    registers: [metricsRegistry],
    collect() {
      this.reset();
      const { revision } = sources.policy();
      if (revision) this.set({ revision }, 1);
    },
  });
  new Gauge({
    name: "warden_policy_last_swap_timestamp_seconds",
    help: "When the policy deciding now was activated (Unix time; 0: none yet).",
    registers: [metricsRegistry],
    collect() {
      this.set(seconds(sources.policy().loaded_at));
    },
  });
  new Gauge({
    name: "warden_policy_swaps",
    help: "Policy bundles activated since the start.",
    registers: [metricsRegistry],
    collect() {
      this.set(sources.policy().swaps);
    },
  });
  new Gauge({
    name: "warden_policy_last_refusal_timestamp_seconds",
    help: "When a policy bundle was last refused (bad signature, failed to compile); 0: never.",
    registers: [metricsRegistry],
    collect() {
      this.set(seconds(sources.policy().last_error_at));
    },
  });
  new Gauge({
    name: "warden_registry_agents",
    help: "Agents and MCP servers in the authz-server's in-memory registry.",
    registers: [metricsRegistry],
    collect() {
      this.set(sources.registry().agents);
    },
  });
  new Gauge({
    name: "warden_registry_feed_lag_seconds",
    help: "Seconds since the registry feed last read from the database (full sync or change notification); 0 for a file registry.",
    registers: [metricsRegistry],
    collect() {
      const { lastSyncAt } = sources.registry();
      this.set(lastSyncAt ? Math.max(0, (Date.now() - lastSyncAt.getTime()) / 1000) : 0);
    },
  });
  new Gauge({
    name: "warden_feed_listening",
    help: "1 while a change feed holds its LISTEN connection to PostgreSQL (feed: registry, revocations).",
    labelNames: ["feed"],
    registers: [metricsRegistry],
    collect() {
      this.reset();
      const registry = sources.registry().listening;
      if (registry !== null) this.set({ feed: "registry" }, registry ? 1 : 0);
      const revocations = sources.revocations();
      if (revocations) this.set({ feed: "revocations" }, revocations.listening ? 1 : 0);
    },
  });
  new Gauge({
    name: "warden_revocations",
    help: "Revoked, unexpired delegations and access tokens the authz-server refuses.",
    registers: [metricsRegistry],
    collect() {
      this.set(sources.revocations()?.revoked ?? 0);
    },
  });
  watchCacheStats("delegation_tokens", () => {
    const stats = sources.tokenCache();
    return { hits: stats?.cache_hits ?? 0, misses: stats?.signature_checks ?? 0 };
  });
}

const revocationLag = new Histogram({
  name: "warden_revocation_lag_seconds",
  help: "From a revocation's commit in the control plane to its effect in this authz-server (target: under 1 s).",
  buckets: REVOCATION_LAG_BUCKETS,
  registers: [metricsRegistry],
});

/** One revocation notice applied: `revokedAt` is the database's time of the revocation. */
export function recordRevocationApplied(revokedAt: string | undefined): void {
  if (!revokedAt) return;
  const lag = (Date.now() - Date.parse(revokedAt)) / 1000;
  if (Number.isFinite(lag)) revocationLag.observe(Math.max(0, lag));
}
