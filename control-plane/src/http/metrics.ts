import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Gauge, Histogram } from "prom-client";
import type { Secret } from "../../../lib/src/config.js";
import type { Database } from "../../../lib/src/db/types.js";
import { IO_BUCKETS } from "../../../lib/src/metrics/buckets.js";
import { collectProcessMetrics, metricsRegistry, renderMetrics } from "../../../lib/src/metrics/registry.js";
import { operationOf } from "./request-log.js";

/**
 * The control plane's /metrics (outside the OpenAPI document, like /openapi.json): API request
 * durations per OpenAPI operation (`http.server.request.duration` in the OTel → Prometheus naming),
 * the registry's size from the database, OpenBao calls (lib/src/vault), and the audit
 * writer's backlog (watched in app.ts).
 * Labels never carry a URL, a tenant's data or a user: only the operation id, method and status.
 * With WARDEN_CP_METRICS_TOKEN set, a scrape must present it as a bearer token.
 */
const requestDuration = new Histogram({
  name: "http_server_request_duration_seconds",
  help: "Control-plane API request duration (http.server.request.duration), by OpenAPI operation, method and status code.",
  labelNames: ["http_route", "http_request_method", "http_response_status_code"],
  buckets: IO_BUCKETS,
  registers: [metricsRegistry],
});

export function serveMetrics(app: FastifyInstance, parts: { db: Database; token: Secret | undefined }): void {
  collectProcessMetrics();
  const { db, token } = parts;
  registryDb = db;
  app.addHook("onResponse", async (request, reply) => {
    const route = operationOf(request) ?? (request.url.split("?")[0] === "/metrics" ? "metrics" : "unknown");
    requestDuration.observe(
      {
        http_route: route,
        http_request_method: request.method,
        http_response_status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  app.get("/metrics", { schema: { hide: true } }, async (request, reply) => {
    if (token && !bearerMatches(request.headers.authorization, token.reveal())) {
      return reply
        .status(401)
        .header("www-authenticate", 'Bearer realm="metrics"')
        .send({ error: { code: "unauthorized", message: "metrics need the metrics bearer token" } });
    }
    const page = await renderMetrics();
    return reply.header("content-type", page.contentType).header("cache-control", "no-store").send(page.body);
  });
}

function bearerMatches(header: string | undefined, expected: string): boolean {
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const wanted = Buffer.from(expected);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** Agents and MCP servers registered, by kind and status: one small query per scrape. */
let registryDb: Database | null = null;
new Gauge({
  name: "warden_registry_registrations",
  help: "Registered agents and MCP servers in the control plane's database, by kind and status.",
  labelNames: ["kind", "status"],
  registers: [metricsRegistry],
  async collect() {
    if (!registryDb) return;
    try {
      const { rows } = await registryDb.query<{ kind: string; status: string; n: number }>(
        "SELECT kind, status, count(*)::int AS n FROM agents GROUP BY kind, status",
      );
      this.reset();
      for (const row of rows) this.set({ kind: row.kind, status: row.status }, row.n);
    } catch {
      // The database is down: the gauge keeps its last values; /readyz says why.
    }
  },
});
