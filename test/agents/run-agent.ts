import { execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, RUN_DIR, startProcess, type ManagedProcess } from "../harness/process.js";

/**
 * Runs test agents as real, separate workloads: their own process under their own uid (the SPIRE
 * unix attestor tells workloads apart by uid), built to JS under dist/ like the servers.
 */
const AGENTS_DIR = join(REPO_ROOT, "test", "agents");
const EXAMPLE_AGENT_JS = join(REPO_ROOT, "dist", "test", "agents", "example-agent.js");

export function ensureAgentsBuilt(): void {
  const sources = readdirSync(AGENTS_DIR).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  const newest = Math.max(...sources.map((f) => statSync(join(AGENTS_DIR, f)).mtimeMs));
  if (existsSync(EXAMPLE_AGENT_JS) && statSync(EXAMPLE_AGENT_JS).mtimeMs >= newest) return;
  mkdirSync(RUN_DIR, { recursive: true });
  const tsconfig = join(RUN_DIR, "tsconfig.agents.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: "../tsconfig.build.json",
      compilerOptions: { outDir: "../dist", rootDir: "..", sourceMap: false },
      include: ["../test/agents/**/*"],
      exclude: ["../**/*.test.ts"],
    }),
  );
  execFileSync(
    "flock",
    ["/tmp/warden-build.lock", process.execPath, "node_modules/typescript/bin/tsc", "-p", tsconfig],
    { cwd: REPO_ROOT, stdio: "pipe", timeout: 300_000 },
  );
}

export interface ExampleAgentOptions {
  name: string;
  uid: number;
  /** SPIFFE_ENDPOINT_SOCKET of the SPIRE agent */
  endpoint: string;
  url: string;
  sidecarId: string;
  count?: number;
  durationMs?: number;
  intervalMs?: number;
  body?: string;
}

export interface AgentEvent {
  event: "svid" | "response" | "error" | "summary";
  [field: string]: unknown;
}

export function startExampleAgent(options: ExampleAgentOptions): ManagedProcess {
  ensureAgentsBuilt();
  const args = [EXAMPLE_AGENT_JS, "--url", options.url, "--sidecar-id", options.sidecarId];
  if (options.count !== undefined) args.push("--count", String(options.count));
  if (options.durationMs !== undefined) args.push("--duration-ms", String(options.durationMs));
  if (options.intervalMs !== undefined) args.push("--interval-ms", String(options.intervalMs));
  if (options.body !== undefined) args.push("--body", options.body);
  return startProcess({
    name: options.name,
    command: process.execPath,
    args,
    env: { SPIFFE_ENDPOINT_SOCKET: options.endpoint },
    uid: options.uid,
  });
}

/** The agent's JSON lines (stdout and stderr share the log; other lines are skipped). */
export function agentEvents(agent: ManagedProcess): AgentEvent[] {
  return agent
    .log()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as AgentEvent);
}
