import { isIP } from "node:net";
import { stringify } from "yaml";
import { z } from "zod";
import { agentErrorBody, errorDialectOf, type ErrorDialect } from "../llm/error-shapes.js";
import { DECISION_ID_HEADER, EXT_AUTHZ_NAMESPACE } from "../handoff/contract.js";

/**
 * Renders the Envoy sidecar bootstrap; envoy/README.md explains every part. Pure: validated
 * parameters in, YAML out. Tests, the demo and operators all render through this one function, so
 * what the tests run is what production runs.
 */

export const AUTHZ_CLUSTER = "warden_authz";
export const EXTPROC_CLUSTER = "warden_extproc";
export const SPIRE_AGENT_CLUSTER = "spire_agent";
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  AUTHZ_CLUSTER,
  EXTPROC_CLUSTER,
  SPIRE_AGENT_CLUSTER,
  "unknown",
]);

/** ext_authz writes its dynamic metadata here, and ext_proc receives this namespace. */
export { EXT_AUTHZ_NAMESPACE };
const EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";
const EXT_PROC_FILTER = "envoy.filters.http.ext_proc";

export const DESTINATION_KINDS = ["llm", "saas", "tool", "mcp"] as const;

// ---------------------------------------------------------------------------------------------
// Parameters

const isLoopback = (address: string): boolean =>
  address === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);

const port = z.number().int().min(1).max(65535);
const hostOrIp = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9.:-]+$/, "must be a host name or an IP address");
const endpointSchema = z.object({ address: hostOrIp, port });
/** Envoy binds listeners to IP addresses only. */
const listenIp = z.string().ip();

export const destinationSchema = z.object({
  /** Envoy route and cluster name. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, '-' and '_'"),
  /** `destination.service` in the policy input (sent to ext_authz as a context extension). */
  service: z.string().min(1),
  kind: z.enum(DESTINATION_KINDS),
  /** The agent's base URL path, e.g. `/openai/`; replaced by `/` before the request goes upstream. */
  pathPrefix: z.string().regex(/^\/([a-z0-9._-]+\/)+$/, "like /openai/ or /mcp/<name>/ (ends with /)"),
  upstream: z.object({
    address: hostOrIp,
    port,
    /** TLS to the upstream (production); plain HTTP only for stubs on loopback in tests. */
    tls: z.boolean(),
    /** TLS server name, also the DNS SAN the upstream certificate must carry; defaults to `address`. */
    sni: hostOrIp.optional(),
    /** Host header sent upstream; defaults to `address` (with `:port` unless the scheme's default). */
    hostHeader: hostOrIp.optional(),
  }),
  /** Send the request body to ext_authz (LLM model or MCP method checks); off unless set. */
  authzRequestBody: z
    .object({ maxBytes: z.number().int().positive(), allowPartial: z.boolean().default(false) })
    .optional(),
});

const downstreamTlsSchema = z.object({
  /** The SPIRE agent's Workload API socket, which also serves SDS. */
  spireAgentSocket: z.string().min(1),
  /** SDS name of Envoy's own X.509-SVID, e.g. `spiffe://warden.local/warden/envoy`. */
  svidName: z.string().startsWith("spiffe://"),
  /** SDS name of the bundle agents' certificates must chain to, e.g. `spiffe://warden.local`. */
  trustBundleName: z.string().startsWith("spiffe://"),
});

/** mTLS from Envoy to our gRPC servers: Envoy's SVID (from downstreamTls) and each server's SPIFFE ID. */
const serverIdentitiesSchema = z.object({
  authz: z.string().startsWith("spiffe://"),
  extproc: z.string().startsWith("spiffe://"),
});

