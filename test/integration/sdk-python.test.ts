import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { supervisorStateSchema, type SupervisorState } from "../../lib/src/runtime/state.js";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS, waitFor } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { agentAddArgs, kyaApproveArgs, wardenEnv } from "../harness/warden-cli.js";
import { startAnthropicStub } from "../stubs/llm-anthropic.js";
import { startMcpFilesServer, type McpFilesServer } from "../stubs/mcp-files-server.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { listen } from "../stubs/stub-http.js";
import { spirePaths } from "../../lib/src/runtime/components/spire.js";
import { homePaths, toolPath } from "../../lib/src/runtime/layout.js";
import { SpireRegistrar } from "../../lib/src/spiffe/registration.js";
import {
  CLI,
  connectSvidAgent,
  freePortBase,
  postChat,
  runWardenCli,
  type CliResult,
} from "./local-stack-fixture.js";

/**
 * The Python SDK (sdk/python, agent_warden) against the real stack as `warden up` starts it: SPIRE's
 * Workload API gives the SVID, Envoy verifies it, authz-server and extproc-server decide and inject
 * the OpenBao-held keys. Only the LLM providers are stubs. The pytest suites under
 * sdk/python/tests/stack run as the agent (this process's uid), with the sidecar's URL and SPIFFE ID
 * and the Workload API socket in their environment, as a user would configure them.
 */
const PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");
const SDK = join(REPO_ROOT, "sdk", "python");
const OPENAI_KEY = "sk-vault-openai-sdk-python-1f2e3d";
const ANTHROPIC_KEY = "sk-ant-vault-sdk-python-4c5b6a";
/** What the agent's KYA verifies: chat, the Drive scope its user delegates, the MCP server and its tools. */
const CAPABILITIES = [
  "llm:chat",
  "google-drive:read",
  "mcp:files",
  "mcp:read_file",
  "mcp:delete_file",
  "mcp:share_file",
];
/** The `files` server owner's rules: read freely, never delete, share only with a person's approval. */
const TOOL_RULES = {
  default: "deny",
  tools: {
    read_file: { agents: ["*"] },
    delete_file: { deny: true },
    share_file: { agents: ["*"], approval: "required" },
  },
  resources: { "file:///*": { agents: ["*"] } },
};

let home: string;
let env: NodeJS.ProcessEnv;
let openai: LlmStub;
let anthropic: LlmStub;
let router: Server;
let files: McpFilesServer;
let agentId: string;
let state: SupervisorState;
const figures: Record<string, unknown> = {};

function warden(args: string[], input?: string): Promise<CliResult> {
  return runWardenCli(args, env, input);
}

async function ok(args: string[], input?: string): Promise<CliResult> {
  const result = await warden(args, input);
  if (result.code !== 0) throw new Error(`warden ${args.join(" ")}: ${result.stderr}${result.stdout}`);
  return result;
}

/** One loopback port for WARDEN_DEV_UPSTREAM: Anthropic's path to its stub, the rest to OpenAI's. */
async function startRouter(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const target = req.url?.startsWith("/v1/messages") ? anthropic : openai;
    const upstream = httpRequest(
      { host: "127.0.0.1", port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  return { server, port: await listen(server, "127.0.0.1") };
}

interface PytestRun {
  code: number;
  output: string;
}

function pytest(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<PytestRun> {
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", ...args],
      {
        cwd: SDK,
        timeout: 240_000,
        env: {
          ...process.env,
          PYTHONPATH: SDK,
          PYTHONDONTWRITEBYTECODE: "1",
          WARDEN_SDK_STACK: "1",
          WARDEN_SIDECAR_URL: state.agentUrl,
          WARDEN_SIDECAR_SPIFFE_ID: state.envoySpiffeId,
          SPIFFE_ENDPOINT_SOCKET: state.workloadEndpoint,
          ...extraEnv,
        },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? Number((error as { code?: unknown }).code ?? 1) : 0,
          output: stdout + stderr,
        }),
    );
  });
}

