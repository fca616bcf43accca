import { isIP } from "node:net";
import { millis, singleEndpoint, socketAddress, typed, type JsonObject } from "./config-json.js";
import { SPIRE_AGENT_CLUSTER, type DestinationConfig, type Endpoint, type Params } from "./params.js";
import { serverMtlsSocket, wardenSidecarUpstreamSocket } from "./tls.js";

export function grpcServiceCluster(
  name: string,
  endpoint: Endpoint,
  params: Params,
  serverSpiffeId: string | undefined,
): JsonObject {
  const cluster: JsonObject = {
    name,
    type: isIP(endpoint.address) ? "STATIC" : "STRICT_DNS",
    connect_timeout: millis(params.timeouts.upstreamConnectMs),
    typed_extension_protocol_options: http2Only(),
    load_assignment: singleEndpoint(name, socketAddress(endpoint.address, endpoint.port)),
  };
  if (params.downstreamTls && serverSpiffeId) {
    cluster.transport_socket = serverMtlsSocket(params.downstreamTls, serverSpiffeId);
  }
  return cluster;
}

export function spireAgentCluster(socketPath: string): JsonObject {
  return {
    name: SPIRE_AGENT_CLUSTER,
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: http2Only(),
    load_assignment: singleEndpoint(SPIRE_AGENT_CLUSTER, { pipe: { path: socketPath } }),
  };
}

export function upstreamCluster(destination: DestinationConfig, params: Params): JsonObject {
  const { upstream } = destination;
  const cluster: JsonObject = {
    name: destination.name,
    type: isIP(upstream.address) ? "STATIC" : "LOGICAL_DNS",
    connect_timeout: millis(params.timeouts.upstreamConnectMs),
    load_assignment: singleEndpoint(destination.name, socketAddress(upstream.address, upstream.port)),
  };
  if (!isIP(upstream.address)) cluster.dns_lookup_family = "V4_PREFERRED";
  if (!upstream.tls) return cluster;

  const serverName = upstream.sni ?? upstream.address;
  cluster.typed_extension_protocol_options = autoHttp();
  if (upstream.spiffeId !== undefined && params.downstreamTls) {
    // A Warden inbound sidecar: mutual SVIDs, the upstream pinned to its SPIFFE ID (not a DNS name).
    cluster.transport_socket = wardenSidecarUpstreamSocket(
      params.downstreamTls,
      upstream.spiffeId,
      serverName,
    );
    return cluster;
  }
  cluster.transport_socket = {
    name: "envoy.transport_sockets.tls",
    typed_config: typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", {
      sni: serverName,
      common_tls_context: {
        alpn_protocols: ["h2", "http/1.1"],
        validation_context: {
          trusted_ca: { filename: params.caBundlePath },
          // Envoy checks the chain, but the name only when told to.
          match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: serverName } }],
        },
      },
    }),
  };
  return cluster;
}

/** h2 or HTTP/1.1, as ALPN settles it. */
function autoHttp(): JsonObject {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      { auto_config: { http2_protocol_options: {}, http_protocol_options: {} } },
    ),
  };
}

function http2Only(): JsonObject {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      { explicit_http_config: { http2_protocol_options: {} } },
    ),
  };
}