const timeoutsSchema = z.object({
  authzMs: z.number().int().positive().default(250),
  extprocMessageMs: z.number().int().positive().default(1000),
  upstreamConnectMs: z.number().int().positive().default(5000),
  /** The whole upstream exchange; completions can run for minutes. 0 disables. */
  upstreamRequestS: z.number().int().min(0).default(600),
  /** No bytes either way for this long ends a stream (this is what bounds a stalled SSE stream). */
  streamIdleS: z.number().int().positive().default(300),
  requestHeadersS: z.number().int().positive().default(10),
});

export const sidecarParamsSchema = z
  .object({
    nodeId: z.string().min(1).default("warden-sidecar"),
    nodeCluster: z.string().min(1).default("warden"),
    agentListener: z.object({ address: listenIp.default("127.0.0.1"), port }),
    admin: z.object({
      address: listenIp
        .default("127.0.0.1")
        .refine(isLoopback, "the admin interface listens on loopback only"),
      port,
    }),
    authz: endpointSchema,
    extproc: endpointSchema,
    destinations: z.array(destinationSchema).min(1),
    /** A file for the JSON access log; null writes it to Envoy's stdout (containers). */
    accessLogPath: z.string().startsWith("/").nullable().default(null),
    /** CA bundle for upstream TLS. */
    caBundlePath: z.string().min(1).default("/etc/ssl/certs/ca-certificates.crt"),
    timeouts: timeoutsSchema.default({}),
    maxRequestHeadersKb: z.number().int().min(1).max(8192).default(60),
    maxDownstreamConnections: z.number().int().positive().default(1024),
    /** mTLS from agents with SPIRE SVIDs over SDS (issue 3). Null: plain HTTP, loopback only. */
    downstreamTls: downstreamTlsSchema.nullable().default(null),
    /** mTLS to authz-server and extproc-server with SVIDs (needs downstreamTls: same SDS source). */
    serverIdentities: serverIdentitiesSchema.nullable().default(null),
  })
  .superRefine((params, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
    if (params.downstreamTls === null && !isLoopback(params.agentListener.address)) {
      issue(
        ["agentListener", "address"],
        "a plain-HTTP agent listener must be on loopback; set downstreamTls",
      );
    }
    if (params.serverIdentities !== null && params.downstreamTls === null) {
      issue(["serverIdentities"], "mTLS to our servers takes Envoy's SVID from downstreamTls; set it");
    }
    const names = new Set<string>();
    const prefixes = new Set<string>();
    for (const [index, destination] of params.destinations.entries()) {
      if (RESERVED_NAMES.has(destination.name)) issue(["destinations", index, "name"], "reserved name");
      if (names.has(destination.name)) issue(["destinations", index, "name"], "duplicate name");
      if (prefixes.has(destination.pathPrefix))
        issue(["destinations", index, "pathPrefix"], "duplicate prefix");
      names.add(destination.name);
      prefixes.add(destination.pathPrefix);
    }
  });

export type Destination = z.input<typeof destinationSchema>;
export type SidecarParams = z.input<typeof sidecarParamsSchema>;
type Params = z.output<typeof sidecarParamsSchema>;
type DestinationConfig = z.output<typeof destinationSchema>;
type Endpoint = z.output<typeof endpointSchema>;

// ---------------------------------------------------------------------------------------------
// Destinations

/**
 * What LLM and MCP routes send ext_authz: the request body, which names the model (or the MCP
 * method and tool) the policy checks.
 * A larger body is refused (413) rather than checked on a part; 1 MiB stays well inside
 * authz-server's 4 MiB gRPC message limit.
 */
export const AUTHZ_REQUEST_BODY = { maxBytes: 1024 * 1024, allowPartial: false } as const;

/** The public providers and their API hosts. Azure OpenAI and MCP servers are per deployment. */
export function providerDestinations(): Destination[] {
  const provider = (name: string, kind: "llm" | "saas", host: string): Destination => ({
    name,
    service: name,
    kind,
    pathPrefix: `/${name}/`,
    upstream: { address: host, port: 443, tls: true },
    ...(kind === "llm" ? { authzRequestBody: { ...AUTHZ_REQUEST_BODY } } : {}),
  });
  return [
    provider("openai", "llm", "api.openai.com"),
    provider("anthropic", "llm", "api.anthropic.com"),
    provider("google-ai", "llm", "generativelanguage.googleapis.com"),
    provider("google-drive", "saas", "www.googleapis.com"),
    provider("github", "saas", "api.github.com"),
    provider("microsoft-365", "saas", "graph.microsoft.com"),
  ];
}

