import { metricsEndpoints } from "../../../lib/src/runtime/metrics-endpoints.js";
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
  watch,
} from "node:fs";
import { basename, join } from "node:path";
import { ConfigError } from "../../../lib/src/config.js";
import { httpOk, pidAlive, sleep } from "../../../lib/src/runtime/child.js";
import { querySql } from "../../../lib/src/runtime/components/postgres.js";
import { DEV_ADMIN, ensureAccounts } from "../../../lib/src/runtime/dev-oidc/issuer.js";
import {
  homePaths,
  loadRuntimeConfig,
  REPO_ROOT,
  type RuntimeFlags,
} from "../../../lib/src/runtime/layout.js";
import { saveCliToken } from "../../../lib/src/runtime/local-session.js";
import { createSupervisor } from "../../../lib/src/runtime/stack.js";
import { readSupervisorState, type SupervisorState } from "../../../lib/src/runtime/state.js";
import { parseFlags, type CliIo } from "./command.js";
import { componentVersions } from "./component-versions.js";

/**
 * `warden up [--detach] | status [--json] | logs [component] [-f] | down`: runs the whole stack on
 * this machine through one supervisor (lib/src/runtime), state in $WARDEN_HOME (default ./.warden).
 */
export const RUNTIME_USAGE = `usage:
  warden up [--detach]             start the whole stack (foreground until Ctrl-C; --detach: background)
      [--mcp-server <name>=<url>]...  route agents' /mcp/<name>/ to an MCP server: https://host[:port],
                                   warden+https://host[:port] (behind a Warden inbound sidecar, which
                                   must hold spiffe://<td>/mcp/<name>), http://127.0.0.1:<port> (dev)
      [--inbound-mcp <name> --upstream http://127.0.0.1:<port> --resource-uri <url>]
                                   also run the inbound sidecar of MCP server <name> (listening on
                                   WARDEN_INBOUND_PORT, default 8443): SVIDs, agents' sidecars, or
                                   bearer tokens whose aud is the resource URI
      [--zero-code-agent <name> [--zero-code-port <port>]]
                                   zero-code mode (off by default; docs/zero-code.md): a sidecar bound
                                   to agent <name> (registered with --selector unix:uid:10005, the
                                   sidecar's uid) serves plain HTTP on 127.0.0.1:<port> (default 8090);
                                   anything that can reach that port acts as the agent
      [--otlp-endpoint http://<host>:<port>]
                                   OpenTelemetry traces of Envoy, authz-server and extproc-server
                                   to this OTLP/gRPC collector (off by default; docs/observability.md)
      [--with-idp]                 Keycloak (scripts/setup) as the identity provider, with the local
                                   realm's test users, and the web portal at
                                   http://localhost:<WARDEN_CP_PORT>/portal/
  warden status [--json]           per component: version, pid, health, ports; policy revision; agents; audit heads
  warden logs [component] [-f]     a component's log (all components' last lines without one)
  warden down                      stop the stack (state in $WARDEN_HOME is kept)
  warden login [--user admin]      a control-plane token from the development OIDC issuer (password
                                   on stdin; on this machine, read from $WARDEN_HOME/oidc/accounts.json);
                                   accounts: admin, reviewer (KYA approvals), user (tenant default)
environment: WARDEN_HOME (default ./.warden), WARDEN_PORT_BASE, WARDEN_AGENT_PORT, WARDEN_CP_PORT,
             WARDEN_OIDC_PORT, WARDEN_TRUST_DOMAIN, DATABASE_URL (external PostgreSQL),
             WARDEN_MCP_SERVERS (name=url,... like --mcp-server), WARDEN_INBOUND_MCP_SERVER,
             WARDEN_INBOUND_UPSTREAM, WARDEN_INBOUND_RESOURCE_URI, WARDEN_INBOUND_PORT,
             WARDEN_ZERO_CODE_AGENT, WARDEN_ZERO_CODE_PORT, WARDEN_OTLP_ENDPOINT, WARDEN_WITH_IDP`;

export const RUNTIME_COMMANDS = ["up", "status", "logs", "down", "login"] as const;

const DETACHED_CHILD = "WARDEN_SUPERVISOR_CHILD";