/** "12 passed" → 12, from pytest's summary line. */
function count(output: string, what: string): number {
  return Number(new RegExp(`(\\d+) ${what}`).exec(output)?.[1] ?? 0);
}

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup`);
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  home = mkdtempSync(join(tmpdir(), "sdkpy-"));
  openai = await startOpenAiStub({ validKeys: () => [OPENAI_KEY] });
  anthropic = await startAnthropicStub({ validKeys: () => [ANTHROPIC_KEY] });
  const routed = await startRouter();
  router = routed.server;
  files = await startMcpFilesServer();
  env = wardenEnv(home, await freePortBase(), `127.0.0.1:${routed.port}`);
  await ok(["up", "--detach", "--mcp-server", `files=http://127.0.0.1:${files.port}`]);
  state = supervisorStateSchema.parse(JSON.parse((await ok(["status", "--json"])).stdout));
  await ok(["login"]);
  await ok(["llm-key", "set", "openai"], `${OPENAI_KEY}\n`);
  await ok(["llm-key", "set", "anthropic"], `${ANTHROPIC_KEY}\n`);
  const added = await ok(agentAddArgs("sdk-python-agent", { capabilities: CAPABILITIES }));
  const { agent, attestation } = JSON.parse(added.stdout) as {
    agent: { id: string };
    attestation: { id: string };
  };
  agentId = agent.id;
  await ok([
    "mcp-servers",
    "create",
    "--name",
    "files",
    "--tenant",
    "default",
    "--team",
    "default",
    "--type",
    "file-store",
    "--environment",
    "development",
  ]);
  const rules = join(home, "files-rules.json");
  writeFileSync(rules, JSON.stringify(TOOL_RULES));
  await ok(["mcp", "rules", "set", "files", "--file", rules]);
  figures.attestation = attestation.id;
}, 300_000);

afterAll(async () => {
  if (env) await warden(["down"]);
  await Promise.all([openai?.close(), anthropic?.close(), files?.close()]);
  await new Promise((resolve) => (router ? router.close(resolve) : resolve(undefined)));
  if (home) rmSync(home, { recursive: true, force: true });
  process.stdout.write(`sdk-python figures: ${JSON.stringify(figures)}\n`);
}, TEARDOWN_TIMEOUT_MS);

test("offline suites: SPIFFE-ID verification, rotation, every reason's typed error, retries", async () => {
  const run = await pytest(["tests", "--ignore=tests/stack"], { WARDEN_SDK_STACK: "" });
  figures.offlinePassed = count(run.output, "passed");
  if (run.code !== 0) process.stdout.write(run.output);
  expect(run.code).toBe(0);
  // Every reason of sdk/reasons.json in five refusal shapes, plus the TLS, retry and README checks.
  expect(figures.offlinePassed).toBeGreaterThanOrEqual(80);
}, 120_000);

test("before KYA approval the SDK raises KyaError (kya_pending, 403, a decision id)", async () => {
  const run = await pytest(["tests/stack/test_unapproved.py"], { WARDEN_SDK_PHASE: "unapproved" });
  expect(run.output).toMatch(/1 passed/);
  expect(run.code).toBe(0);
}, 120_000);