/** Salesforce lives on a per-org instance host, e.g. `acme.my.salesforce.com`. */
export function salesforceDestination(instanceHost: string): Destination {
  return {
    name: "salesforce",
    service: "salesforce",
    kind: "saas",
    pathPrefix: "/salesforce/",
    upstream: { address: instanceHost, port: 443, tls: true },
  };
}

/** Azure OpenAI lives on a per-customer resource host, e.g. `myresource.openai.azure.com`. */
export function azureOpenAiDestination(resourceHost: string): Destination {
  return {
    name: "azure-openai",
    service: "azure-openai",
    kind: "llm",
    pathPrefix: "/azure-openai/",
    upstream: { address: resourceHost, port: 443, tls: true },
    authzRequestBody: { ...AUTHZ_REQUEST_BODY },
  };
}

/** An MCP server reached at `/mcp/<name>/`; `destination.service` is its name. */
export function mcpDestination(name: string, upstream: Destination["upstream"]): Destination {
  return {
    name: `mcp-${name}`,
    service: name,
    kind: "mcp",
    pathPrefix: `/mcp/${name}/`,
    upstream,
    // JSON-RPC: the policy checks the method and the tool.
    authzRequestBody: { ...AUTHZ_REQUEST_BODY },
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

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
      listeners: [agentListener(params)],
      clusters: [
        grpcServiceCluster(AUTHZ_CLUSTER, params.authz, params, params.serverIdentities?.authz),
        grpcServiceCluster(EXTPROC_CLUSTER, params.extproc, params, params.serverIdentities?.extproc),
        ...(params.downstreamTls ? [spireAgentCluster(params.downstreamTls.spireAgentSocket)] : []),
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

// --- listener -----------------------------------------------------------------------------------

function agentListener(params: Params): JsonObject {
  const filterChain: JsonObject = {
    filters: [
      { name: "envoy.filters.network.http_connection_manager", typed_config: httpConnectionManager(params) },
    ],
  };
  // Issue 3: agents connect with mTLS and their X.509-SVID.
  if (params.downstreamTls) filterChain.transport_socket = downstreamTlsSocket(params.downstreamTls);
  return {
    name: "agent",
    address: socketAddress(params.agentListener.address, params.agentListener.port),
    filter_chains: [filterChain],
  };
}

function httpConnectionManager(params: Params): JsonObject {
  const t = params.timeouts;
  return typed("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", {
    stat_prefix: "agent",
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
    forward_client_cert_details: "SANITIZE",
    access_log: [accessLog(params.accessLogPath)],
    route_config: routeConfig(params),
    http_filters: [extAuthzFilter(params), extProcFilter(params), routerFilter()],
    local_reply_config: localReplyConfig(params),
  });
}

// --- routes -------------------------------------------------------------------------------------

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

function routeConfig(params: Params): JsonObject {
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

// --- HTTP filters -------------------------------------------------------------------------------

function extAuthzFilter(params: Params): JsonObject {
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

function extProcFilter(params: Params): JsonObject {
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

function routerFilter(): JsonObject {
  return {
    name: "envoy.filters.http.router",
    // No x-envoy-* headers towards providers, none back to the agent.
    typed_config: typed("envoy.extensions.filters.http.router.v3.Router", { suppress_envoy_headers: true }),
  };
}

// --- Envoy's own errors as JSON -----------------------------------------------------------------

/**
 * Envoy's own error responses become the JSON error body of the brief. Replies that carry our
 * servers' own JSON pass through untouched (there is no top-level body_format, and every mapper
 * requires this): an ext_authz denial, whose body authz-server always writes, and any local reply
 * that already has content-type application/json (an ext_proc immediate response).
 */
const NOT_OURS =
  "response.code_details != 'ext_authz_denied' && " +
  "!('content-type' in response.headers && response.headers['content-type'].startsWith('application/json'))";

interface ErrorMapping {
  when: string;
  /** Replaces Envoy's status. */
  status?: number;
  code: string;
  message: string;
}

const ERROR_MAPPINGS: ErrorMapping[] = [
  {
    when: "response.code_details == 'ext_authz_error'",
    status: 503,
    code: "unavailable",
    message: "authorization service unavailable",
  },
  {
    when: "response.code_details.startsWith('ext_proc_error')",
    status: 503,
    code: "unavailable",
    message: "request processing service unavailable",
  },
  {
    when: "response.code_details == 'direct_response' && response.code == 404",
    code: "not_found",
    message: "no route for %REQ_WITHOUT_QUERY(:PATH)%",
  },
  { when: "response.code == 400", code: "bad_request", message: "bad request" },
  { when: "response.code == 404", code: "not_found", message: "not found" },
  { when: "response.code == 408", code: "bad_request", message: "request timed out" },
  { when: "response.code == 413", code: "payload_too_large", message: "request too large" },
  { when: "response.code == 431", code: "bad_request", message: "request headers too large" },
  { when: "response.code == 429", code: "rate_limited", message: "too many requests" },
  { when: "response.code == 502", code: "upstream_unavailable", message: "upstream unavailable" },
  { when: "response.code == 503", code: "unavailable", message: "upstream unavailable" },
  { when: "response.code == 504", code: "upstream_unavailable", message: "upstream timed out" },
  { when: "response.code >= 500", code: "internal", message: "internal error" },
  { when: "response.code >= 400", code: "bad_request", message: "request refused" },
];

/** Query strings can carry keys (Google AI accepts `?key=`): paths are logged and echoed without. */
const REQ_WITHOUT_QUERY: JsonObject = {
  name: "envoy.formatter.req_without_query",
  typed_config: typed("envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery", {}),
};

const DECISION_ID = `%DYNAMIC_METADATA(${EXT_AUTHZ_NAMESPACE}:decision_id)%`;

/** The status a mapping answers with, for the error type its body names (catch-alls: 500 / 400). */
function mappingStatus(mapping: ErrorMapping): number {
  return mapping.status ?? Number(/response\.code [=>]= (\d+)/.exec(mapping.when)?.[1] ?? 500);
}

/** json_format takes strings, numbers and structs only: a null (OpenAI's `param`) is left out. */
function withoutNulls(value: unknown): Json {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== "object" || value === null) return value as Json;
  const out: JsonObject = {};
  for (const [key, field] of Object.entries(value)) if (field !== null) out[key] = withoutNulls(field);
  return out;
}

/**
 * On LLM routes Envoy's own errors take the provider's error shape too (lib/src/llm/error-shapes.ts),
 * so a 504 reaches the agent's SDK like one from the provider: a mapper per dialect, chosen by the
 * route's name (`xds.route_name`; a reply without a route falls through to Warden's shape).
 */
function localReplyConfig(params: Params): JsonObject {
  const routesByDialect = new Map<ErrorDialect, string[]>();
  for (const destination of params.destinations) {
    const dialect = errorDialectOf(destination.service, destination.kind);
    if (dialect !== "warden")
      routesByDialect.set(dialect, [...(routesByDialect.get(dialect) ?? []), destination.name]);
  }
  const mappers: JsonObject[] = [];
  for (const mapping of ERROR_MAPPINGS) {
    for (const [dialect, routes] of routesByDialect) {
      const names = routes.map((name) => `'${name}'`).join(", ");
      mappers.push(localReplyMapper(mapping, dialect, `xds.route_name in [${names}] && (${mapping.when})`));
    }
    mappers.push(localReplyMapper(mapping, "warden", mapping.when));
  }
  return { mappers };
}

function localReplyMapper(mapping: ErrorMapping, dialect: ErrorDialect, when: string): JsonObject {
  const mapper: JsonObject = {
    filter: celFilter(`${NOT_OURS} && (${when})`),
    body_format_override: {
      // decision_id: null until ext_authz has decided (a missing value renders as JSON null).
      json_format: withoutNulls(
        agentErrorBody(dialect, mappingStatus(mapping), mapping.code, mapping.message, DECISION_ID),
      ),
      content_type: "application/json",
      formatters: [REQ_WITHOUT_QUERY],
    },
    // The agent quotes this id to an operator; it is the same one the body carries.
    headers_to_add: [
      {
        header: { key: DECISION_ID_HEADER, value: DECISION_ID },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      },
    ],
  };
  if (mapping.status !== undefined) mapper.status_code = mapping.status;
  return mapper;
}

function celFilter(expression: string): JsonObject {
  return {
    extension_filter: {
      name: "envoy.access_loggers.extension_filters.cel",
      typed_config: typed("envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter", { expression }),
    },
  };
}

// --- access log ---------------------------------------------------------------------------------

/** Timing and decision; never a header that can carry a credential, never the query string. */
export const ACCESS_LOG_FORMAT: Readonly<Record<string, string>> = {
  start_time: "%START_TIME%",
  request_id: "%REQ(X-REQUEST-ID)%",
  decision_id: `%DYNAMIC_METADATA(${EXT_AUTHZ_NAMESPACE}:decision_id)%`,
  // The identity authz-server verified (allowed requests), never the URI SAN a client merely presented:
  // the agent listener lets unverified certificates through the handshake (see downstreamTlsSocket).
  agent: `%DYNAMIC_METADATA(${EXT_AUTHZ_NAMESPACE}:agent_spiffe_id)%`,
  method: "%REQ(:METHOD)%",
  // As sent upstream (the route's prefix removed); `route` names the destination.
  path: "%REQ_WITHOUT_QUERY(:PATH)%",
  protocol: "%PROTOCOL%",
  route: "%ROUTE_NAME%",
  status: "%RESPONSE_CODE%",
  response_code_details: "%RESPONSE_CODE_DETAILS%",
  response_flags: "%RESPONSE_FLAGS%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
  duration_ms: "%DURATION%",
  request_duration_ms: "%REQUEST_DURATION%",
  response_duration_ms: "%RESPONSE_DURATION%",
  response_tx_duration_ms: "%RESPONSE_TX_DURATION%",
  upstream_cluster: "%UPSTREAM_CLUSTER%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_transport_failure: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  user_agent: "%REQ(USER-AGENT)%",
};

function accessLog(path: string | null): JsonObject {
  const log_format = { json_format: { ...ACCESS_LOG_FORMAT }, formatters: [REQ_WITHOUT_QUERY] };
  // Envoy's own stdout, not /dev/stdout: that cannot be opened when stdout is a socket.
  if (path === null) {
    return {
      name: "envoy.access_loggers.stdout",
      typed_config: typed("envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", { log_format }),
    };
  }
  return {
    name: "envoy.access_loggers.file",
    typed_config: typed("envoy.extensions.access_loggers.file.v3.FileAccessLog", { path, log_format }),
  };
}

// --- clusters -----------------------------------------------------------------------------------

function grpcServiceCluster(
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

/**
 * Envoy → authz-server / extproc-server: Envoy presents its own SVID, and accepts the server only if
 * its certificate chains to the SPIRE bundle and carries the server's SPIFFE ID (the chain alone
 * would accept any workload of the trust domain).
 */
function serverMtlsSocket(tls: z.output<typeof downstreamTlsSchema>, serverSpiffeId: string): JsonObject {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: typed("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", {
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        // grpc-js (Node's HTTP/2 server) only talks to clients that negotiate h2.
        alpn_protocols: ["h2"],
        tls_certificate_sds_secret_configs: [sdsFromSpireAgent(tls.svidName)],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [{ san_type: "URI", matcher: { exact: serverSpiffeId } }],
          },
          validation_context_sds_secret_config: sdsFromSpireAgent(tls.trustBundleName),
        },
      },
    }),
  };
}

function spireAgentCluster(socketPath: string): JsonObject {
  return {
    name: SPIRE_AGENT_CLUSTER,
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: http2Only(),
    load_assignment: singleEndpoint(SPIRE_AGENT_CLUSTER, { pipe: { path: socketPath } }),
  };
}

function upstreamCluster(destination: DestinationConfig, params: Params): JsonObject {
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
  cluster.typed_extension_protocol_options = {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      { auto_config: { http2_protocol_options: {}, http_protocol_options: {} } },
    ),
  };
  return cluster;
}

function http2Only(): JsonObject {
  return {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": typed(
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
      { explicit_http_config: { http2_protocol_options: {} } },
    ),
  };
}

