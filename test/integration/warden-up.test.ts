import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { supervisorStateSchema, type SupervisorState } from "../../lib/src/runtime/state.js";
import type { AgentResponse } from "../agents/svid-https-client.js";
import { sleep, TEARDOWN_TIMEOUT_MS, waitFor } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { agentAddArgs, kyaApproveArgs, wardenEnv } from "../harness/warden-cli.js";
import { startStubUpstream, type StubUpstream } from "../stubs/upstream.js";
import {
  CLI,
  connectSvidAgent,
  freePortBase,
  postChat,
  refusalCode,
  runWardenCli,
  type CliResult,
  waitForRefusal,
} from "./local-stack-fixture.js";

/**
 * `warden up` as a user runs it: the whole stack in the background through the supervisor, state in
 * WARDEN_HOME; an agent onboarded with the CLI calls through the sidecar with its SVID; a component
 * killed with SIGKILL is restarted while requests in the gap are refused (503 JSON, never passed
 * unchecked); `warden down && warden up` keeps the records and the audit chain verifies.
 * The only stand-in is the LLM provider (WARDEN_DEV_UPSTREAM).
 */

let home: string;
let upstream: StubUpstream;
let env: NodeJS.ProcessEnv;
let agent: Awaited<ReturnType<typeof connectSvidAgent>> | undefined;
const figures: Record<string, unknown> = {};

function warden(args: string[], input?: string): Promise<CliResult> {
  return runWardenCli(args, env, input);
}

async function status(): Promise<SupervisorState & { code: number }> {
  const result = await warden(["status", "--json"]);
  return { ...supervisorStateSchema.parse(JSON.parse(result.stdout)), code: result.code };
}

async function call(): Promise<AgentResponse> {
  return postChat(agent?.client, (await status()).agentUrl);
}

async function timedUp(): Promise<number> {
  const started = Date.now();
  const up = await warden(["up", "--detach"]);
  if (up.code !== 0) throw new Error(`warden up failed: ${up.stderr}${up.stdout}`);
  return Date.now() - started;
}

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  // Short: the SPIRE sockets live under it (unix socket paths are limited to 107 bytes).
  home = mkdtempSync(join(tmpdir(), "wup-"));
  upstream = await startStubUpstream();
  env = wardenEnv(home, await freePortBase(), `127.0.0.1:${upstream.port}`);
  figures.coldStartMs = await timedUp();
}, 300_000);

afterAll(async () => {
  agent?.close();
  await warden(["down"]);
  await upstream?.close();
  if (home) rmSync(home, { recursive: true, force: true });
  process.stdout.write(`warden up figures: ${JSON.stringify(figures)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("warden up", () => {
  test("status shows every component running and healthy, with pids and ports", async () => {
    const state = await status();
    expect(state.code).toBe(0);
    expect(state.components.map((c) => c.name)).toEqual([
      "postgres",
      "openbao",
      "spire-server",
      "spire-agent",
      "redis",
      "ratelimit",
      "dev-oidc",
      "control-plane",
      "authz-server",
      "extproc-server",
      "envoy",
    ]);
    for (const component of state.components) {
      expect(component).toMatchObject({ state: "running", healthy: true, pid: expect.any(Number) });
    }
    // Each with the version the program reports (the pinned tools; our package's for our own).
    const { components } = JSON.parse((await warden(["status", "--json"])).stdout) as {
      components: { name: string; version: string }[];
    };
    const versions = Object.fromEntries(components.map((c) => [c.name, c.version]));
    expect(versions).toMatchObject({
      envoy: "1.40.0",
      openbao: "2.7.2",
      "spire-server": "1.13.3",
      redis: "7.0.15",
    });
    expect(versions["authz-server"]).toMatch(/^\d+\.\d+\.\d+ \(node 20\./);
  });

  test("an agent onboarded with the CLI is refused until KYA approval, then calls with the OpenBao key", async () => {
    expect((await warden(["login"])).code).toBe(0);
    const keySet = await warden(["llm-key", "set", "openai"], "sk-held-by-openbao\n");
    expect(keySet.stdout).not.toContain("sk-held-by-openbao");
    expect(keySet.code).toBe(0);
    const added = await warden(
      agentAddArgs("up-test-agent", {
        digestDigit: "c",
        endpoint: "https://api.openai.com/v1/chat/completions",
      }),
    );
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    const { attestation } = JSON.parse(added.stdout) as { attestation: { id: string } };

    const state = await status();
    agent = await connectSvidAgent(state.workloadEndpoint, state.envoySpiffeId);
    let last = await waitForRefusal(call, "kya_pending");
    expect(last.status).toBe(403);

    // Four eyes: another person approves.
    expect((await warden(["login", "--user", "reviewer"])).code).toBe(0);
    const approved = await warden(kyaApproveArgs(attestation.id));
    expect(approved.stderr).toBe("");
    expect(approved.code).toBe(0);
    await waitFor("the approval to be enforced", async () => (last = await call()).status === 200, 20_000);
    expect(upstream.requests.at(-1)?.headers.authorization).toBe("Bearer sk-held-by-openbao");
  }, 120_000);

  test.each(["authz-server", "extproc-server", "postgres"])(
    "kill -9 of %s: the supervisor restarts it; requests in the gap never pass unchecked",
    async (name) => {
      expect((await call()).status).toBe(200);
      const before = (await status()).components.find((c) => c.name === name)!;
      const killedAt = Date.now();
      process.kill(before.pid!, "SIGKILL");
      /** Answers while the component is down: a response, or the connection error. */
      const gap: (AgentResponse | Error)[] = [];
      let back = false;
      while (Date.now() - killedAt < 60_000) {
        const response = await call().catch((error: unknown) => error as Error);
        if (!(response instanceof Error) && response.status === 200 && (await status()).code === 0) {
          back = true;
          break;
        }
        gap.push(response);
        await sleep(100);
      }
      figures[`${name}RecoveryMs`] = Date.now() - killedAt;
      figures[`${name}Gap`] = gap
        .map((r) => (r instanceof Error ? `error ${r.message}` : `${r.status} ${refusalCode(r)}`))
        .join(", ");
      expect(back).toBe(true);
      const after = (await status()).components.find((c) => c.name === name)!;
      expect(after.restarts).toBe(before.restarts + 1);
      expect(after.pid).not.toBe(before.pid);
      const answers = gap.filter((r): r is AgentResponse => !(r instanceof Error));
      // A refusal is a JSON error; with authz-server down that is 503.
      for (const response of answers.filter((r) => r.status !== 200)) {
        expect(JSON.parse(response.body)).toMatchObject({ error: { code: expect.any(String) } });
      }
      if (name === "authz-server") expect(answers.some((r) => r.status === 503)).toBe(true);
      // Without a governance server nothing is let through (PostgreSQL down: decisions go on from
      // the registry authz-server already holds).
      if (name !== "postgres") expect(answers.filter((r) => r.status === 200)).toEqual([]);
    },
    90_000,
  );

  test("warden down && warden up keeps the agent, its KYA and the audit chain", async () => {
    const down = await warden(["down"]);
    expect(down.code).toBe(0);
    figures.warmStartMs = await timedUp();
    const agents = await warden(["agents", "list", "--json"]);
    expect(agents.code).toBe(0);
    expect(agents.stdout).toContain("up-test-agent");
    const verify = await warden(["audit", "verify"]);
    expect(verify.stdout).toMatch(/^OK/);
    expect(verify.code).toBe(0);
    await waitFor("the agent's calls to be allowed again", async () => (await call()).status === 200, 30_000);
  }, 240_000);
});
