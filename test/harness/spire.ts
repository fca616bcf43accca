import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeAliasSpiffeId } from "../../lib/src/spiffe/naming.js";
import { SpireRegistrar, type RegistrationEntry } from "../../lib/src/spiffe/registration.js";
import type { X509SvidUpdate } from "../../lib/src/spiffe/svid-update.js";
import { WorkloadApiClient } from "../../lib/src/spiffe/workload-client.js";
import { REPO_ROOT, freePort, startProcess, toolPath, waitFor, type ManagedProcess } from "./process.js";

/**
 * A real SPIRE server and agent for one test: spire/server.conf and spire/agent.conf filled in through
 * environment variables (-expandEnv), a temp data dir, the server on a free loopback port, the admin
 * and Workload API on unix sockets, the agent attested with a join token whose node alias
 * (spiffe://<td>/node/local) is the parent of every entry registered here.
 */
export interface SpireOptions {
  /** prefix of the log files in .run/ */
  name?: string;
  trustDomain?: string;
  /** server default_x509_svid_ttl (entries may set their own) */
  svidTtl?: string;
  jwtSvidTtl?: string;
  /** agent experimental.sync_interval; SPIRE's default is 5s */
  syncInterval?: string;
  /** server experimental.cache_reload_interval; SPIRE's default is 5s */
  cacheReloadInterval?: string;
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
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

function spireServer(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(toolPath("spire-server"), args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`spire-server ${args.slice(0, 2).join(" ")}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

export async function startSpire(options: SpireOptions = {}): Promise<SpireStack> {
  const name = options.name ?? `spire-${process.pid}-${++stacks}`;
  const trustDomain = options.trustDomain ?? "warden.local";
  // Short base path: unix socket paths are limited to 107 bytes.
  const dataDir = mkdtempSync(join(tmpdir(), "wsp-"));
  const serverSocketPath = join(dataDir, "server.sock");
  const workloadSocketPath = join(dataDir, "agent.sock");
  const port = await freePort();
  const env = {
    WARDEN_TRUST_DOMAIN: trustDomain,
    WARDEN_SPIRE_DATA_DIR: dataDir,
    WARDEN_SPIRE_SERVER_PORT: String(port),
    WARDEN_SPIRE_SERVER_SOCKET: serverSocketPath,
    WARDEN_SPIRE_AGENT_SOCKET: workloadSocketPath,
    WARDEN_SPIRE_LOG_LEVEL: options.logLevel ?? "DEBUG",
    WARDEN_SVID_TTL: options.svidTtl ?? "1h",
    WARDEN_JWT_SVID_TTL: options.jwtSvidTtl ?? "5m",
    WARDEN_SPIRE_AGENT_TTL: "1h",
    WARDEN_SPIRE_CA_TTL: "24h",
    WARDEN_SPIRE_CACHE_RELOAD_INTERVAL: options.cacheReloadInterval ?? "100ms",
    WARDEN_SPIRE_SYNC_INTERVAL: options.syncInterval ?? "200ms",
  };

  const server = startProcess({
    name: `${name}-server`,
    command: toolPath("spire-server"),
    args: ["run", "-config", join(REPO_ROOT, "spire/server.conf"), "-expandEnv"],
    env,
  });
  let agent: ManagedProcess | undefined;
  try {
    await waitFor(
      "spire-server healthy",
      async () => {
        if (!server.running) throw new Error(`spire-server exited; log:\n${server.log().slice(-4000)}`);
        await spireServer(["healthcheck", "-socketPath", serverSocketPath]);
        return true;
      },
      30_000,
    );
    writeFileSync(
      join(dataDir, "bootstrap-bundle.pem"),
      await spireServer(["bundle", "show", "-socketPath", serverSocketPath, "-format", "pem"]),
    );
    const nodeAlias = nodeAliasSpiffeId(trustDomain);
    const tokenOutput = await spireServer([
      "token",
      "generate",
      "-socketPath",
      serverSocketPath,
      "-spiffeID",
      nodeAlias,
      "-ttl",
      "600",
      "-output",
      "json",
    ]);
    const token = (JSON.parse(tokenOutput) as { value: string }).value;
    agent = startProcess({
      name: `${name}-agent`,
      command: toolPath("spire-agent"),
      args: ["run", "-config", join(REPO_ROOT, "spire/agent.conf"), "-expandEnv", "-joinToken", token],
      env,
    });
    await agent.waitForLog(/Starting Workload and SDS APIs/, 30_000);
    // Workloads under other uids (Envoy, our servers, test agents) must reach the Workload API socket:
    // traverse the dir, without listing it (the server's keys are private to their files).
    chmodSync(dataDir, 0o711);
    const agentSpiffeId = `spiffe://${trustDomain}/spire/agent/join_token/${token}`;
    return new SpireStack(
      trustDomain,
      dataDir,
      serverSocketPath,
      workloadSocketPath,
      agentSpiffeId,
      server,
      agent,
    );
  } catch (error) {
    await agent?.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
