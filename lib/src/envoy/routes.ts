import { isIP } from "node:net";
import { seconds, typed, type JsonObject } from "./config-json.js";
import { EXT_AUTHZ_FILTER, EXT_PROC_FILTER, type DestinationConfig, type Params } from "./params.js";

/**
 * Forwarding headers an agent could send to pose as another client or host. The agent is the edge
 * (use_remote_address, no XFF appended), so no such header upstream can be true: none is forwarded.
 * Envoy's note of the agent's address is for us, not for providers.
 */
export const AGENT_FORWARDING_HEADERS: readonly string[] = [
  "x-envoy-external-address",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-server",
  "forwarded",
  "x-real-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-original-forwarded-for",
  "x-original-host",
  "x-original-url",
  "x-rewrite-url",
];

export function routeConfig(params: Params): JsonObject {
  return {
    name: "agent_routes",
    request_headers_to_remove: [...AGENT_FORWARDING_HEADERS],
    virtual_hosts: [
      {
        name: "destinations",
        domains: ["*"],
        routes: [...params.destinations.map((d) => destinationRoute(d, params)), unknownRoute()],
      },
    ],
  };
}

function destinationRoute(destination: DestinationConfig, params: Params): JsonObject {
  const checkSettings: JsonObject = {
    // authz-server takes the destination from here, never from anything the agent sent.
    context_extensions: {
      service: destination.service,
      kind: destination.kind,
      path_prefix: destination.pathPrefix,
    },
  };
  if (destination.authzRequestBody) {
    checkSettings.with_request_body = {
      max_request_bytes: destination.authzRequestBody.maxBytes,
      allow_partial_message: destination.authzRequestBody.allowPartial,
      pack_as_bytes: true,
    };
  }
  return {
    name: destination.name,
    match: { prefix: destination.pathPrefix },
    route: {
      cluster: destination.name,
      prefix_rewrite: "/",
      host_rewrite_literal: hostHeader(destination),
      timeout: seconds(params.timeouts.upstreamRequestS),
      idle_timeout: seconds(params.timeouts.streamIdleS),
    },
    typed_per_filter_config: {
      [EXT_AUTHZ_FILTER]: typed("envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", {
        check_settings: checkSettings,
      }),
      // ext_proc is off by default (see extProcFilter); every destination route turns it on.
      [EXT_PROC_FILTER]: typed("envoy.config.route.v3.FilterConfig", {
        config: typed("envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute", { overrides: {} }),
      }),
    },
  };
}

/** Anything that matches no destination is answered here, without asking ext_authz or ext_proc. */
function unknownRoute(): JsonObject {
  return {
    name: "unknown",
    match: { prefix: "/" },
    // The JSON body comes from the local reply mapper (it names the path, without the query).
    direct_response: { status: 404 },
    typed_per_filter_config: {
      [EXT_AUTHZ_FILTER]: typed("envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", {
        disabled: true,
      }),
      [EXT_PROC_FILTER]: typed("envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute", {
        disabled: true,
      }),
    },
  };
}

function hostHeader(destination: DestinationConfig): string {
  const { upstream } = destination;
  if (upstream.hostHeader) return upstream.hostHeader;
  const host = isIP(upstream.address) === 6 ? `[${upstream.address}]` : upstream.address;
  return upstream.port === (upstream.tls ? 443 : 80) ? host : `${host}:${upstream.port}`;
}
