import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentResponse } from "../agents/svid-https-client.js";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS, waitFor } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";
import {
  CLI,
  connectSvidAgent,
  freePortBase,
  postChat,
  runShellBlocks,
  runWardenCli,
  shellBlocks,
  type ShellRun,
  waitForRefusal,
} from "./local-stack-fixture.js";

/**
 * docs/running.md, "By hand", verbatim: the section's `sh` blocks run in order in one bash from the
 * checkout, as an operator would paste them, with a fresh WARDEN_HOME and port base. The stack they
 * start must govern: the agent the guide onboards (under this process's uid) is refused until a
 * reviewer approves its KYA, then reaches the provider with the key held in OpenBao. The guide's last
 * block stops everything. The only stand-in is the provider (WARDEN_DEV_UPSTREAM).
 */
const PAGE = join(REPO_ROOT, "docs", "running.md");
const SECTION = "## By hand: the steps the supervisor takes, in order";
/** The block that onboards the first agent (the one before the stop block). */
const ONBOARDING_BLOCK = 11;
const PROVIDER_KEY = "sk-by-hand-held-in-openbao-7d2a";

let home: string;
let portBase: number;
let upstream: StubUpstream;
let env: NodeJS.ProcessEnv;
let started: ShellRun | undefined;
let agent: Awaited<ReturnType<typeof connectSvidAgent>> | undefined;

/** The `sh` blocks of the by-hand section (up to the next `## ` heading), in order. */
function guideBlocks(): string[] {
  const page = readFileSync(PAGE, "utf8");
  const start = page.indexOf(`${SECTION}\n`);
  if (start < 0) throw new Error(`docs/running.md has no "${SECTION}" section`);
  const rest = page.slice(start + SECTION.length);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return shellBlocks(section);
}

function failure(run: ShellRun): string {
  const logs = join(home, "logs");
  const tails = existsSync(logs)
    ? readdirSync(logs).map((log) => `--- ${log}\n${readFileSync(join(logs, log), "utf8").slice(-2_000)}`)
    : [];
  return `exit ${run.code}:\n${run.blocks.join("")}\n${run.stderr}\n${tails.join("\n")}`;
}

/** The pids the guide's programs left in $H/run. */
function guidePids(): Map<string, number> {
  const dir = join(home, "run");
  if (!existsSync(dir)) return new Map();
  return new Map(
    readdirSync(dir)
      .filter((file) => file.endsWith(".pid"))
      .map((file) => [file.replace(/\.pid$/, ""), Number(readFileSync(join(dir, file), "utf8").trim())]),
  );
}

const call = (): Promise<AgentResponse> => postChat(agent?.client, `https://127.0.0.1:${portBase}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A token of the development issuer, with the password the issuer keeps in the guide's home. */
async function tokenFor(user: string): Promise<string> {
  const accounts = JSON.parse(readFileSync(join(home, "oidc", "accounts.json"), "utf8")) as Record<
    string,
    { password: string }
  >;
  const response = await fetch(`http://127.0.0.1:${portBase + 6}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: user, password: accounts[user]!.password }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  // Short: the SPIRE sockets live under it (unix socket paths are limited to 107 bytes).
  home = mkdtempSync(join(tmpdir(), "wbh-"));
  portBase = await freePortBase();
  upstream = await startStubUpstream();
  env = {
    ...process.env,
    WARDEN_HOME: home,
    WARDEN_PORT_BASE: String(portBase),
    WARDEN_DEV_UPSTREAM: `127.0.0.1:${upstream.port}`,
    OPENAI_API_KEY: PROVIDER_KEY,
    AGENT_UID: String(process.getuid?.() ?? 0),
    AGENT_IMAGE_DIGEST: `sha256:${"d".repeat(64)}`,
    WARDEN_API_URL: "",
    WARDEN_TOKEN: "",
    WARDEN_TOKEN_FILE: "",
  };
  // Every block but the last, which stops the stack.
  started = await runShellBlocks(guideBlocks().slice(0, -1), env);
}, 600_000);

