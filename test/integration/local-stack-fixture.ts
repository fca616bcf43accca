import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { DEFAULT_PORTS } from "../../lib/src/runtime/layout.js";
import { WorkloadApiClient } from "../../lib/src/spiffe/workload-client.js";
import { SvidHttpsClient, type AgentResponse } from "../agents/svid-https-client.js";
import { PICK_FROM, PICK_TO } from "../../lib/src/runtime/child.js";
import { portAcceptsConnections, REPO_ROOT, waitFor } from "../harness/process.js";
import { CHAT_BODY } from "../support/chat-request.js";

/**
 * What the suites that start the one-machine stack the way a user does share (`warden up`, the
 * quickstart page, the by-hand guide): a free port base, the `sh` blocks of a page run in one bash,
 * the CLI as a user runs it, and an agent's chat call through the sidecar.
 */
export const CLI = join(REPO_ROOT, "dist", "control-plane", "src", "cli", "main.js");
/** How many ports a `warden up` stack uses from WARDEN_PORT_BASE on. */
const PORT_COUNT = Object.keys(DEFAULT_PORTS).length;

/** A port base with every port of the stack free. */
export async function freePortBase(): Promise<number> {
  for (;;) {
    // Below the kernel's ephemeral range, like freePort: no outgoing connection can take one of them.
    const base = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM - PORT_COUNT));
    const busy = await Promise.all(
      Array.from({ length: PORT_COUNT }, (_, i) => portAcceptsConnections(base + i)),
    );
    if (!busy.some(Boolean)) return base;
  }
}

/** The `sh` blocks of a markdown text, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

export interface ShellRun {
  code: number | null;
  /** Each block's standard output. */
  blocks: string[];
  stderr: string;
}

/** Runs the blocks in one bash from the checkout (variables carry over), each block's output after a marker line. */
export function runShellBlocks(blocks: string[], env: NodeJS.ProcessEnv): Promise<ShellRun> {
  const marker = "::page-block::";
  const script = ["set -euo pipefail", ...blocks.flatMap((block) => [`echo '${marker}'`, block])].join("\n");
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", script], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("close", (code) => resolve({ code, blocks: stdout.split(`${marker}\n`).slice(1), stderr }));
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `warden <args>` from dist/, with `input` on stdin. */
export function runWardenCli(args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env, timeout: 240_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? "");
  });
}

/** A chat completion through the sidecar's OpenAI route, as the agent with its SVID. */
export function postChat(agent: SvidHttpsClient | undefined, agentUrl: string): Promise<AgentResponse> {
  if (!agent) return Promise.reject(new Error("no agent (its onboarding failed)"));
  return agent.request(`${agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: CHAT_BODY,
    timeoutMs: 5_000,
  });
}

/** The `error.code` of a refusal's JSON body, "" when there is none. */
export function refusalCode(response: AgentResponse): string {
  try {
    return (JSON.parse(response.body) as { error?: { code?: string } }).error?.code ?? "";
  } catch {
    return "";
  }
}

/** An agent of the test process's uid, calling with the X.509-SVID the SPIRE agent at `workloadEndpoint` gives it. */
export async function connectSvidAgent(
  workloadEndpoint: string,
  sidecarSpiffeId: string,
): Promise<{ client: SvidHttpsClient; close(): void }> {
  const workload = new WorkloadApiClient({ endpoint: workloadEndpoint });
  const watcher = workload.watchX509Svids({ retryMaxMs: 250 });
  const client = new SvidHttpsClient(watcher, sidecarSpiffeId);
  const close = () => {
    client.close();
    watcher.close();
    workload.close();
  };
  try {
    await client.ready(30_000);
  } catch (error) {
    close();
    throw error;
  }
  return { client, close };
}

/** Calls until the sidecar refuses with `code` (the registry reached authz-server); the last answer. */
export async function waitForRefusal(
  call: () => Promise<AgentResponse>,
  code: string,
): Promise<AgentResponse> {
  let last: AgentResponse | undefined;
  await waitFor(`a refusal with ${code}`, async () => refusalCode((last = await call())) === code, 20_000);
  return last!;
}
