import { z } from "zod";
import { EXT_AUTHZ_NAMESPACE } from "../handoff/contract.js";

/** The sidecar's parameters, validated: names shared by every part of the bootstrap, and the schemas. */

export const AUTHZ_CLUSTER = "warden_authz";
export const EXTPROC_CLUSTER = "warden_extproc";
export const SPIRE_AGENT_CLUSTER = "spire_agent";
export const RATELIMIT_CLUSTER = "warden_ratelimit";
export const OTLP_CLUSTER = "warden_otlp";
const RESERVED_NAMES: ReadonlySet<string> = new Set([
  AUTHZ_CLUSTER,
  OTLP_CLUSTER,
  EXTPROC_CLUSTER,
  RATELIMIT_CLUSTER,
  SPIRE_AGENT_CLUSTER,
  "unknown",
]);

/** ext_authz writes its dynamic metadata here, and ext_proc receives this namespace. */
export { EXT_AUTHZ_NAMESPACE };
export const EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";
export const EXT_PROC_FILTER = "envoy.filters.http.ext_proc";
export const HEADER_MUTATION_FILTER = "envoy.filters.http.header_mutation";

export const DESTINATION_KINDS = ["llm", "saas", "tool", "mcp"] as const;

const isLoopback = (address: string): boolean =>
  address === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);

const port = z.number().int().min(1).max(65535);
const hostOrIp = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9.:-]+$/, "must be a host name or an IP address");
export const endpointSchema = z.object({ address: hostOrIp, port });
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
    /**
     * The upstream is a Warden inbound sidecar holding this SVID (an MCP server's,
     * `spiffe://<td>/mcp/<name>`): the sidecar presents its own SVID, accepts the upstream only with
     * this URI SAN on a certificate that chains to the SPIRE bundle, and vouches for the agent in
     * x-forwarded-client-cert. Needs `tls` and `downstreamTls` (the SDS source).
     */
    spiffeId: z.string().startsWith("spiffe://").optional(),
  }),
  /** Send the request body to ext_authz (LLM model or MCP method checks); off unless set. */
  authzRequestBody: z
    .object({ maxBytes: z.number().int().positive(), allowPartial: z.boolean().default(false) })
    .optional(),
});

export const downstreamTlsSchema = z.object({
  /** The SPIRE agent's Workload API socket, which also serves SDS. */
  spireAgentSocket: z.string().min(1),
  /** SDS name of Envoy's own X.509-SVID, e.g. `spiffe://warden.local/warden/envoy`. */
  svidName: z.string().startsWith("spiffe://"),
  /** SDS name of the bundle agents' certificates must chain to, e.g. `spiffe://warden.local`. */
  trustBundleName: z.string().startsWith("spiffe://"),
});

/**
 * The sidecar as an MCP server's inbound sidecar: the listener presents the server's SVID
 * (`downstreamTls.svidName`), every request goes to the one MCP destination (path unchanged), and the
 * RFC 9728 protected-resource metadata is served at `/.well-known/oauth-protected-resource` (and
 * its path-suffixed form). Callers: agents' SVIDs, trusted Warden sidecars vouching for an agent
 * through x-forwarded-client-cert, or a bearer token whose audience is `resourceUri` (authz-server
 * decides which, WARDEN_INBOUND_*).
 */
export const inboundSchema = z.object({
  /** The MCP server's registered name. */
  server: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "lower-case letters, digits and '-'"),
  /** Its resource URI (RFC 8707): the audience of bearer tokens, the metadata's `resource`. */
  resourceUri: z
    .string()
    .url()
    .refine((u) => /^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(u), "an http(s) URL without query or fragment"),
  /** Issuers of the tokens it accepts (Warden's token service), the metadata's `authorization_servers`. */
  authorizationServers: z.array(z.string().url()).min(1),
  /** Shown to people (RFC 9728 `resource_name`); defaults to the server's name. */
  resourceName: z.string().min(1).max(200).optional(),
});

/**
 * Zero-code mode (docs/zero-code.md): one more listener, plain HTTP on loopback, serving ONE agent
 * whose SVID this sidecar holds (`downstreamTls.svidName` is the agent's SPIFFE ID, over SDS). Its
 * routes tell authz-server, in a context extension only Envoy's configuration writes, that the caller
 * is `agentSpiffeId`; nothing the client sends names an identity there.
 */
export const zeroCodeSchema = z.object({
  address: listenIp
    .default("127.0.0.1")
    .refine(isLoopback, "the zero-code listener listens on loopback only"),
  port,
  agentSpiffeId: z.string().regex(/^spiffe:\/\/[a-z0-9._-]+\/agent\/[^/]+$/, "spiffe://<td>/agent/<name>"),
});

/** mTLS from Envoy to our gRPC servers: Envoy's SVID (from downstreamTls) and each server's SPIFFE ID. */
const serverIdentitiesSchema = z.object({
  authz: z.string().startsWith("spiffe://"),
  extproc: z.string().startsWith("spiffe://"),
});

