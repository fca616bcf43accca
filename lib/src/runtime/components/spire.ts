import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { nodeAliasSpiffeId } from "../../spiffe/naming.js";
import { SpireRegistrar } from "../../spiffe/registration.js";
import { succeeds, waitWhileAlive } from "../child.js";
import { REPO_ROOT, toolPath } from "../layout.js";
import type { Component } from "../supervisor.js";

/**
 * SPIRE server and agent with their datastore and keys in $WARDEN_HOME/spire (spire/server.conf and
 * spire/agent.conf, filled in through -expandEnv). First start: the agent attests with a join token
 * whose node alias (spiffe://<td>/node/local) parents every entry; later starts: the agent
 * re-attests with the SVID it kept in its data dir.
 */
const run = promisify(execFile);

export interface SpirePaths {
  dir: string;
  serverSocket: string;
  agentSocket: string;
  bootstrapBundle: string;
  joinToken: string;
}

/** Unix socket paths are limited to 107 bytes: $WARDEN_HOME must be short enough. */
const MAX_SOCKET_PATH = 100;

export function spirePaths(dir: string): SpirePaths {
  const paths = {
    dir,
    serverSocket: join(dir, "server.sock"),
    agentSocket: join(dir, "agent.sock"),
    bootstrapBundle: join(dir, "bootstrap-bundle.pem"),
    joinToken: join(dir, "join-token"),
  };
  if (paths.serverSocket.length > MAX_SOCKET_PATH)
    throw new Error(`WARDEN_HOME is too long for unix sockets (${paths.serverSocket}): use a shorter path`);
  return paths;
}

/** What spire/server.conf and spire/agent.conf leave to the environment; tests shorten the intervals. */
export interface SpireTuning {
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR";
  /** server default_x509_svid_ttl (entries may set their own) */
  svidTtl?: string;
  jwtSvidTtl?: string;
  agentTtl?: string;
  caTtl?: string;
  /** server experimental.cache_reload_interval; SPIRE's default is 5s */
  cacheReloadInterval?: string;
  /** agent experimental.sync_interval; SPIRE's default is 5s */
  syncInterval?: string;
}

function spireEnv(
  trustDomain: string,
  paths: SpirePaths,
  serverPort: number,
  tuning: SpireTuning,
): NodeJS.ProcessEnv {
  return {
    WARDEN_TRUST_DOMAIN: trustDomain,
    WARDEN_SPIRE_DATA_DIR: paths.dir,
    WARDEN_SPIRE_SERVER_PORT: String(serverPort),
    WARDEN_SPIRE_SERVER_SOCKET: paths.serverSocket,
    WARDEN_SPIRE_AGENT_SOCKET: paths.agentSocket,
    WARDEN_SPIRE_LOG_LEVEL: tuning.logLevel ?? "INFO",
    WARDEN_SVID_TTL: tuning.svidTtl ?? "1h",
    WARDEN_JWT_SVID_TTL: tuning.jwtSvidTtl ?? "5m",
    // Long enough that the agent can re-attest with its kept SVID after a week off.
    WARDEN_SPIRE_AGENT_TTL: tuning.agentTtl ?? "720h",
    WARDEN_SPIRE_CA_TTL: tuning.caTtl ?? "720h",
    WARDEN_SPIRE_CACHE_RELOAD_INTERVAL: tuning.cacheReloadInterval ?? "500ms",
    WARDEN_SPIRE_SYNC_INTERVAL: tuning.syncInterval ?? "1s",
  };
}

async function spireServerCli(args: string[]): Promise<string> {
  const { stdout } = await run(toolPath("spire-server"), args, { timeout: 10_000 });
  return stdout;
}