test("approved: the SDK's stack suite passes (httpx, openai, anthropic, streaming, delegation, typed refusals, README)", async () => {
  await ok(["login", "--user", "reviewer"]);
  await ok(kyaApproveArgs(String(figures.attestation), CAPABILITIES));
  // The approval reached authz-server: a call with the SVID from this process passes.
  const probe = await connectSvidAgent(state.workloadEndpoint, state.envoySpiffeId);
  try {
    await waitFor(
      "the approval to be enforced",
      async () => (await postChat(probe.client, state.agentUrl)).status === 200,
      30_000,
    );
  } finally {
    probe.close();
  }
  await ok(["login", "--user", "user"]); // tenant default: the agent's
  // A user's delegation to this agent, and a second one limited to another service.
  const grant = async (...extra: string[]): Promise<string> => {
    const granted = await warden([
      "delegations",
      "grant",
      "--agent",
      agentId,
      "--scope",
      "google-drive:read",
      "--ttl",
      "1h",
      ...extra,
      "--json",
    ]);
    if (granted.code !== 0) throw new Error(`delegations grant: ${granted.stderr}${granted.stdout}`);
    return (JSON.parse(granted.stdout) as { token: string }).token;
  };
  const token = await grant();
  const narrowToken = await grant("--destination", "google-drive");
  const started = Date.now();
  const run = await pytest(["tests/stack", "tests/test_readme.py"], {
    WARDEN_SDK_PHASE: "approved",
    WARDEN_DELEGATION_TOKEN: token,
    WARDEN_DELEGATION_TOKEN_NARROW: narrowToken,
    WARDEN_SDK_MCP_SERVER: "files",
  });
  figures.pytestMs = Date.now() - started;
  figures.passed = count(run.output, "passed");
  figures.skipped = count(run.output, "skipped");
  if (run.code !== 0) process.stdout.write(run.output);
  expect(run.code).toBe(0);
  expect(count(run.output, "failed")).toBe(0);
  expect(figures.passed).toBeGreaterThanOrEqual(14);
  // The MCP server saw the allowed calls and never the forbidden or held ones.
  expect(files.callsOf("read_file")).toBeGreaterThanOrEqual(1);
  expect(files.callsOf("delete_file")).toBe(0);
  expect(files.callsOf("share_file")).toBe(0);
  // Warden injected the OpenBao-held keys: what reached the providers is theirs, never the SDK's placeholder.
  expect(openai.requests.at(-1)?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
  expect(anthropic.requests.some((r) => r.headers["x-api-key"] === ANTHROPIC_KEY)).toBe(true);
  expect(JSON.stringify([...openai.requests, ...anthropic.requests].map((r) => r.headers))).not.toContain(
    "warden-injects-the-key",
  );
}, 300_000);

interface RotationSummary {
  calls: number;
  failures: number;
  serials: string[];
  rotations: number;
  errors: string[];
}

function rotationCheck(seconds: number): Promise<{ code: number; summary: RotationSummary }> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [join(SDK, "tests", "rotation_check.py"), "--seconds", String(seconds), "--interval-ms", "100"],
      {
        timeout: (seconds + 60) * 1000,
        env: {
          ...process.env,
          PYTHONPATH: SDK,
          PYTHONDONTWRITEBYTECODE: "1",
          WARDEN_SIDECAR_URL: state.agentUrl,
          WARDEN_SIDECAR_SPIFFE_ID: state.envoySpiffeId,
          SPIFFE_ENDPOINT_SOCKET: state.workloadEndpoint,
        },
      },
      (error, stdout, stderr) => {
        const last = stdout.trim().split("\n").at(-1) ?? "";
        try {
          resolve({ code: error ? 1 : 0, summary: JSON.parse(last) as RotationSummary });
        } catch {
          reject(new Error(`rotation_check.py printed no summary: ${stdout}${stderr}`));
        }
      },
    );
  });
}

test("the rotation check script calls through the sidecar and reports its figures as JSON", async () => {
  const { code, summary } = await rotationCheck(5);
  figures.rotationCheck = summary;
  expect(summary.failures).toBe(0);
  expect(code).toBe(0);
  expect(summary.calls).toBeGreaterThanOrEqual(10);
  expect(summary.serials.length).toBeGreaterThanOrEqual(1);
}, 90_000);

/**
 * The agent's entry re-registered with a 60 s X.509-SVID TTL: SPIRE rotates it about every 30 s
 * while the SDK keeps calling. Long (WARDEN_ROTATION_MS, 3 minutes by default): only with
 * WARDEN_LONG_TESTS=1 (the SDK rotation suite runs the same script in CI). Runs after the approval
 * above (the whole file, not `-t` alone: without the approval every call is kya_pending).
 */
(process.env.WARDEN_LONG_TESTS === "1" ? test : test.skip)(
  "60 s SVIDs: calls keep passing across rotations with 0 failures",
  async () => {
    const seconds = Number(process.env.WARDEN_ROTATION_MS ?? 180_000) / 1000;
    const registrar = new SpireRegistrar({
      serverSocketPath: spirePaths(homePaths(home).spire).serverSocket,
      serverBinary: toolPath("spire-server"),
    });
    const [entry] = await registrar.list({ spiffeId: "spiffe://warden.local/agent/sdk-python-agent" });
    if (!entry) throw new Error("the agent's SPIRE entry is missing");
    await registrar.delete(entry.id);
    await registrar.create({
      spiffeId: entry.spiffeId,
      parentId: entry.parentId,
      selectors: entry.selectors,
      x509SvidTtlSeconds: 60,
    });
    const { code, summary } = await rotationCheck(seconds);
    figures.rotation60s = { ...summary, seconds };
    expect(summary.failures).toBe(0);
    expect(code).toBe(0);
    // The first serial is the 1 h SVID; then one about every 30 s.
    expect(summary.rotations).toBeGreaterThanOrEqual(Math.floor(seconds / 60));
  },
  600_000,
);