/** OpenTelemetry tracing (tracing.ts): the OTLP/gRPC collector Envoy sends its spans to. */
export const tracingSchema = z.object({
  collector: endpointSchema,
  serviceName: z.string().min(1).default("envoy"),
  /** Share of requests traced (Envoy's random sampling); an agent's sampled traceparent is kept. */
  samplingPercent: z.number().min(0).max(100).default(100),
});

const timeoutsSchema = z.object({
  authzMs: z.number().int().positive().default(250),
  extprocMessageMs: z.number().int().positive().default(1000),
  upstreamConnectMs: z.number().int().positive().default(5000),
  /** The whole upstream exchange; completions can run for minutes. 0 disables. */
  upstreamRequestS: z.number().int().min(0).default(600),
  /** No bytes either way for this long ends a stream (this is what bounds a stalled SSE stream). */
  streamIdleS: z.number().int().positive().default(300),
  /** The same on MCP routes, where a GET listen stream (SSE) may wait long for a server message. */
  mcpStreamIdleS: z.number().int().positive().default(3600),
  requestHeadersS: z.number().int().positive().default(10),
});

/** Shared limits through envoyproxy/ratelimit (docs/rate-limits.md). */
export const rateLimitSchema = z.object({
  /** The rate-limit service's gRPC endpoint (plaintext h2: keep it on loopback or a private network). */
  service: endpointSchema,
  /** How long a request waits for the service's answer before its failure mode applies. */
  timeoutMs: z.number().int().positive().default(100),
});

/** The per-sidecar token bucket, shared by every request through this sidecar. */
export const localRateLimitSchema = z.object({
  requestsPerMinute: z.number().int().min(60),
  /** Bucket size; defaults to one second's refill. */
  burst: z.number().int().positive().optional(),
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
    /** mTLS from agents with SPIRE SVIDs over SDS. Null: plain HTTP, loopback only. */
    downstreamTls: downstreamTlsSchema.nullable().default(null),
    /** mTLS to authz-server and extproc-server with SVIDs (needs downstreamTls: same SDS source). */
    serverIdentities: serverIdentitiesSchema.nullable().default(null),
    /** Inbound sidecar of one MCP server (see inboundSchema); null: the agent's outbound sidecar. */
    inbound: inboundSchema.nullable().default(null),
    /** Zero-code listener for one agent (see zeroCodeSchema); null (the default): none. */
    zeroCode: zeroCodeSchema.nullable().default(null),
    /** Shared rate limits (see rateLimitSchema); null (the default): none. */
    rateLimit: rateLimitSchema.nullable().default(null),
    /** A token bucket for this sidecar alone; null (the default): none. */
    localRateLimit: localRateLimitSchema.nullable().default(null),
    /** OpenTelemetry tracing (see tracingSchema); null (the default): off. */
    tracing: tracingSchema.nullable().default(null),
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
    for (const [index, destination] of params.destinations.entries()) {
      if (destination.upstream.spiffeId === undefined) continue;
      if (!destination.upstream.tls || params.downstreamTls === null)
        issue(
          ["destinations", index, "upstream", "spiffeId"],
          "a Warden sidecar upstream needs tls and downstreamTls (its SVID comes over SDS)",
        );
    }
    if (params.inbound !== null) {
      if (params.downstreamTls === null)
        issue(["inbound"], "an inbound sidecar presents the MCP server's SVID: set downstreamTls");
      if (params.destinations.length !== 1 || params.destinations[0]!.kind !== "mcp")
        issue(["destinations"], "an inbound sidecar has exactly one destination, its MCP server");
    }
    if (params.zeroCode !== null) {
      const agent = params.zeroCode.agentSpiffeId;
      if (params.downstreamTls === null || params.serverIdentities === null)
        issue(
          ["zeroCode"],
          "a zero-code sidecar holds its agent's SVID over SDS: set downstreamTls and serverIdentities",
        );
      else if (params.downstreamTls.svidName !== agent)
        issue(
          ["zeroCode", "agentSpiffeId"],
          `the sidecar must hold the bound agent's SVID (downstreamTls.svidName ${agent})`,
        );
      if (params.inbound !== null)
        issue(["zeroCode"], "an MCP server's inbound sidecar has no zero-code listener");
      if (params.zeroCode.port === params.agentListener.port)
        issue(["zeroCode", "port"], "the zero-code port must differ from the agent listener's");
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
export type Params = z.output<typeof sidecarParamsSchema>;
export type DestinationConfig = z.output<typeof destinationSchema>;
export type Endpoint = z.output<typeof endpointSchema>;
export type DownstreamTls = z.output<typeof downstreamTlsSchema>;
export type Inbound = z.output<typeof inboundSchema>;
export type ZeroCode = z.output<typeof zeroCodeSchema>;
export type TracingParams = z.output<typeof tracingSchema>;