afterAll(async () => {
  agent?.close();
  // Whatever the stop block did not stop (it failed, or was never reached).
  for (const pid of guidePids().values()) if (alive(pid)) process.kill(pid, "SIGKILL");
  await waitFor(
    "the guide's programs to exit",
    async () => ![...guidePids().values()].some(alive),
    10_000,
  ).catch(() => undefined);
  await upstream?.close();
  if (home) rmSync(home, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

/** Runs the guide's stop block; every program it started has exited, its pid file gone. */
async function stopTheStack(pids: Map<string, number>): Promise<void> {
  expect(pids.size).toBeGreaterThan(0);
  const stopped = await runShellBlocks(guideBlocks().slice(-1), env);
  if (stopped.code !== 0) throw new Error(`the stop block failed (${failure(stopped)})`);
  for (const [name, pid] of pids) expect([name, alive(pid)]).toEqual([name, false]);
  expect(guidePids().size).toBe(0);
}

describe("docs/running.md by hand, run verbatim", () => {
  test("every block up to the stop block runs and the shell exits 0", () => {
    expect(guideBlocks()).toHaveLength(13);
    if (started!.code !== 0) throw new Error(`the guide failed (${failure(started!)})`);
    expect(started!.blocks).toHaveLength(12);
    expect(started!.blocks[ONBOARDING_BLOCK - 1]).toContain(
      `Warden is up: agents call https://127.0.0.1:${portBase}`,
    );
    expect([...guidePids().keys()].sort()).toEqual(
      [
        "authz-server",
        "control-plane",
        "dev-oidc",
        "envoy",
        "extproc-server",
        "openbao",
        "postgres",
        "spire-agent",
        "spire-server",
      ].sort(),
    );
  });

  test("the guide's agent is refused until a reviewer approves its KYA, then calls with the OpenBao key", async () => {
    const attestation = /KYA submitted: ([0-9a-f-]{36})/.exec(started!.blocks[ONBOARDING_BLOCK] ?? "")?.[1];
    if (!attestation)
      throw new Error(`no attestation in the onboarding block: ${started!.blocks[ONBOARDING_BLOCK]}`);
    agent = await connectSvidAgent(
      `unix://${join(home, "spire", "agent.sock")}`,
      "spiffe://warden.local/warden/envoy",
    );
    let last = await waitForRefusal(call, "kya_pending");
    expect(last.status).toBe(403);
    expect(upstream.requests).toEqual([]);

    const approved = await runWardenCli(
      ["kya", "approve", attestation, "--level", "2", "--capability", "llm:chat"],
      {
        ...env,
        WARDEN_API_URL: `http://127.0.0.1:${portBase + 5}`,
        WARDEN_TOKEN: await tokenFor("reviewer"),
      },
    );
    expect(approved.stderr).toBe("");
    expect(approved.code).toBe(0);
    await waitFor("the approval to be enforced", async () => (last = await call()).status === 200, 20_000);
    expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(started!.blocks.join("")).not.toContain(PROVIDER_KEY);
  }, 120_000);

  test("the stop block stops every program the guide started", async () => {
    const pids = guidePids();
    agent?.close();
    agent = undefined;
    await stopTheStack(pids);
  }, 240_000);

  test("started again from the same home, the guide keeps the state: the approved agent calls again", async () => {
    // Every block but the first agent's: later starts skip what exists and re-attest with kept SVIDs.
    const again = await runShellBlocks(guideBlocks().slice(0, ONBOARDING_BLOCK), env);
    if (again.code !== 0) throw new Error(`the second start failed (${failure(again)})`);
    expect(again.blocks.join("")).not.toMatch(/^registered /m);
    agent = await connectSvidAgent(
      `unix://${join(home, "spire", "agent.sock")}`,
      "spiffe://warden.local/warden/envoy",
    );
    await waitFor("the agent's calls to be allowed again", async () => (await call()).status === 200, 30_000);
    agent.close();
    agent = undefined;
    await stopTheStack(guidePids());
  }, 300_000);
});
