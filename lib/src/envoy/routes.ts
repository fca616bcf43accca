import { isIP } from "node:net";
import { seconds, typed, type JsonObject } from "./config-json.js";
import {
  EXT_AUTHZ_FILTER,
  EXT_PROC_FILTER,
  HEADER_MUTATION_FILTER,
  type DestinationConfig,
  type Inbound,
  type Params,
} from "./params.js";
import { routeRateLimits } from "./rate-limits.js";

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

/**
 * authz-server's 401 challenge at an inbound sidecar travels in this header and becomes
 * `WWW-Authenticate` in the header-mutation filter on the way out: extproc-server removes any
 * WWW-Authenticate it sees (an upstream's challenge is for a credential the agent never holds).
 */
export const CHALLENGE_HEADER = "x-warden-challenge";

/** RFC 9728 §3: where a protected resource publishes its metadata. */
export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/**
 * x-forwarded-client-cert as an outbound sidecar vouches for its agent towards a Warden inbound
 * sidecar: the agent's URI SAN and certificate hash, as Envoy's SANITIZE_SET would write them. Set
 * per route (only towards Warden sidecars: a provider has no business with the agent's identity);
 * the connection manager removes any the agent sent (SANITIZE) before this is written. The URI is
 * the one authz-server verified: a request reaches the upstream only after it allowed it.
 */
export const VOUCHING_XFCC = "Hash=%DOWNSTREAM_PEER_FINGERPRINT_256%;URI=%DOWNSTREAM_PEER_URI_SAN%";

/**
 * The context extension the zero-code listener's routes carry: the bound agent's SPIFFE ID. Only
 * Envoy's configuration writes context extensions (a client cannot), and only that listener's routes
 * have this one; authz-server believes it only when it runs for that agent (WARDEN_ZERO_CODE_AGENT).
 */
export const ZERO_CODE_CONTEXT_KEY = "zero_code_agent";

/**
 * Headers that could look like an identity to someone downstream; the zero-code listener removes
 * any a client sends (authz-server reads none of them: the identity comes from the context extension).
 */
export const ZERO_CODE_IDENTITY_HEADERS: readonly string[] = [
  "x-forwarded-client-cert",
  "x-warden-agent",
  "x-warden-agent-id",
  "x-warden-spiffe-id",
  "x-spiffe-id",
  "x-client-cert",
  "x-ssl-client-cert",
];

/** `zeroCodeAgent`: the route table of the zero-code listener, every route naming that agent. */
export function routeConfig(params: Params, zeroCodeAgent?: string): JsonObject {
  const routes = params.inbound
    ? [...metadataRoutes(params.inbound), destinationRoute(params.destinations[0]!, params, "/")]
    : [
        ...params.destinations.map((d) => destinationRoute(d, params, d.pathPrefix, zeroCodeAgent)),
        unknownRoute(),
      ];
  return {
    name: zeroCodeAgent === undefined ? "agent_routes" : "zero_code_routes",
    request_headers_to_remove: [
      ...AGENT_FORWARDING_HEADERS,
      ...(zeroCodeAgent === undefined ? [] : ZERO_CODE_IDENTITY_HEADERS),
    ],
    virtual_hosts: [{ name: "destinations", domains: ["*"], routes }],
  };
}

/**
 * `match`: the path prefix the route takes, replaced by `/` upstream (an inbound sidecar takes `/`
 * and forwards every path as it is).
 */
function destinationRoute(
  destination: DestinationConfig,
  params: Params,
  match: string,
  zeroCodeAgent?: string,
): JsonObject {
  const mcp = destination.kind === "mcp";
  const towardsWarden = mcp && destination.upstream.spiffeId !== undefined;
  const checkSettings: JsonObject = {
    // authz-server takes the destination from here, never from anything the agent sent.
    context_extensions: {
      service: destination.service,
      kind: destination.kind,
      path_prefix: match,
      // The MCP server behind this route runs its own Warden inbound sidecar (the policy reads it).
      ...(towardsWarden ? { mcp_upstream: "warden" } : {}),
      ...(zeroCodeAgent === undefined ? {} : { [ZERO_CODE_CONTEXT_KEY]: zeroCodeAgent }),
      // The name rate limits' `route` scope matches (authz-server reads it to find the limits).
      ...(params.rateLimit === null ? {} : { route: destination.name }),
    },
  };
  if (destination.authzRequestBody) {
    checkSettings.with_request_body = {
      max_request_bytes: destination.authzRequestBody.maxBytes,
      allow_partial_message: destination.authzRequestBody.allowPartial,
      pack_as_bytes: true,
    };
  }
  const route: JsonObject = {
    name: destination.name,
    match: { prefix: match },
    route: {
      cluster: destination.name,
      ...(match === "/" ? {} : { prefix_rewrite: "/" }),
      host_rewrite_literal: hostHeader(destination),
      // An MCP GET opens a listen stream (SSE) that may stay open and quiet for a long time: no
      // overall limit, only the (longer) MCP idle timeout.
      timeout: seconds(mcp ? 0 : params.timeouts.upstreamRequestS),
      idle_timeout: seconds(mcp ? params.timeouts.mcpStreamIdleS : params.timeouts.streamIdleS),
      ...(params.rateLimit === null ? {} : { rate_limits: routeRateLimits(destination, params) }),
    },
    typed_per_filter_config: {
      [EXT_AUTHZ_FILTER]: typed("envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", {
        check_settings: checkSettings,
      }),
      // ext_proc is off by default (see extProcFilter); every destination route turns it on.
      [EXT_PROC_FILTER]: typed("envoy.config.route.v3.FilterConfig", {
        config: typed("envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute", { overrides: {} }),
      }),
      ...(mcp ? { [HEADER_MUTATION_FILTER]: clientCredentialRemoval(params.inbound !== null) } : {}),
    },
  };
  if (towardsWarden) {
    route.request_headers_to_add = [
      {
        header: { key: "x-forwarded-client-cert", value: VOUCHING_XFCC },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      },
    ];
  }
  return route;
}