export async function runRuntimeCommand(
  command: string,
  argv: readonly string[],
  io: CliIo,
): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseFlags(argv, {
      detach: { type: "boolean" },
      json: { type: "boolean" },
      follow: { type: "boolean", short: "f" },
      help: { type: "boolean", short: "h" },
      user: { type: "string" },
      "mcp-server": { type: "string", multiple: true },
      "inbound-mcp": { type: "string" },
      upstream: { type: "string" },
      "resource-uri": { type: "string" },
      "zero-code-agent": { type: "string" },
      "zero-code-port": { type: "string" },
      "otlp-endpoint": { type: "string" },
      "with-idp": { type: "boolean" },
    }));
  } catch (error) {
    io.stderr(`warden ${command}: ${(error as Error).message}\n${RUNTIME_USAGE}`);
    return 2;
  }
  const flags = runtimeFlags(values);
  if (command !== "up" && Object.keys(flags).length > 0) {
    io.stderr(
      `warden ${command}: --mcp-server, --inbound-mcp, --zero-code-agent, --otlp-endpoint and --with-idp belong to warden up\n${RUNTIME_USAGE}`,
    );
    return 2;
  }
  let config;
  try {
    config = loadRuntimeConfig(io.env, process.cwd(), flags);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`warden ${command}: ${error.problems.join("; ")}`);
      return 78;
    }
    throw error;
  }
  const paths = homePaths(config.home);
  if (values.help) {
    io.stdout(RUNTIME_USAGE);
    return 0;
  }
  const running = (): SupervisorState | null => {
    const state = readSupervisorState(paths.state);
    return state && pidAlive(state.pid) ? state : null;
  };

  switch (command) {
    case "up": {
      const existing = running();
      if (existing && io.env[DETACHED_CHILD] !== "1") {
        io.stderr(
          `warden up: already running (supervisor pid ${existing.pid}, ${paths.home}); warden status`,
        );
        return 1;
      }
      if (values.detach)
        return detach(paths.home, paths.log("supervisor"), paths.state, {
          ...io,
          // The background supervisor reads the flags from its environment.
          env: { ...io.env, ...flagsAsEnv(flags, io.env) },
        });
      return up(config, io);
    }
    case "status": {
      const state = running();
      if (!state) {
        io.stderr(`warden status: not running (${paths.home}); start it with warden up`);
        return 1;
      }
      const extra = await liveFacts(state);
      const versions = await componentVersions(state.components.map((c) => c.name));
      if (values.json) {
        const components = state.components.map((c) => ({ ...c, version: versions[c.name] ?? "-" }));
        io.stdout(
          JSON.stringify({ ...state, components, ...extra, metrics: metricsEndpoints(state) }, null, 2),
        );
      } else {
        io.stdout(
          `supervisor pid ${state.pid}, up since ${state.startedAt}, ${state.ready ? "ready" : "starting"}`,
        );
        io.stdout(
          `home ${state.home}; agents call ${state.agentUrl}; control plane ${state.controlPlaneUrl}`,
        );
        io.stdout(
          `policy revision ${extra.policyRevision ?? "-"}; agents registered ${extra.agentCount ?? "-"}`,
        );
        for (const head of extra.auditHeads ?? [])
          io.stdout(
            `audit chain ${head.tenant}: ${head.last_seq} rows, head ${head.last_hash.slice(0, 16)}…`,
          );
        io.stdout("");
        io.stdout(
          `${"component".padEnd(16)}${"version".padEnd(22)}${"pid".padEnd(9)}${"state".padEnd(12)}${"health".padEnd(10)}${"restarts".padEnd(10)}ports`,
        );
        for (const c of state.components) {
          const ports = Object.entries(c.ports)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ");
          io.stdout(
            `${c.name.padEnd(16)}${(versions[c.name] ?? "-").padEnd(22)}${String(c.pid ?? "-").padEnd(9)}${c.state.padEnd(12)}${(c.healthy ? "healthy" : "unhealthy").padEnd(10)}${String(c.restarts).padEnd(10)}${ports}`,
          );
        }
        io.stdout("");
        io.stdout("metrics (Prometheus):");
        for (const { component, url } of metricsEndpoints(state))
          io.stdout(`  ${component.padEnd(22)}${url}`);
      }
      return state.ready && state.components.every((c) => c.healthy) ? 0 : 1;
    }
    case "logs":
      return logs(paths.logs, positionals[0], values.follow === true, io);
    case "down": {
      const state = running();
      if (!state) {
        io.stdout(`warden down: not running (${paths.home})`);
        return 0;
      }
      process.kill(state.pid, "SIGTERM");
      const deadline = Date.now() + 90_000;
      while (pidAlive(state.pid) && Date.now() < deadline) await sleep(200);
      if (pidAlive(state.pid)) {
        io.stderr(`warden down: supervisor pid ${state.pid} still running after 90 s`);
        return 1;
      }
      io.stdout("warden down: stopped");
      return 0;
    }
    case "login": {
      const state = running();
      if (!state) {
        io.stderr(`warden login: no stack running from ${paths.home}; start it with warden up`);
        return 1;
      }
      const user = typeof values.user === "string" ? values.user : DEV_ADMIN;
      const given = process.stdin.isTTY ? "" : await readStdin();
      const password = given || ensureAccounts(paths.oidc)[user]?.password;
      if (!password) {
        io.stderr(`warden login: no password for "${user}" (give it on stdin)`);
        return 1;
      }
      const response = await fetch(`${state.oidcIssuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "password", username: user, password }).toString(),
      });
      const body = (await response.json()) as { access_token?: string; error_description?: string };
      if (!response.ok || !body.access_token) {
        io.stderr(`warden login: refused: ${body.error_description ?? response.status}`);
        return 1;
      }
      const file = saveCliToken(paths.home, body.access_token);
      io.stdout(
        `warden login: logged in as ${user} (development issuer); token kept in ${file} for one hour`,
      );
      return 0;
    }
    default:
      io.stderr(RUNTIME_USAGE);
      return 2;
  }
}

async function up(config: ReturnType<typeof loadRuntimeConfig>, io: CliIo): Promise<number> {
  const begun = Date.now();
  io.stdout(`warden up: starting the stack in ${config.home}`);
  let supervisor;
  try {
    supervisor = createSupervisor(config, (line) => io.stdout(line));
  } catch (error) {
    io.stderr(`warden up: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
  });
  try {
    await Promise.race([supervisor.start(), stopped.then(() => Promise.reject(new Error("interrupted")))]);
  } catch (error) {
    await supervisor.stop();
    io.stderr(`warden up: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const state = supervisor.state();
  io.stdout(`warden up: ready in ${((Date.now() - begun) / 1000).toFixed(1)} s`);
  io.stdout(`  agents: ${state.agentUrl} (mTLS with an SVID from ${state.workloadEndpoint})`);
  io.stdout(`  control plane: ${state.controlPlaneUrl}; logs: ${homePaths(config.home).logs}`);
  for (const route of config.mcpRoutes)
    io.stdout(`  MCP server ${route.service}: ${state.agentUrl}${route.pathPrefix}`);
  if (config.inboundMcp && state.inboundMcpUrl)
    io.stdout(
      `  inbound sidecar of MCP server ${config.inboundMcp.server}: ${state.inboundMcpUrl} (resource ${config.inboundMcp.resourceUri})`,
    );
  if (state.zeroCode)
    io.stdout(
      `  zero-code: agent ${state.zeroCode.agent} at ${state.zeroCode.url} (plain HTTP on loopback: whatever reaches it acts as ${state.zeroCode.spiffeId}; docs/zero-code.md)`,
    );
  await stopped;
  io.stdout("warden up: stopping");
  await supervisor.stop();
  io.stdout("warden up: stopped");
  return 0;
}

function runtimeFlags(values: Record<string, string | boolean | string[] | undefined>): RuntimeFlags {
  const text = (name: string) => (typeof values[name] === "string" ? values[name] : undefined);
  const servers = values["mcp-server"];
  const flags: RuntimeFlags = {
    ...(Array.isArray(servers) && servers.length > 0 ? { mcpServers: servers } : {}),
    ...(text("inbound-mcp") !== undefined ? { inboundMcp: text("inbound-mcp") } : {}),
    ...(text("upstream") !== undefined ? { upstream: text("upstream") } : {}),
    ...(text("resource-uri") !== undefined ? { resourceUri: text("resource-uri") } : {}),
    ...(text("zero-code-agent") !== undefined ? { zeroCodeAgent: text("zero-code-agent") } : {}),
    ...(text("zero-code-port") !== undefined ? { zeroCodePort: text("zero-code-port") } : {}),
    ...(text("otlp-endpoint") !== undefined ? { otlpEndpoint: text("otlp-endpoint") } : {}),
    ...(values["with-idp"] === true ? { withIdp: true } : {}),
  };
  return flags;
}

/** The same settings as environment variables (for the detached supervisor, which gets no flags). */
function flagsAsEnv(flags: RuntimeFlags, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...(flags.mcpServers
      ? { WARDEN_MCP_SERVERS: [env.WARDEN_MCP_SERVERS ?? "", ...flags.mcpServers].filter(Boolean).join(",") }
      : {}),
    ...(flags.inboundMcp !== undefined ? { WARDEN_INBOUND_MCP_SERVER: flags.inboundMcp } : {}),
    ...(flags.upstream !== undefined ? { WARDEN_INBOUND_UPSTREAM: flags.upstream } : {}),
    ...(flags.resourceUri !== undefined ? { WARDEN_INBOUND_RESOURCE_URI: flags.resourceUri } : {}),
    ...(flags.zeroCodeAgent !== undefined ? { WARDEN_ZERO_CODE_AGENT: flags.zeroCodeAgent } : {}),
    ...(flags.zeroCodePort !== undefined ? { WARDEN_ZERO_CODE_PORT: flags.zeroCodePort } : {}),
    ...(flags.otlpEndpoint !== undefined ? { WARDEN_OTLP_ENDPOINT: flags.otlpEndpoint } : {}),
    ...(flags.withIdp ? { WARDEN_WITH_IDP: "true" } : {}),
  };
}

/** Starts the supervisor in the background and returns once it is ready (or failed). */
async function detach(home: string, logPath: string, statePath: string, io: CliIo): Promise<number> {
  mkdirSync(join(home, "logs"), { recursive: true });
  const previousRuns = existsSync(logPath) ? statSync(logPath).size : 0;
  const out = openSync(logPath, "a");
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, "dist", "control-plane", "src", "cli", "main.js"), "up"],
    {
      detached: true,
      stdio: ["ignore", out, out],
      env: { ...io.env, [DETACHED_CHILD]: "1" },
    },
  );
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    io.stderr("warden up: could not start the supervisor");
    return 1;
  }
  for (;;) {
    await sleep(250);
    const state = readSupervisorState(statePath);
    if (state?.pid === pid && state.ready) {
      io.stdout(
        `warden up: ready in ${((Date.now() - started) / 1000).toFixed(1)} s (supervisor pid ${pid}); warden status`,
      );
      return 0;
    }
    if (!pidAlive(pid)) {
      // This run's reason only, not earlier runs' lines.
      const thisRun = readFileSync(logPath).subarray(previousRuns).toString("utf8").split("\n");
      const reasons = thisRun.filter(
        (line) => line.startsWith("warden up: ") && !line.includes("starting the stack"),
      );
      io.stderr(reasons.join("\n") || `warden up: the supervisor stopped while starting (${logPath})`);
      return 1;
    }
  }
}

interface LiveFacts {
  policyRevision?: string;
  agentCount?: number;
  /** Per tenant: the audit chain's last sequence number and hash. */
  auditHeads?: { tenant: string; last_seq: string; last_hash: string }[];
}

async function liveFacts(state: SupervisorState): Promise<LiveFacts> {
  const facts: LiveFacts = {};
  try {
    if (await httpOk(`${state.authzStatusUrl}/status`)) {
      const status = (await (await fetch(`${state.authzStatusUrl}/status`)).json()) as Record<
        string,
        unknown
      >;
      const policy = status.policy as { revision?: string } | undefined;
      const revision = policy?.revision ?? status.revision;
      if (typeof revision === "string") facts.policyRevision = revision;
    }
  } catch {
    // shown as "-"
  }
  try {
    const result = await querySql(state.databaseUrl, "SELECT count(*)::int AS n FROM agents");
    facts.agentCount = (result.rows[0] as { n: number }).n;
    const heads = await querySql(
      state.databaseUrl,
      "SELECT tenant, last_seq::text, last_hash FROM audit_chain_heads ORDER BY tenant",
    );
    facts.auditHeads = heads.rows as LiveFacts["auditHeads"];
  } catch {
    // shown as "-"
  }
  return facts;
}

async function logs(dir: string, component: string | undefined, follow: boolean, io: CliIo): Promise<number> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".log")) : [];
  if (component === undefined) {
    for (const file of files.sort()) {
      io.stdout(`==> ${basename(file, ".log")} <==`);
      io.stdout(readFileSync(join(dir, file), "utf8").trimEnd().split("\n").slice(-10).join("\n"));
    }
    return 0;
  }
  const path = join(dir, `${component}.log`);
  if (!existsSync(path)) {
    io.stderr(
      `warden logs: no log for "${component}"; there are: ${files.map((f) => basename(f, ".log")).join(", ")}`,
    );
    return 2;
  }
  const text = readFileSync(path, "utf8");
  io.stdout(text.trimEnd());
  if (!follow) return 0;
  let offset = statSync(path).size;
  await new Promise<void>((resolve) => {
    const watcher = watch(path, () => {
      const size = statSync(path).size;
      if (size < offset) offset = 0;
      if (size === offset) return;
      const fd = openSync(path, "r");
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      closeSync(fd);
      offset = size;
      io.stdout(buffer.toString("utf8").trimEnd());
    });
    process.once("SIGINT", () => {
      watcher.close();
      resolve();
    });
  });
  return 0;
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of process.stdin as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts).toString("utf8").trim();
}
