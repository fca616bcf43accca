import { workersConfigShape } from "../grpc-server/workers.js";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ConfigError, env, loadConfig } from "../config.js";
import type { Destination } from "../envoy/params.js";
import { parseZeroCode, type ZeroCodeConfig } from "./zero-code.js";
import { MCP_SERVER_NAME, mcpServerEntries, parseMcpRoutes } from "./mcp-routes.js";
import { otlpEndpoint } from "../tracing/config.js";

/**
 * Where `warden up` keeps everything and which ports it uses. One place, read by the supervisor
 * (which writes the state) and by `warden status|logs|down` (which read it).
 *
 * Default ports never clash with each other (SPIRE's own default, 8081, is the control plane's).
 * `WARDEN_PORT_BASE` moves every port to base+offset, for a second instance or a test.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..").replace(/\/dist$/, "");

export const DEFAULT_PORTS = {
  agent: 10000,
  envoyAdmin: 9901,
  authz: 9001,
  authzStatus: 9101,
  extproc: 9002,
  extprocStatus: 9102,
  controlPlane: 8081,
  oidc: 8082,
  spireServer: 8181,
  openbao: 8200,
  postgres: 5433,
  openbaoCluster: 8201,
  // An MCP server's inbound sidecar (warden up --inbound-mcp): its Envoy and its authz-server.
  inboundMcp: 8443,
  inboundAdmin: 9902,
  inboundAuthz: 9003,
  inboundAuthzStatus: 9103,
  // Zero-code mode (warden up --zero-code-agent): the bound sidecar's plain-HTTP loopback port, its
  // mTLS listener, admin, and its authz-server.
  zeroCode: 8090,
  zeroCodeMtls: 10010,
  zeroCodeAdmin: 9904,
  zeroCodeAuthz: 9004,
  zeroCodeAuthzStatus: 9104,
  // Shared rate limits: Redis and envoyproxy/ratelimit (gRPC for the sidecars, HTTP health, debug).
  redis: 6380,
  ratelimitGrpc: 8091,
  ratelimitHttp: 8092,
  ratelimitDebug: 6071,
  // The portal's local identity provider (warden up --with-idp): Keycloak and its management port.
  keycloak: 8083,
  keycloakManagement: 9006,
} as const;

export type PortName = keyof typeof DEFAULT_PORTS;
export type Ports = Record<PortName, number>;

/** The uids our components run under when the supervisor runs as root (SPIRE tells them apart by uid). */
export const COMPONENT_UIDS = {
  envoy: 10001,
  authz: 10002,
  extproc: 10003,
  inboundEnvoy: 10004,
  /** The zero-code sidecar's Envoy: the only workload given the bound agent's SVID. */
  zeroCodeEnvoy: 10005,
} as const;

const runtimeShape = {
  WARDEN_HOME: env.path().default(".warden"),
  WARDEN_TRUST_DOMAIN: z
    .string()
    .regex(/^[a-z0-9._-]+$/, "must be a trust domain name like warden.local")
    .default("warden.local"),
  DATABASE_URL: z.string().url().optional(),
  WARDEN_PORT_BASE: env.port().optional(),
  WARDEN_AGENT_PORT: env.port(DEFAULT_PORTS.agent),
  WARDEN_CP_PORT: env.port(DEFAULT_PORTS.controlPlane),
  WARDEN_OIDC_PORT: env.port(DEFAULT_PORTS.oidc),
  /** Keycloak (.tools/keycloak) as the identity provider, and the web portal on the control plane. */
  WARDEN_WITH_IDP: env.bool(false),
  /**
   * Development only: send every provider route to this plain-HTTP host:port (a local stub provider)
   * instead of the provider's real host over TLS.
   */
  WARDEN_DEV_UPSTREAM: z
    .string()
    .regex(/^127\.0\.0\.1:\d{1,5}$/, "must be 127.0.0.1:<port> (a local stub, development only)")
    .optional(),
  /** MCP servers agents reach at /mcp/<name>/: `name=url` entries, comma-separated (lib/src/runtime/mcp-routes.ts). */
  WARDEN_MCP_SERVERS: z.string().optional(),
  /** Run an inbound sidecar in front of this MCP server (its registered name) too. */
  WARDEN_INBOUND_MCP_SERVER: z.string().regex(MCP_SERVER_NAME, "must be an MCP server's name").optional(),
  /** The MCP server itself, on this machine: http://127.0.0.1:<port>. */
  WARDEN_INBOUND_UPSTREAM: z.string().optional(),
  /** Its resource URI (RFC 8707): the audience of bearer tokens for it. */
  WARDEN_INBOUND_RESOURCE_URI: env.url().optional(),
  WARDEN_INBOUND_PORT: env.port(DEFAULT_PORTS.inboundMcp),
  /** Zero-code mode (docs/zero-code.md): the one agent a bound sidecar serves plain HTTP on loopback. */
  WARDEN_ZERO_CODE_AGENT: z.string().optional(),
  /** Its port on 127.0.0.1 (default 8090, or its place after WARDEN_PORT_BASE). */
  WARDEN_ZERO_CODE_PORT: z.string().optional(),
  /** Serving processes of authz-server and of extproc-server each; Envoy gets as many threads. */
  ...workersConfigShape,
  /** Traces of every sidecar and server to this OTLP/gRPC collector (docs/observability.md). */
  WARDEN_OTLP_ENDPOINT: otlpEndpoint(),
};