// --- downstream mTLS (issue 3) ------------------------------------------------------------------

/**
 * Envoy asks every agent for its X.509-SVID (the SPIRE bundle over SDS makes it send a certificate
 * request) but lets the handshake complete whatever comes back, or nothing: a refusal at the TLS layer
 * would reach the agent as a handshake error, where the product promises a 401 JSON that says why.
 * authz-server does the verification instead (chain to its own Workload API bundles, validity, one
 * SPIFFE URI SAN, trust domain) on the certificate ext_authz forwards, fail-closed, and every route that
 * reaches an upstream runs ext_authz (the catch-all 404 answers locally, reaching nothing).
 */
function downstreamTlsSocket(tls: z.output<typeof downstreamTlsSchema>): JsonObject {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: typed("envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext", {
      require_client_certificate: false,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        alpn_protocols: ["h2", "http/1.1"],
        tls_certificate_sds_secret_configs: [sdsFromSpireAgent(tls.svidName)],
        combined_validation_context: {
          default_validation_context: { trust_chain_verification: "ACCEPT_UNTRUSTED" },
          validation_context_sds_secret_config: sdsFromSpireAgent(tls.trustBundleName),
        },
      },
    }),
  };
}

/**
 * The SPIRE agent answers an Envoy ≥ 1.18 with its SPIFFE certificate validator
 * (`envoy.tls.cert_validator.spiffe`) unless the Envoy's node metadata opts out. That validator
 * demands a client certificate and ignores `trust_chain_verification`, so the agent listener could not
 * let an unverified caller through to its 401 (checked with SPIRE 1.13 and Envoy 1.40). With the opt-out
 * SPIRE sends the bundle as `trusted_ca`, and Envoy's default validator applies our settings; the
 * clusters to our servers still check the chain and pin the exact SPIFFE ID (serverMtlsSocket).
 */
const SPIRE_SDS_NODE_METADATA: Readonly<JsonObject> = { disable_spiffe_cert_validation: true };

function sdsFromSpireAgent(name: string): JsonObject {
  return {
    name,
    sds_config: {
      resource_api_version: "V3",
      api_config_source: {
        api_type: "GRPC",
        transport_api_version: "V3",
        grpc_services: [{ envoy_grpc: { cluster_name: SPIRE_AGENT_CLUSTER } }],
      },
    },
  };
}

// --- small helpers ------------------------------------------------------------------------------

function typed(type: string, fields: JsonObject): JsonObject {
  return { "@type": `type.googleapis.com/${type}`, ...fields };
}

function socketAddress(address: string, portValue: number): JsonObject {
  return { socket_address: { address, port_value: portValue } };
}

function singleEndpoint(clusterName: string, address: JsonObject): JsonObject {
  return { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] };
}

function seconds(s: number): string {
  return `${s}s`;
}

function millis(ms: number): string {
  return `${ms / 1000}s`;
}