/**
 * On MCP routes the client's Authorization header (and, at an inbound sidecar, the vouching
 * x-forwarded-client-cert) is for Warden only: removed after ext_authz has read it and before
 * ext_proc, which may inject the upstream's own credential.
 */
function clientCredentialRemoval(inbound: boolean): JsonObject {
  const remove = inbound ? ["authorization", "x-forwarded-client-cert"] : ["authorization"];
  return typed("envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute", {
    mutations: {
      request_mutations: remove.map((name) => ({ remove: name })),
      ...(inbound ? { response_mutations: challengeMutations() } : {}),
    },
  });
}

/** CHALLENGE_HEADER → WWW-Authenticate (nothing is added when there is no challenge). */
function challengeMutations(): JsonObject[] {
  return [
    {
      append: {
        header: { key: "www-authenticate", value: `%RESP(${CHALLENGE_HEADER})%` },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
        keep_empty_value: false,
      },
    },
    { remove: CHALLENGE_HEADER },
  ];
}

/**
 * RFC 9728 protected-resource metadata, answered by Envoy itself (no policy: it is public), at the
 * well-known path and, for a resource URI with a path, at the path-suffixed form clients derive.
 */
export function protectedResourceMetadata(inbound: Inbound): JsonObject {
  return {
    resource: inbound.resourceUri,
    authorization_servers: [...inbound.authorizationServers],
    bearer_methods_supported: ["header"],
    resource_name: inbound.resourceName ?? inbound.server,
  };
}

/** Where clients look for the metadata of `resourceUri` (RFC 9728 §3.1), absolute. */
export function protectedResourceMetadataUrl(resourceUri: string): string {
  const url = new URL(resourceUri);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_METADATA_PATH}${path}`;
}

function metadataRoutes(inbound: Inbound): JsonObject[] {
  const body = JSON.stringify(protectedResourceMetadata(inbound));
  const suffix = new URL(inbound.resourceUri).pathname;
  const paths = [PROTECTED_RESOURCE_METADATA_PATH];
  if (suffix !== "/") paths.push(`${PROTECTED_RESOURCE_METADATA_PATH}${suffix}`);
  return paths.map((path, index) => ({
    name: `protected-resource-metadata-${index}`,
    match: { path },
    direct_response: { status: 200, body: { inline_string: body } },
    response_headers_to_add: [
      {
        header: { key: "content-type", value: "application/json" },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      },
      { header: { key: "cache-control", value: "max-age=300" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ],
    typed_per_filter_config: withoutFilters(),
  }));
}

function withoutFilters(): JsonObject {
  return {
    [EXT_AUTHZ_FILTER]: typed("envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", {
      disabled: true,
    }),
    [EXT_PROC_FILTER]: typed("envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute", {
      disabled: true,
    }),
  };
}

/** Anything that matches no destination is answered here, without asking ext_authz or ext_proc. */
function unknownRoute(): JsonObject {
  return {
    name: "unknown",
    match: { prefix: "/" },
    // The JSON body comes from the local reply mapper (it names the path, without the query).
    direct_response: { status: 404 },
    typed_per_filter_config: withoutFilters(),
  };
}

function hostHeader(destination: DestinationConfig): string {
  const { upstream } = destination;
  if (upstream.hostHeader) return upstream.hostHeader;
  const host = isIP(upstream.address) === 6 ? `[${upstream.address}]` : upstream.address;
  return upstream.port === (upstream.tls ? 443 : 80) ? host : `${host}:${upstream.port}`;
}
