import { isIP } from "node:net";
import { typed, type JsonObject } from "./config-json.js";
import { grpcServiceCluster } from "./clusters.js";
import { OTLP_CLUSTER, type Params, type TracingParams } from "./params.js";

/**
 * OpenTelemetry tracing (docs/observability.md, "Traces"): off unless `tracing` names a collector.
 * Envoy continues the agent's W3C `traceparent` (or starts a trace), sends its spans over OTLP/gRPC,
 * and puts the trace context on everything it calls: the ext_authz and ext_proc gRPC calls (in their
 * metadata, which authz-server and extproc-server read) and the upstream request (`traceparent`).
 */
export function httpTracing(tracing: TracingParams): JsonObject {
  return {
    random_sampling: { value: tracing.samplingPercent },
    // A span of its own for the upstream request, so the provider's span hangs under the call that
    // reached it rather than under the whole exchange.
    spawn_upstream_span: true,
    custom_tags: [...QUERYLESS_URL_TAGS],
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: typed("envoy.config.trace.v3.OpenTelemetryConfig", {
        grpc_service: { envoy_grpc: { cluster_name: OTLP_CLUSTER }, timeout: "1s" },
        service_name: tracing.serviceName,
      }),
    },
  };
}

/**
 * Envoy's spans never carry the query string. Envoy tags a span with the request's URL (`http.url`,
 * and `grpc.path` when the agent says `content-type: application/grpc`) from the request headers as
 * they are when the span finishes. An allowed request's credential query parameters are gone by
 * then (extproc-server strips them), but a refused one is never rewritten (ext_authz refused it, or
 * Envoy answered locally before ext_authz: no route, too large, rate limited), so its `:path` still
 * holds `?key=...` as the agent sent it. Custom tags are applied after Envoy's own tags and replace
 * them (same key), so every span, allowed or refused, records the path without its query. Query
 * parameters are dropped whole, not filtered by name: a credential under a name not on the list, or
 * percent-encoded, must not reach the trace backend either.
 */
const QUERYLESS_PATH = "%PATH(NQ:ORIG_OR_PATH)%";
export const QUERYLESS_URL_TAGS: readonly JsonObject[] = [
  { tag: "http.url", value: `%REQ(X-FORWARDED-PROTO)%://%REQ(:AUTHORITY)%${QUERYLESS_PATH}` },
  { tag: "grpc.path", value: QUERYLESS_PATH },
];

/** The collector: plain OTLP/gRPC (h2c); a collector off the machine belongs behind a local agent. */
export function otlpCluster(tracing: TracingParams, params: Params): JsonObject {
  const cluster = grpcServiceCluster(OTLP_CLUSTER, tracing.collector, params, undefined);
  if (!isIP(tracing.collector.address)) cluster.dns_lookup_family = "V4_PREFERRED";
  return cluster;
}
