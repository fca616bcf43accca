import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { providerDestinations, renderSidecarBootstrap, type Destination } from "../../envoy/bootstrap.js";
import { trustDomainId } from "../../spiffe/spiffe-id.js";
import { httpOk, waitFor } from "../child.js";
import { toolPath } from "../layout.js";
import type { Component } from "../supervisor.js";

/**
 * The Envoy sidecar: the bootstrap rendered by lib/src/envoy/bootstrap.ts into $WARDEN_HOME/envoy,
 * agents on 127.0.0.1 with SPIRE mTLS (SDS from the SPIRE agent), mTLS to both servers.
 */
export interface EnvoyParams {
  dir: string;
  agentPort: number;
  adminPort: number;
  authzPort: number;
  extprocPort: number;
  spireAgentSocket: string;
  trustDomain: string;
  identities: { envoy: string; authz: string; extproc: string };
  uid?: number;
  /** Development only: every provider route to this plain-HTTP stub. */
  devUpstream: { address: string; port: number } | null;
}

async function stat(adminUrl: string, name: string): Promise<number> {
  const filter = encodeURIComponent(`^${name.replace(/\./g, "\\.")}$`);
  const response = await fetch(`${adminUrl}/stats?filter=${filter}&format=json`, {
    signal: AbortSignal.timeout(1_500),
  });
  const body = (await response.json()) as { stats?: { name?: string; value?: number }[] };
  return body.stats?.find((s) => s.name === name)?.value ?? 0;
}

export function envoyComponent(params: EnvoyParams): Component {
  const configPath = join(params.dir, "envoy.yaml");
  const adminUrl = `http://127.0.0.1:${params.adminPort}`;
  const ready = async () =>
    (await httpOk(`${adminUrl}/ready`)) &&
    (await stat(adminUrl, "listener_manager.total_listeners_active")) >= 1 &&
    (await stat(adminUrl, "listener_manager.total_listeners_warming")) === 0 &&
    (await stat(adminUrl, "cluster_manager.warming_clusters")) === 0;
  return {
    name: "envoy",
    ports: { agent: params.agentPort, admin: params.adminPort },
    async prepare() {
      mkdirSync(params.dir, { recursive: true, mode: 0o755 });
      const accessLogPath = join(params.dir, "access.log");
      writeFileSync(accessLogPath, "", { flag: "a" });
      chmodSync(accessLogPath, 0o666);
      const destinations: Destination[] = params.devUpstream
        ? providerDestinations().map((d) => ({ ...d, upstream: { ...params.devUpstream!, tls: false } }))
        : providerDestinations();
      writeFileSync(
        configPath,
        renderSidecarBootstrap({
          agentListener: { port: params.agentPort },
          admin: { port: params.adminPort },
          authz: { address: "127.0.0.1", port: params.authzPort },
          extproc: { address: "127.0.0.1", port: params.extprocPort },
          destinations,
          accessLogPath,
          downstreamTls: {
            spireAgentSocket: params.spireAgentSocket,
            svidName: params.identities.envoy,
            trustBundleName: trustDomainId(params.trustDomain),
          },
          serverIdentities: { authz: params.identities.authz, extproc: params.identities.extproc },
        }),
      );
    },
    launch: () => ({
      command: toolPath("envoy"),
      args: ["-c", configPath, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warn"],
      uid: params.uid,
    }),
    async ready(alive) {
      // With SDS, Envoy is LIVE before its secrets arrive: wait until the listener and clusters have them.
      await waitFor(
        "envoy listener and clusters warm (SDS secrets)",
        async () => {
          alive();
          return ready();
        },
        60_000,
      );
    },
    healthy: () => ready().catch(() => false),
  };
}
