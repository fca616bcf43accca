import { accessLog } from "./access-log.js";
import { typed, seconds, socketAddress, type JsonObject } from "./config-json.js";
import { extAuthzFilter, extProcFilter, headerMutationFilter, routerFilter } from "./filters.js";
import { localReplyConfig } from "./local-replies.js";
import { globalRateLimitFilters, localRateLimitFilter } from "./rate-limits.js";
import type { Params } from "./params.js";
import { routeConfig } from "./routes.js";
import { downstreamTlsSocket } from "./tls.js";
import { httpTracing } from "./tracing.js";

export function agentListener(params: Params): JsonObject {
  const filterChain: JsonObject = {
    filters: [
      { name: "envoy.filters.network.http_connection_manager", typed_config: httpConnectionManager(params) },
    ],
  };
  // Agents connect with mTLS and their X.509-SVID.
  if (params.downstreamTls) filterChain.transport_socket = downstreamTlsSocket(params.downstreamTls);
  return {
    name: "agent",
    address: socketAddress(params.agentListener.address, params.agentListener.port),
    filter_chains: [filterChain],
  };
}

/**
 * Zero-code mode (docs/zero-code.md): plain HTTP on loopback for the one agent this sidecar is bound
 * to. The same routes, filters and policy as the agent listener; the identity is the bound agent's,
 * written by this configuration into every route's ext_authz context (routes.ts), never read from the
 * request. Whatever can reach this port acts as that agent: keep it inside the agent's network namespace.
 */
export function zeroCodeListener(params: Params): JsonObject {
  const zeroCode = params.zeroCode;
  if (zeroCode === null) throw new Error("zeroCodeListener: no zeroCode parameters");
  return {
    name: "zero-code",
    address: socketAddress(zeroCode.address, zeroCode.port),
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: httpConnectionManager(params, zeroCode.agentSpiffeId),
          },
        ],
      },
    ],
  };
}

function httpConnectionManager(params: Params, zeroCodeAgent?: string): JsonObject {
  const t = params.timeouts;
  return typed("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", {
    stat_prefix: zeroCodeAgent === undefined ? "agent" : "zero_code",
    codec_type: "AUTO",
    // The agent is the edge: Envoy sets x-request-id itself and drops agent-sent x-envoy-* headers.
    // No peer may count as "internal", not even loopback; an empty cidr_ranges would mean the
    // default (RFC 1918 and loopback), so the list holds one range no peer can have.
    use_remote_address: true,
    skip_xff_append: true,
    internal_address_config: {
      unix_sockets: false,
      cidr_ranges: [{ address_prefix: "0.0.0.0", prefix_len: 32 }],
    },
    preserve_external_request_id: false,
    // The policy judges the path Envoy routes, so that must be the path the upstream acts on:
    // normalised, and without encoded slashes an upstream could decode into another path.
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: "REJECT_REQUEST",
    max_request_headers_kb: params.maxRequestHeadersKb,
    request_headers_timeout: seconds(t.requestHeadersS),
    stream_idle_timeout: seconds(t.streamIdleS),
    common_http_protocol_options: { headers_with_underscores_action: "DROP_HEADER" },
    // Outbound: whatever the agent sent is dropped (an MCP route to a Warden sidecar writes its own).
    // Inbound: kept only on an mTLS connection, where authz-server reads it if, and only if, the
    // verified peer is a trusted Warden sidecar; a client without a certificate cannot send one.
    // Zero-code: no client certificate exists on that listener, and any header a client sent is dropped.
    forward_client_cert_details: params.inbound && zeroCodeAgent === undefined ? "FORWARD_ONLY" : "SANITIZE",
    access_log: [accessLog(params.accessLogPath)],
    route_config: routeConfig(params, zeroCodeAgent),
    http_filters: [
      ...localRateLimitFilter(params),
      extAuthzFilter(params),
      // After ext_authz: the descriptors are built from its decision.
      ...globalRateLimitFilters(params),
      ...(params.destinations.some((d) => d.kind === "mcp") ? [headerMutationFilter()] : []),
      extProcFilter(params),
      routerFilter(),
    ],
    local_reply_config: localReplyConfig(params),
    ...(params.tracing ? { tracing: httpTracing(params.tracing) } : {}),
  });
}
