import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * The one Prometheus registry of this process. Each of our processes is one component
 * (authz-server, extproc-server, control plane), so the metrics it defines at module level and the
 * Node.js process metrics (`process_*`, `nodejs_*`) all land here and `/metrics` renders this.
 * Definitions live next to what they measure (lib/src/metrics/*, <component>/src/metrics/*); they
 * are registered here with `registers: [metricsRegistry]`, never in prom-client's global default.
 */
export const metricsRegistry = new Registry();

let defaultsOn = false;

/** Adds the Node.js process metrics (CPU, memory, event-loop lag, GC); once per process. */
export function collectProcessMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: metricsRegistry });
  // prom-client names these gauges `..._total`, which Prometheus reserves for counters (promtool
  // check metrics refuses them); what they count is in `nodejs_active_resources` as well.
  for (const name of NON_COUNTER_TOTALS) metricsRegistry.removeSingleMetric(name);
}

const NON_COUNTER_TOTALS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

export interface MetricsPage {
  contentType: string;
  body: string;
}

/** The text exposition (Prometheus 0.0.4 format) of every metric of this process. */
export async function renderMetrics(): Promise<MetricsPage> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