/** An MCP server's inbound sidecar run by warden up. */
export interface InboundMcpConfig {
  server: string;
  /** The MCP server on loopback, plain HTTP: it sees only its sidecar's traffic. */
  upstream: { address: string; port: number };
  resourceUri: string;
}

/** What `warden up`'s flags add to (or set instead of) the environment. */
export interface RuntimeFlags {
  /** `--mcp-server name=url`, repeated: added to WARDEN_MCP_SERVERS. */
  mcpServers?: readonly string[];
  /** `--inbound-mcp`, `--upstream`, `--resource-uri`: override WARDEN_INBOUND_*. */
  inboundMcp?: string;
  upstream?: string;
  resourceUri?: string;
  /** `--zero-code-agent`, `--zero-code-port`: override WARDEN_ZERO_CODE_*. */
  zeroCodeAgent?: string;
  zeroCodePort?: string;
  /** `--otlp-endpoint`: overrides WARDEN_OTLP_ENDPOINT. */
  otlpEndpoint?: string;
  /** `--with-idp`: sets WARDEN_WITH_IDP. */
  withIdp?: boolean;
}

export interface RuntimeConfig {
  home: string;
  trustDomain: string;
  /** An external PostgreSQL; null runs the embedded cluster in the state directory. */
  externalDatabaseUrl: string | null;
  ports: Ports;
  devUpstream: { address: string; port: number } | null;
  /** Routes of the agents' sidecar to MCP servers (`/mcp/<name>/`). */
  mcpRoutes: Destination[];
  inboundMcp: InboundMcpConfig | null;
  /** Zero-code mode: the bound agent and its loopback port; null (the default): off. */
  zeroCode: ZeroCodeConfig | null;
  /**
   * WARDEN_WORKERS: serving processes of each authz-server and extproc-server, and Envoy's worker
   * threads (`--concurrency`), so that every server process gets a connection of its own.
   */
  workers: number;
  /** Traces to this OTLP/gRPC collector; null (the default): tracing off. */
  otlpEndpoint: string | null;
  /** Keycloak as the control plane's identity provider, and the web portal (`--with-idp`). */
  withIdp: boolean;
}

export function loadRuntimeConfig(
  source: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  flags: RuntimeFlags = {},
): RuntimeConfig {
  const c = loadConfig(runtimeShape, {
    ...source,
    ...(flags.inboundMcp !== undefined ? { WARDEN_INBOUND_MCP_SERVER: flags.inboundMcp } : {}),
    ...(flags.upstream !== undefined ? { WARDEN_INBOUND_UPSTREAM: flags.upstream } : {}),
    ...(flags.resourceUri !== undefined ? { WARDEN_INBOUND_RESOURCE_URI: flags.resourceUri } : {}),
    ...(flags.zeroCodeAgent !== undefined ? { WARDEN_ZERO_CODE_AGENT: flags.zeroCodeAgent } : {}),
    ...(flags.zeroCodePort !== undefined ? { WARDEN_ZERO_CODE_PORT: flags.zeroCodePort } : {}),
    ...(flags.otlpEndpoint !== undefined ? { WARDEN_OTLP_ENDPOINT: flags.otlpEndpoint } : {}),
    ...(flags.withIdp ? { WARDEN_WITH_IDP: "true" } : {}),
  });
  let ports: Ports;
  if (c.WARDEN_PORT_BASE !== undefined) {
    const base = c.WARDEN_PORT_BASE;
    ports = Object.fromEntries(Object.keys(DEFAULT_PORTS).map((name, i) => [name, base + i])) as Ports;
  } else {
    ports = {
      ...DEFAULT_PORTS,
      agent: c.WARDEN_AGENT_PORT,
      controlPlane: c.WARDEN_CP_PORT,
      oidc: c.WARDEN_OIDC_PORT,
      inboundMcp: c.WARDEN_INBOUND_PORT,
    };
  }
  const routes = parseMcpRoutes(
    mcpServerEntries(c.WARDEN_MCP_SERVERS, flags.mcpServers ?? []),
    c.WARDEN_TRUST_DOMAIN,
  );
  const problems = routes.ok ? [] : routes.problems.map((p) => `WARDEN_MCP_SERVERS / --mcp-server: ${p}`);
  const inbound = inboundMcpOf(c, problems);
  const zeroCode = parseZeroCode(
    c.WARDEN_ZERO_CODE_AGENT,
    c.WARDEN_ZERO_CODE_PORT,
    ports.zeroCode,
    c.WARDEN_TRUST_DOMAIN,
  );
  if (!zeroCode.ok) problems.push(...zeroCode.problems);
  else if (zeroCode.zeroCode) ports = { ...ports, zeroCode: zeroCode.zeroCode.port };
  if (problems.length > 0) throw new ConfigError(problems);
  const [host, port] = c.WARDEN_DEV_UPSTREAM?.split(":") ?? [];
  return {
    home: resolve(cwd, c.WARDEN_HOME),
    trustDomain: c.WARDEN_TRUST_DOMAIN,
    externalDatabaseUrl: c.DATABASE_URL ?? null,
    ports,
    devUpstream: host && port ? { address: host, port: Number(port) } : null,
    mcpRoutes: routes.ok ? routes.destinations : [],
    inboundMcp: inbound,
    zeroCode: zeroCode.ok ? zeroCode.zeroCode : null,
    workers: c.WARDEN_WORKERS,
    otlpEndpoint: c.WARDEN_OTLP_ENDPOINT ?? null,
    withIdp: c.WARDEN_WITH_IDP,
  };
}

