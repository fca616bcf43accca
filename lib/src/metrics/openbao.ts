import { Counter, Histogram } from "prom-client";
import { IO_BUCKETS } from "./buckets.js";
import { metricsRegistry } from "./registry.js";

/**
 * Every call to OpenBao (Vault API) from this process, timed where the Vault client sends it
 * (lib/src/vault/client.ts). `operation` is the HTTP method and the mount (first path segment: e.g.
 * `GET warden`, `POST transit`), never the full path, which names tenants and users.
 */
const duration = new Histogram({
  name: "warden_openbao_request_duration_seconds",
  help: "OpenBao (Vault API) request duration, by operation and outcome (ok, refused, unavailable).",
  labelNames: ["operation", "outcome"],
  buckets: IO_BUCKETS,
  registers: [metricsRegistry],
});

const errors = new Counter({
  name: "warden_openbao_errors_total",
  help: "OpenBao requests that failed: unavailable (unreachable, sealed, 5xx, 429) or refused (4xx).",
  labelNames: ["operation", "kind"],
  registers: [metricsRegistry],
});

export type OpenBaoOutcome = "ok" | "refused" | "unavailable";

export function openBaoOperation(method: string, path: string): string {
  const mount = path.replace(/^\//, "").split("/", 1)[0] ?? "";
  return `${method} ${/^[a-z0-9_.-]{1,64}$/i.test(mount) ? mount : "other"}`;
}

/** The outcome of one HTTP status (0: no answer). */
export function openBaoOutcomeOf(status: number): OpenBaoOutcome {
  if (status === 0 || status === 429 || status >= 500) return "unavailable";
  return status >= 400 ? "refused" : "ok";
}

export function recordOpenBaoRequest(operation: string, status: number, seconds: number): void {
  const outcome = openBaoOutcomeOf(status);
  duration.observe({ operation, outcome }, seconds);
  if (outcome !== "ok") errors.inc({ operation, kind: outcome });
}
