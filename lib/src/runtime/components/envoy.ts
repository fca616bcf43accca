import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  devUpstreamDestinations,
  mcpDestination,
  providerDestinations,
  renderSidecarBootstrap,
  type Destination,
} from "../../envoy/bootstrap.js";
import { trustDomainId } from "../../spiffe/spiffe-id.js";
import { otlpHostPort } from "../../tracing/config.js";
import { httpOk, waitWhileAlive } from "../child.js";
import { toolPath } from "../layout.js";
import type { Component } from "../supervisor.js";

/** What every Envoy sidecar runs with: its directory, admin port, both servers, SPIRE and identities. */
interface SidecarParams {
  dir: string;
  adminPort: number;
  authzPort: number;
  extprocPort: number;
  spireAgentSocket: string;
  trustDomain: string;
  identities: { envoy: string; authz: string; extproc: string };
  uid?: number;
  /**
   * Envoy's worker threads (default 1). Each keeps its own HTTP/2 connection to each server, and a
   * connection stays on one server process: at least the servers' WARDEN_WORKERS, or the extra
   * server processes get no traffic.
   */
  concurrency?: number;
  /** The rate-limit service's gRPC port on loopback; absent: no shared rate limits. */
  rateLimitPort?: number;
  /** OpenTelemetry traces to this OTLP/gRPC collector (http://host:port); null: off. */
  otlpEndpoint?: string | null;
}

/**
 * The Envoy sidecar: the bootstrap rendered by lib/src/envoy/bootstrap.ts into $WARDEN_HOME/envoy,
 * agents on 127.0.0.1 with SPIRE mTLS (SDS from the SPIRE agent), mTLS to both servers.
 */
export interface EnvoyParams extends SidecarParams {
  agentPort: number;
  /** Development only: every provider route to this plain-HTTP stub. */
  devUpstream: { address: string; port: number } | null;
  /** Routes to MCP servers (`warden up --mcp-server`). */
  mcpRoutes?: Destination[];
}

/** An MCP server's inbound sidecar: Envoy with the server's SVID in front of it (on loopback). */
export interface InboundEnvoyParams extends SidecarParams {
  port: number;
  server: string;
  upstream: { address: string; port: number };
  resourceUri: string;
  /** The token service's issuer, named in the RFC 9728 metadata. */
  authorizationServer: string;
}

/**
 * An agent's zero-code sidecar (docs/zero-code.md): an Envoy under its own uid holding the agent's
 * SVID, with the agents' usual mTLS listener and a plain-HTTP listener on 127.0.0.1 for that agent.
 */
export interface ZeroCodeEnvoyParams extends Omit<EnvoyParams, "agentPort"> {
  agent: string;
  agentSpiffeId: string;
  /** The plain-HTTP loopback port, and the mTLS one (another agent calling with its own SVID). */
  port: number;
  mtlsPort: number;
}

/** Any rendered Envoy bootstrap, run as the sidecar runs (tests render their own). */
export interface EnvoyLaunch {
  dir: string;
  agentPort: number;
  adminPort: number;
  /** The bootstrap YAML, given where the access log goes. */
  bootstrap: (accessLogPath: string) => string;
  uid?: number;
  logLevel?: string;
  /** More command-line flags (tests flush the access log sooner). */
  extraArgs?: string[];
  /** The supervisor's name for it; default "envoy". */
  name?: string;
  /** `--concurrency`: worker threads (default 1; SidecarParams.concurrency says why more). */
  concurrency?: number;
}

export function envoyAccessLogPath(dir: string): string {
  return join(dir, "access.log");
}

