import { millis, typed, type JsonObject } from "./config-json.js";
import {
  AUTHZ_CLUSTER,
  EXT_AUTHZ_FILTER,
  EXT_AUTHZ_NAMESPACE,
  EXT_PROC_FILTER,
  EXTPROC_CLUSTER,
  HEADER_MUTATION_FILTER,
  type Params,
} from "./params.js";

export function extAuthzFilter(params: Params): JsonObject {
  return {
    name: EXT_AUTHZ_FILTER,
    typed_config: typed("envoy.extensions.filters.http.ext_authz.v3.ExtAuthz", {
      grpc_service: { envoy_grpc: { cluster_name: AUTHZ_CLUSTER }, timeout: millis(params.timeouts.authzMs) },
      transport_api_version: "V3",
      // Fail closed: no answer from authz-server, no request.
      failure_mode_allow: false,
      status_on_error: { code: 503 },
      include_peer_certificate: true,
      // No with_request_body here: the body goes to authz-server only where a route asks for it.
    }),
  };
}

export function extProcFilter(params: Params): JsonObject {
  return {
    name: EXT_PROC_FILTER,
    // Off unless the matched route turns it on. Envoy runs every local reply through ext_proc's
    // response path, and when it answers a request it could not parse (oversized headers, bytes
    // that are not HTTP) it closes the connection before ext_proc has answered: the agent would get
    // no response at all instead of a 4xx. Requests without a route never get ext_proc this way.
    disabled: true,
    typed_config: typed("envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor", {
      grpc_service: { envoy_grpc: { cluster_name: EXTPROC_CLUSTER } },
      failure_mode_allow: false,
      status_on_error: { code: 503 },
      message_timeout: millis(params.timeouts.extprocMessageMs),
      // Headers both ways, bodies never by default; extproc-server switches a streaming response
      // to STREAMED with mode_override, so plain responses pay no body round trip.
      processing_mode: {
        request_header_mode: "SEND",
        response_header_mode: "SEND",
        request_body_mode: "NONE",
        response_body_mode: "NONE",
        request_trailer_mode: "SKIP",
        response_trailer_mode: "SKIP",
      },
      allow_mode_override: true,
      metadata_options: { forwarding_namespaces: { untyped: [EXT_AUTHZ_NAMESPACE] } },
    }),
  };
}

export function routerFilter(): JsonObject {
  return {
    name: "envoy.filters.http.router",
    // No x-envoy-* headers towards providers, none back to the agent.
    typed_config: typed("envoy.extensions.filters.http.router.v3.Router", { suppress_envoy_headers: true }),
  };
}

/**
 * Between ext_authz and ext_proc: does nothing by default; MCP routes remove the client's own
 * credentials here (routes.ts), once ext_authz has read them and before ext_proc may inject one.
 */
export function headerMutationFilter(): JsonObject {
  return {
    name: HEADER_MUTATION_FILTER,
    typed_config: typed("envoy.extensions.filters.http.header_mutation.v3.HeaderMutation", {
      mutations: {},
    }),
  };
}