function inboundMcpOf(
  c: {
    WARDEN_INBOUND_MCP_SERVER?: string | undefined;
    WARDEN_INBOUND_UPSTREAM?: string | undefined;
    WARDEN_INBOUND_RESOURCE_URI?: string | undefined;
  },
  problems: string[],
): InboundMcpConfig | null {
  const server = c.WARDEN_INBOUND_MCP_SERVER;
  if (server === undefined) {
    if (c.WARDEN_INBOUND_UPSTREAM !== undefined || c.WARDEN_INBOUND_RESOURCE_URI !== undefined)
      problems.push("WARDEN_INBOUND_UPSTREAM / WARDEN_INBOUND_RESOURCE_URI: only with --inbound-mcp <name>");
    return null;
  }
  const upstream = /^http:\/\/127\.0\.0\.1:(\d{1,5})\/?$/.exec(c.WARDEN_INBOUND_UPSTREAM ?? "");
  const port = upstream ? Number(upstream[1]) : 0;
  if (!upstream || port < 1 || port > 65535)
    problems.push(
      "WARDEN_INBOUND_UPSTREAM / --upstream: the MCP server on this machine, http://127.0.0.1:<port> (it sees only its sidecar's traffic)",
    );
  const resourceUri = c.WARDEN_INBOUND_RESOURCE_URI;
  if (resourceUri === undefined || !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(resourceUri))
    problems.push(
      "WARDEN_INBOUND_RESOURCE_URI / --resource-uri: the server's resource URI, an http(s) URL without query or fragment (e.g. https://files.example/mcp)",
    );
  return upstream && resourceUri ? { server, upstream: { address: "127.0.0.1", port }, resourceUri } : null;
}

/** Every path under $WARDEN_HOME, in one place. */
export function homePaths(home: string) {
  return {
    home,
    logs: join(home, "logs"),
    log: (component: string) => join(home, "logs", `${component}.log`),
    state: join(home, "supervisor.json"),
    postgres: join(home, "postgres"),
    openbao: join(home, "openbao"),
    spire: join(home, "spire"),
    policy: join(home, "policy"),
    oidc: join(home, "oidc"),
    secrets: join(home, "secrets"),
    envoy: join(home, "envoy"),
    extproc: join(home, "extproc"),
    authz: join(home, "authz"),
    controlPlane: join(home, "control-plane"),
    inboundEnvoy: join(home, "inbound-envoy"),
    inboundAuthz: join(home, "inbound-authz"),
    zeroCodeEnvoy: join(home, "zero-code-envoy"),
    zeroCodeAuthz: join(home, "zero-code-authz"),
    redis: join(home, "redis"),
    ratelimit: join(home, "ratelimit"),
    keycloak: join(home, "keycloak"),
  };
}

export type HomePaths = ReturnType<typeof homePaths>;

/** A pinned tool installed by scripts/setup into .tools/bin. */
export function toolPath(name: string): string {
  return join(REPO_ROOT, ".tools", "bin", name);
}

/** PostgreSQL programs: .tools/bin first, then the newest Debian install. */
export function postgresBinary(name: string): string {
  const tool = toolPath(name);
  if (existsSync(tool)) return tool;
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).sort().reverse() : [];
  for (const version of versions) {
    const candidate = join(base, version, "bin", name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found in .tools/bin or ${base} (run scripts/setup)`);
}

/** A program of ours, built into dist/. */
export function distMain(component: string): string {
  return join(REPO_ROOT, "dist", component, "src", "main.js");
}
