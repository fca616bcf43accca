import { stringify } from "yaml";
import { grpcServiceCluster, spireAgentCluster, upstreamCluster } from "./clusters.js";
import { typed, socketAddress, type JsonObject } from "./config-json.js";
import { agentListener, zeroCodeListener } from "./listener.js";
import {
  AUTHZ_CLUSTER,
  EXTPROC_CLUSTER,
  RATELIMIT_CLUSTER,
  sidecarParamsSchema,
  type Params,
  type SidecarParams,
} from "./params.js";
import { SPIRE_SDS_NODE_METADATA } from "./tls.js";
import { otlpCluster } from "./tracing.js";

/**
 * Renders the Envoy sidecar bootstrap; envoy/README.md explains every part. Pure: validated
 * parameters in, YAML out. Tests, the demo and operators all render through this one function, so
 * what the tests run is what production runs.
 *
 * One module per concern, this one the entry point: params.ts (names and schemas), destinations.ts
 * (the routes Warden ships), listener.ts (the agent listener and its connection manager), routes.ts,
 * filters.ts (ext_authz, ext_proc, router), local-replies.ts (Envoy's own errors as JSON),
 * access-log.ts, clusters.ts, tracing.ts (OpenTelemetry), tls.ts (SVIDs and bundles over SDS) and config-json.ts (small helpers).
 */

export { ACCESS_LOG_FORMAT } from "./access-log.js";
export {
  AUTHZ_REQUEST_BODY,
  azureOpenAiDestination,
  mcpDestination,
  devUpstreamDestinations,
  providerDestinations,
  salesforceDestination,
} from "./destinations.js";
export {
  AUTHZ_CLUSTER,
  DESTINATION_KINDS,
  destinationSchema,
  EXT_AUTHZ_NAMESPACE,
  EXTPROC_CLUSTER,
  sidecarParamsSchema,
  OTLP_CLUSTER,
  SPIRE_AGENT_CLUSTER,
  type Destination,
  type SidecarParams,
} from "./params.js";
export { AGENT_FORWARDING_HEADERS, ZERO_CODE_CONTEXT_KEY, ZERO_CODE_IDENTITY_HEADERS } from "./routes.js";

/** Validates the parameters (a ZodError names every wrong field) and renders the YAML. */
export function renderSidecarBootstrap(input: SidecarParams): string {
  const params = sidecarParamsSchema.parse(input);
  return stringify(buildSidecarBootstrap(params), { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Runtime flags the sidecar depends on.
 *
 * `ext_proc_graceful_grpc_close`: without it Envoy ends every ext_proc stream with RST_STREAM. The
 * HTTP/2 server in Node (nghttp2) rate-limits incoming RST_STREAM frames as a rapid-reset defence
 * (token bucket: 1,000 burst, 33/s), so above ~33 requests/s it tears the connection down after
 * ~1,000+ requests and refuses the streams in flight (REFUSED_STREAM → 503 for the agent). With the
 * flag, Envoy half-closes and extproc-server ends the call with a status, so no reset is sent.
 * (Except for streams older than 30 s: Envoy 1.40 crashes when the processor closes one of those;
 * extproc-server leaves them to Envoy's reset. docs/response-path.md, "Envoy bugs".)
 */
const RUNTIME_FLAGS: Readonly<JsonObject> = {
  "envoy.reloadable_features.ext_proc_graceful_grpc_close": true,
};

export function buildSidecarBootstrap(params: Params): JsonObject {
  return {
    node: {
      id: params.nodeId,
      cluster: params.nodeCluster,
      ...(params.downstreamTls ? { metadata: SPIRE_SDS_NODE_METADATA } : {}),
    },
    admin: { address: socketAddress(params.admin.address, params.admin.port) },
    static_resources: {
      listeners: [agentListener(params), ...(params.zeroCode ? [zeroCodeListener(params)] : [])],
      clusters: [
        grpcServiceCluster(AUTHZ_CLUSTER, params.authz, params, params.serverIdentities?.authz),
        grpcServiceCluster(EXTPROC_CLUSTER, params.extproc, params, params.serverIdentities?.extproc),
        ...(params.rateLimit
          ? [grpcServiceCluster(RATELIMIT_CLUSTER, params.rateLimit.service, params, undefined)]
          : []),
        ...(params.downstreamTls ? [spireAgentCluster(params.downstreamTls.spireAgentSocket)] : []),
        ...(params.tracing ? [otlpCluster(params.tracing, params)] : []),
        ...params.destinations.map((destination) => upstreamCluster(destination, params)),
      ],
    },
    layered_runtime: {
      layers: [{ name: "warden", static_layer: { ...RUNTIME_FLAGS } }],
    },
    overload_manager: {
      resource_monitors: [
        {
          name: "envoy.resource_monitors.global_downstream_max_connections",
          typed_config: typed(
            "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
            {
              max_active_downstream_connections: params.maxDownstreamConnections,
            },
          ),
        },
      ],
    },
  };
}