/** A statistic from the admin interface (e.g. `http.agent.ext_authz.error`), 0 when absent. */
export async function envoyStat(adminUrl: string, name: string): Promise<number> {
  const filter = encodeURIComponent(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  const response = await fetch(`${adminUrl}/stats?filter=${filter}&format=json`, {
    signal: AbortSignal.timeout(1_500),
  });
  const body = (await response.json()) as { stats?: { name?: string; value?: number }[] };
  return body.stats?.find((s) => s.name === name)?.value ?? 0;
}

export function envoyComponent(params: EnvoyParams): Component {
  const destinations: Destination[] = [
    ...(params.devUpstream ? devUpstreamDestinations(params.devUpstream) : providerDestinations()),
    ...(params.mcpRoutes ?? []),
  ];
  return envoyLaunchComponent({
    dir: params.dir,
    agentPort: params.agentPort,
    adminPort: params.adminPort,
    uid: params.uid,
    concurrency: params.concurrency,
    bootstrap: (accessLogPath) =>
      renderSidecarBootstrap({
        ...sidecarBootstrap(params),
        agentListener: { port: params.agentPort },
        destinations,
        accessLogPath,
      }),
  });
}

/** What every sidecar's bootstrap says alike: its admin port, both servers, its SVID and theirs. */
function sidecarBootstrap(params: SidecarParams) {
  return {
    admin: { port: params.adminPort },
    authz: { address: "127.0.0.1", port: params.authzPort },
    extproc: { address: "127.0.0.1", port: params.extprocPort },
    downstreamTls: {
      spireAgentSocket: params.spireAgentSocket,
      svidName: params.identities.envoy,
      trustBundleName: trustDomainId(params.trustDomain),
    },
    serverIdentities: { authz: params.identities.authz, extproc: params.identities.extproc },
    ...(params.rateLimitPort === undefined
      ? {}
      : { rateLimit: { service: { address: "127.0.0.1", port: params.rateLimitPort } } }),
    tracing: params.otlpEndpoint ? { collector: otlpHostPort(params.otlpEndpoint) } : null,
  };
}

export function zeroCodeEnvoyComponent(params: ZeroCodeEnvoyParams): Component {
  const destinations: Destination[] = [
    ...(params.devUpstream ? devUpstreamDestinations(params.devUpstream) : providerDestinations()),
    ...(params.mcpRoutes ?? []),
  ];
  const common = sidecarBootstrap(params);
  return envoyLaunchComponent({
    name: "zero-code-envoy",
    dir: params.dir,
    agentPort: params.mtlsPort,
    adminPort: params.adminPort,
    uid: params.uid,
    concurrency: params.concurrency,
    bootstrap: (accessLogPath) =>
      renderSidecarBootstrap({
        nodeId: `warden-zero-code-${params.agent}`,
        ...common,
        agentListener: { port: params.mtlsPort },
        destinations,
        accessLogPath,
        // This Envoy holds the bound agent's SVID, not the sidecar's.
        downstreamTls: { ...common.downstreamTls, svidName: params.agentSpiffeId },
        zeroCode: { address: "127.0.0.1", port: params.port, agentSpiffeId: params.agentSpiffeId },
      }),
  });
}

export function inboundEnvoyComponent(params: InboundEnvoyParams): Component {
  return envoyLaunchComponent({
    name: "inbound-envoy",
    dir: params.dir,
    agentPort: params.port,
    adminPort: params.adminPort,
    uid: params.uid,
    concurrency: params.concurrency,
    bootstrap: (accessLogPath) =>
      renderSidecarBootstrap({
        nodeId: `warden-inbound-${params.server}`,
        ...sidecarBootstrap(params),
        agentListener: { port: params.port },
        destinations: [mcpDestination(params.server, { ...params.upstream, tls: false })],
        accessLogPath,
        inbound: {
          server: params.server,
          resourceUri: params.resourceUri,
          authorizationServers: [params.authorizationServer],
        },
      }),
  });
}

export function envoyLaunchComponent(launch: EnvoyLaunch): Component {
  const configPath = join(launch.dir, "envoy.yaml");
  const adminUrl = `http://127.0.0.1:${launch.adminPort}`;
  const ready = async () =>
    (await httpOk(`${adminUrl}/ready`)) &&
    (await envoyStat(adminUrl, "listener_manager.total_listeners_active")) >= 1 &&
    (await envoyStat(adminUrl, "listener_manager.total_listeners_warming")) === 0 &&
    (await envoyStat(adminUrl, "cluster_manager.warming_clusters")) === 0;
  return {
    name: launch.name ?? "envoy",
    ports: { agent: launch.agentPort, admin: launch.adminPort },
    async prepare() {
      mkdirSync(launch.dir, { recursive: true, mode: 0o755 });
      const accessLogPath = envoyAccessLogPath(launch.dir);
      writeFileSync(accessLogPath, "", { flag: "a" });
      chmodSync(accessLogPath, 0o666);
      writeFileSync(configPath, launch.bootstrap(accessLogPath));
    },
    launch: () => ({
      command: toolPath("envoy"),
      args: [
        "-c",
        configPath,
        // Several sidecars may run side by side; hot restart would make them share memory.
        "--disable-hot-restart",
        "--concurrency",
        String(launch.concurrency ?? 1),
        "--log-level",
        launch.logLevel ?? "warn",
        ...(launch.extraArgs ?? []),
      ],
      uid: launch.uid,
    }),
    async ready(alive) {
      // With SDS, Envoy is LIVE before its secrets arrive: wait until the listener and clusters have them.
      await waitWhileAlive("envoy listener and clusters warm (SDS secrets)", alive, ready, 60_000);
    },
    healthy: () => ready().catch(() => false),
  };
}