export function spireServerComponent(
  paths: SpirePaths,
  trustDomain: string,
  port: number,
  tuning: SpireTuning = {},
): Component {
  const healthy = () => succeeds(() => spireServerCli(["healthcheck", "-socketPath", paths.serverSocket]));
  return {
    name: "spire-server",
    ports: { server: port },
    async prepare() {
      mkdirSync(join(paths.dir, "server"), { recursive: true, mode: 0o700 });
      mkdirSync(join(paths.dir, "agent"), { recursive: true, mode: 0o700 });
      // Workloads under other uids reach the Workload API socket: traverse, not list.
      chmodSync(paths.dir, 0o711);
    },
    launch() {
      return {
        command: toolPath("spire-server"),
        args: ["run", "-config", join(REPO_ROOT, "spire", "server.conf"), "-expandEnv"],
        env: spireEnv(trustDomain, paths, port, tuning),
      };
    },
    async ready(alive) {
      await waitWhileAlive("spire-server healthy", alive, healthy, 60_000);
      if (!existsSync(paths.bootstrapBundle))
        writeFileSync(
          paths.bootstrapBundle,
          await spireServerCli(["bundle", "show", "-socketPath", paths.serverSocket, "-format", "pem"]),
        );
    },
    healthy,
  };
}

/** The agent has attested before when its data dir holds its SVID. */
function agentAttested(paths: SpirePaths): boolean {
  const dir = join(paths.dir, "agent");
  return (
    existsSync(dir) && readdirSync(dir).some((f) => f.startsWith("agent_svid") || f === "agent-data.json")
  );
}

export function spireAgentComponent(
  paths: SpirePaths,
  trustDomain: string,
  serverPort: number,
  entries: { spiffeId: string; selectors: string[] }[],
  tuning: SpireTuning = {},
): Component {
  const healthy = () =>
    succeeds(() =>
      run(toolPath("spire-agent"), ["healthcheck", "-socketPath", paths.agentSocket], { timeout: 10_000 }),
    );
  return {
    name: "spire-agent",
    ports: {},
    launch() {
      const args = ["run", "-config", join(REPO_ROOT, "spire", "agent.conf"), "-expandEnv"];
      if (!agentAttested(paths)) args.push("-joinTokenFile", paths.joinToken);
      return {
        command: toolPath("spire-agent"),
        args,
        env: spireEnv(trustDomain, paths, serverPort, tuning),
      };
    },
    async prepare() {
      if (agentAttested(paths)) return;
      const output = await spireServerCli([
        "token",
        "generate",
        "-socketPath",
        paths.serverSocket,
        "-spiffeID",
        nodeAliasSpiffeId(trustDomain),
        "-ttl",
        "600",
        "-output",
        "json",
      ]);
      writeFileSync(paths.joinToken, (JSON.parse(output) as { value: string }).value, { mode: 0o600 });
    },
    async ready(alive) {
      await waitWhileAlive("spire-agent healthy", alive, healthy, 60_000);
      const registrar = new SpireRegistrar({
        serverSocketPath: paths.serverSocket,
        serverBinary: toolPath("spire-server"),
      });
      const parentId = nodeAliasSpiffeId(trustDomain);
      for (const entry of entries) {
        const existing = await registrar.list({ spiffeId: entry.spiffeId });
        if (existing.some((e) => e.selectors.join(",") === entry.selectors.join(","))) continue;
        await registrar.create({ spiffeId: entry.spiffeId, parentId, selectors: entry.selectors });
      }
    },
    healthy,
  };
}

/**
 * Zero-code mode: the bound agent must be registered, with a SPIRE entry that gives its SVID to the
 * zero-code sidecar's uid (`warden agent add <name> --selector unix:uid:<uid>` makes it). Throws a
 * message that says what to run when it is not.
 */
export async function requireZeroCodeEntry(
  paths: SpirePaths,
  agent: string,
  spiffeId: string,
  uid: number,
): Promise<void> {
  const registrar = new SpireRegistrar({
    serverSocketPath: paths.serverSocket,
    serverBinary: toolPath("spire-server"),
  });
  const entries = await registrar.list({ spiffeId });
  const selector = `unix:uid:${uid}`;
  if (entries.some((e) => e.selectors.length === 1 && e.selectors[0] === selector)) return;
  throw new Error(
    entries.length === 0
      ? `zero-code agent "${agent}" is not registered (no SPIRE entry for ${spiffeId}): register it for its zero-code sidecar with \`warden agent add ${agent} --selector ${selector} ...\`, then run warden up --zero-code-agent ${agent} again`
      : `zero-code agent "${agent}" is registered, but not for its zero-code sidecar: its SPIRE entries select ${entries.map((e) => e.selectors.join("+")).join(", ")}; the sidecar needs exactly ${selector} (warden agent add ${agent} --selector ${selector})`,
  );
}
