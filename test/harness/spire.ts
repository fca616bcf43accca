import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeAliasSpiffeId } from "../../lib/src/spiffe/naming.js";
import { SpireRegistrar, type RegistrationEntry } from "../../lib/src/spiffe/registration.js";
import type { X509SvidUpdate } from "../../lib/src/spiffe/svid-update.js";
import { WorkloadApiClient } from "../../lib/src/spiffe/workload-client.js";
import {
  spireAgentComponent,
  spirePaths,
  spireServerComponent,
  type SpireTuning,
} from "../../lib/src/runtime/components/spire.js";
import { freePort, startComponent, toolPath, type ManagedProcess } from "./process.js";

/**
 * A real SPIRE server and agent for one test, started by the runtime's spire components as
 * `warden up` starts them (spire/server.conf and spire/agent.conf through -expandEnv, the agent
 * attested with a join token whose node alias spiffe://<td>/node/local parents every entry), with a
 * temp data dir, the server on a free loopback port and short sync intervals.
 */
export interface SpireOptions extends Pick<
  SpireTuning,
  "svidTtl" | "jwtSvidTtl" | "syncInterval" | "cacheReloadInterval" | "logLevel"
> {
  /** prefix of the log files in .run/ */
  name?: string;
  trustDomain?: string;
}

export interface RegisterOptions {
  x509SvidTtlSeconds?: number;
  jwtSvidTtlSeconds?: number;
}

let stacks = 0;

/** The selector that matches the calling test process (the unix workload attestor). */
export function currentProcessSelector(): string {
  return `unix:uid:${process.getuid?.() ?? 0}`;
}

export class SpireStack {
  readonly registrar: SpireRegistrar;
  readonly nodeAliasId: string;
  /** SPIFFE_ENDPOINT_SOCKET value for workloads of this agent */
  readonly endpoint: string;

  constructor(
    readonly trustDomain: string,
    readonly dataDir: string,
    readonly serverSocketPath: string,
    readonly workloadSocketPath: string,
    readonly agentSpiffeId: string,
    readonly server: ManagedProcess,
    readonly agent: ManagedProcess,
  ) {
    this.registrar = new SpireRegistrar({ serverSocketPath, serverBinary: toolPath("spire-server") });
    this.nodeAliasId = nodeAliasSpiffeId(trustDomain);
    this.endpoint = `unix://${workloadSocketPath}`;
  }

  register(spiffeId: string, selectors: string[], options: RegisterOptions = {}): Promise<RegistrationEntry> {
    return this.registrar.create({ spiffeId, parentId: this.nodeAliasId, selectors, ...options });
  }

  deleteEntry(entryId: string): Promise<void> {
    return this.registrar.delete(entryId);
  }

  /** Bans this stack's SPIRE agent. */
  ban(): Promise<void> {
    return this.registrar.banAgent(this.agentSpiffeId);
  }

  workloadClient(): WorkloadApiClient {
    return new WorkloadApiClient({ endpoint: this.endpoint });
  }

  /** Waits until the Workload API serves this process an X.509-SVID for `spiffeId`. */
  async waitForSvid(spiffeId: string, timeoutMs = 20_000): Promise<X509SvidUpdate> {
    const client = this.workloadClient();
    const watcher = client.watchX509Svids({ retryMaxMs: 250 });
    try {
      return await watcher.waitForUpdate((u) => u.svids.some((s) => s.spiffeId === spiffeId), timeoutMs);
    } finally {
      watcher.close();
      client.close();
    }
  }

  async stop(): Promise<void> {
    await this.agent.stop();
    await this.server.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function startSpire(options: SpireOptions = {}): Promise<SpireStack> {
  const name = options.name ?? `spire-${process.pid}-${++stacks}`;
  const trustDomain = options.trustDomain ?? "warden.local";
  // Short base path: unix socket paths are limited to 107 bytes.
  const paths = spirePaths(mkdtempSync(join(tmpdir(), "wsp-")));
  const port = await freePort();
  const tuning: SpireTuning = {
    logLevel: options.logLevel ?? "DEBUG",
    svidTtl: options.svidTtl,
    jwtSvidTtl: options.jwtSvidTtl,
    agentTtl: "1h",
    caTtl: "24h",
    cacheReloadInterval: options.cacheReloadInterval ?? "100ms",
    syncInterval: options.syncInterval ?? "200ms",
  };
  let server: ManagedProcess | undefined;
  let agent: ManagedProcess | undefined;
  try {
    server = await startComponent(spireServerComponent(paths, trustDomain, port, tuning), `${name}-server`);
    // Tests register their own entries.
    agent = await startComponent(spireAgentComponent(paths, trustDomain, port, [], tuning), `${name}-agent`);
    const token = readFileSync(paths.joinToken, "utf8").trim();
    const agentSpiffeId = `spiffe://${trustDomain}/spire/agent/join_token/${token}`;
    return new SpireStack(
      trustDomain,
      paths.dir,
      paths.serverSocket,
      paths.agentSocket,
      agentSpiffeId,
      server,
      agent,
    );
  } catch (error) {
    await agent?.stop();
    await server?.stop();
    rmSync(paths.dir, { recursive: true, force: true });
    throw error;
  }
}
