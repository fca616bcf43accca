import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import OpenAI from "openai";
import pg from "pg";
import { requireZeroCodeEntry, spirePaths } from "../../lib/src/runtime/components/spire.js";
import { COMPONENT_UIDS, DEFAULT_PORTS, homePaths } from "../../lib/src/runtime/layout.js";
import { supervisorStateSchema, type SupervisorState } from "../../lib/src/runtime/state.js";
import { REPO_ROOT, sleep, TEARDOWN_TIMEOUT_MS, toolPath, waitFor } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { agentAddArgs, kyaApproveArgs, wardenEnv } from "../harness/warden-cli.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import {
  CLI,
  connectSvidAgent,
  freePortBase,
  postChat,
  runWardenCli,
  type CliResult,
} from "./local-stack-fixture.js";

/**
 * Zero-code mode through `warden up`, as a user runs it: the official OpenAI SDKs (npm `openai` and
 * the Python `openai` in .tools/venv) with ONLY their base URL changed (a dummy key, no certificate)
 * call through a sidecar bound to agent zc-bot. Real Envoy, SPIRE, authz-server, extproc-server,
 * OpenBao and PostgreSQL; the provider is the OpenAI stub, which accepts only the key OpenBao holds.
 */
const run = promisify(execFile);
const PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");
const CHAT_SCRIPT = join(REPO_ROOT, "test", "agents", "openai_zero_code.py");
const STREAM_SCRIPT = join(REPO_ROOT, "test", "agents", "openai_stream.py");
const VAULT_KEY = "sk-held-by-openbao-zero-code";
const DUMMY_KEY = "sk-dummy-not-a-real-key";
const BOUND = "spiffe://warden.local/agent/zc-bot";
const OTHER = "spiffe://warden.local/agent/other-bot";

let home: string;
let stub: LlmStub;
let env: NodeJS.ProcessEnv;
let zeroCodePort: number;
let baseURL: string;
let state: SupervisorState;
let db: pg.Client | undefined;
const agents: Record<string, { id: string; attestation: string }> = {};
const figures: Record<string, unknown> = {};

const warden = (args: string[], input?: string): Promise<CliResult> => runWardenCli(args, env, input);

async function status(): Promise<SupervisorState> {
  return supervisorStateSchema.parse(JSON.parse((await warden(["status", "--json"])).stdout));
}

async function up(...flags: string[]): Promise<CliResult> {
  const started = Date.now();
  const result = await warden(["up", "--detach", ...flags]);
  figures[`up ${flags.join(" ") || "(plain)"}`] = Date.now() - started;
  return result;
}

async function addAgent(name: string, selector: string): Promise<void> {
  const added = await warden(
    agentAddArgs(name, { selector, endpoint: "https://api.openai.com/v1/chat/completions" }),
  );
  if (added.code !== 0) throw new Error(`agent add ${name}: ${added.stderr}`);
  const out = JSON.parse(added.stdout) as { agent: { id: string }; attestation: { id: string } };
  agents[name] = { id: out.agent.id, attestation: out.attestation.id };
}

async function approve(name: string): Promise<void> {
  expect((await warden(["login", "--user", "reviewer"])).code).toBe(0);
  const approved = await warden(kyaApproveArgs(agents[name]!.attestation));
  expect(approved.stderr).toBe("");
  await warden(["login"]);
}

/** The npm SDK as an unmodified agent builds it: base URL and a dummy key, nothing else. */
function sdk(headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL, apiKey: DUMMY_KEY, maxRetries: 0, defaultHeaders: headers });
}

async function chat(client = sdk()): Promise<{ text: string; decisionId: string }> {
  const { data, response } = await client.chat.completions
    .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
    .withResponse();
  return {
    text: data.choices[0]?.message.content ?? "",
    decisionId: response.headers.get("x-warden-decision-id") ?? "",
  };
}

async function usageAgent(decisionId: string): Promise<string | null> {
  let agent: string | null = null;
  await waitFor(
    `the usage row of ${decisionId}`,
    async () => {
      const rows = await db!.query<{ agent_spiffe_id: string }>(
        "SELECT agent_spiffe_id FROM llm_usage WHERE decision_id = $1",
        [decisionId],
      );
      agent = rows.rows[0]?.agent_spiffe_id ?? null;
      return agent !== null;
    },
    10_000,
  );
  return agent;
}

async function python(script: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, [script, baseURL, ...args], { timeout: 30_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  home = mkdtempSync(join(tmpdir(), "wzc-"));
  stub = await startOpenAiStub({ validKeys: () => [VAULT_KEY] });
  const base = await freePortBase();
  zeroCodePort = base + Object.keys(DEFAULT_PORTS).indexOf("zeroCode");
  baseURL = `http://127.0.0.1:${zeroCodePort}/openai/v1`;
  env = wardenEnv(home, base, `127.0.0.1:${stub.port}`);
  // Off by default; the bound agent must be registered (for the sidecar's uid) before it can be named.
  const plain = await up();
  if (plain.code !== 0) throw new Error(`warden up failed: ${plain.stderr}${plain.stdout}`);
  expect((await warden(["login"])).code).toBe(0);
  expect((await warden(["llm-key", "set", "openai"], `${VAULT_KEY}\n`)).code).toBe(0);
  await addAgent("zc-bot", `unix:uid:${COMPONENT_UIDS.zeroCodeEnvoy}`);
  await addAgent("other-bot", `unix:uid:${process.getuid?.() ?? 0}`);
  await approve("other-bot");
  await warden(["down"]);
  const bound = await up("--zero-code-agent", "zc-bot", "--zero-code-port", `127.0.0.1:${zeroCodePort}`);
  if (bound.code !== 0) throw new Error(`warden up --zero-code-agent failed: ${bound.stderr}${bound.stdout}`);
  state = await status();
  db = new pg.Client({ connectionString: state.databaseUrl });
  await db.connect();
}, 600_000);

afterAll(async () => {
  await db?.end();
  await warden(["down"]);
  await stub?.close();
  if (home) rmSync(home, { recursive: true, force: true });
  process.stdout.write(`zero-code figures: ${JSON.stringify(figures)}\n`);
}, TEARDOWN_TIMEOUT_MS);

describe("zero-code mode (warden up --zero-code-agent)", () => {
  test("start-up refuses a non-loopback port and an unregistered agent, saying why", async () => {
    const open = await warden(["up", "--zero-code-agent", "zc-bot", "--zero-code-port", "0.0.0.0:4100"]);
    expect(open.code).toBe(78);
    expect(open.stderr).toContain("loopback only");
    const portOnly = await warden(["up", "--zero-code-port", "4100"]);
    expect(portOnly.stderr).toContain("only with --zero-code-agent");
    // The registration check warden up runs before starting the bound sidecar, against this SPIRE.
    const spire = spirePaths(homePaths(home).spire);
    const uid = COMPONENT_UIDS.zeroCodeEnvoy;
    await expect(
      requireZeroCodeEntry(spire, "ghost", "spiffe://warden.local/agent/ghost", uid),
    ).rejects.toThrow(`zero-code agent "ghost" is not registered`);
    await expect(requireZeroCodeEntry(spire, "other-bot", OTHER, uid)).rejects.toThrow(
      /registered, but not for its zero-code sidecar/,
    );
    await expect(requireZeroCodeEntry(spire, "zc-bot", BOUND, uid)).resolves.toBeUndefined();
  });

  test("the bound sidecar runs next to the rest, its plain-HTTP port on loopback", () => {
    expect(state.components.map((c) => c.name)).toEqual(
      expect.arrayContaining(["zero-code-authz", "zero-code-envoy"]),
    );
    expect(state.zeroCode).toMatchObject({
      agent: "zc-bot",
      spiffeId: BOUND,
      url: `http://127.0.0.1:${zeroCodePort}`,
    });
    // The kernel's view: bound to 127.0.0.1 only, not to a wildcard or another address.
    const listening = execFileSync("ss", ["-ltnH", `sport = :${zeroCodePort}`], { encoding: "utf8" });
    const locals = listening
      .trim()
      .split("\n")
      .map((line) => line.trim().split(/\s+/)[3]);
    expect(new Set(locals)).toEqual(new Set([`127.0.0.1:${zeroCodePort}`]));
  });

  test("a policy denial (KYA pending) is the SDKs' usual error: PermissionDeniedError, 403", async () => {
    let error: unknown;
    await waitFor(
      "the pending agent to be refused",
      async () => {
        error = await chat().then(
          () => null,
          (e: unknown) => e,
        );
        return error instanceof OpenAI.PermissionDeniedError;
      },
      20_000,
    );
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as InstanceType<typeof OpenAI.PermissionDeniedError>).status).toBe(403);
    expect((error as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe("kya_pending");
    expect(await python(CHAT_SCRIPT)).toEqual({
      error: "PermissionDeniedError",
      status: 403,
      code: "kya_pending",
    });
    expect(stub.requests).toHaveLength(0);
  }, 60_000);

  test("approved: npm and Python SDKs with only the base URL make governed calls as the bound agent", async () => {
    await approve("zc-bot");
    let answer: { text: string; decisionId: string } | undefined;
    await waitFor(
      "the approval to be enforced",
      async () => (answer = await chat().catch(() => undefined)) !== undefined,
      20_000,
    );
    expect(answer!.text.length).toBeGreaterThan(0);
    expect(await usageAgent(answer!.decisionId)).toBe(BOUND);
    // The provider saw Warden's key from OpenBao, never the dummy.
    expect(stub.requests.at(-1)!.headers.authorization).toBe(`Bearer ${VAULT_KEY}`);
    expect(stub.requests.some((r) => JSON.stringify(r.headers).includes(DUMMY_KEY))).toBe(false);

    const py = await python(CHAT_SCRIPT);
    expect(typeof py.text).toBe("string");
    expect(await usageAgent(py.decision_id as string)).toBe(BOUND);
    expect(stub.requests.at(-1)!.headers.authorization).toBe(`Bearer ${VAULT_KEY}`);
  }, 60_000);

  test("streaming works through both SDKs", async () => {
    const stream = await sdk({ "x-stub-events": "4" })
      .chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      })
      .withResponse();
    let text = "";
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("w0 w1 w2 w3 ");
    expect(await usageAgent(stream.response.headers.get("x-warden-decision-id")!)).toBe(BOUND);
    const py = await python(STREAM_SCRIPT, "x-stub-events=3");
    expect(py.text).toBe("w0 w1 w2 ");
    expect(await usageAgent(py.decision_id as string)).toBe(BOUND);
  }, 60_000);

  test("identity headers forged by the client are ignored (removed, never believed)", async () => {
    const forged = {
      "x-forwarded-client-cert": `By=${BOUND};URI=${OTHER}`,
      "x-spiffe-id": OTHER,
      "x-warden-agent": OTHER,
    };
    const answer = await chat(sdk(forged));
    expect(await usageAgent(answer.decisionId)).toBe(BOUND);
    const seen = stub.requests.at(-1)!.headers;
    expect(seen["x-forwarded-client-cert"]).toBeUndefined();
    expect(seen["x-spiffe-id"]).toBeUndefined();
    expect(seen["x-warden-agent"]).toBeUndefined();
    const py = await python(CHAT_SCRIPT, `x-forwarded-client-cert=URI=${OTHER}`, `x-spiffe-id=${OTHER}`);
    expect(await usageAgent(py.decision_id as string)).toBe(BOUND);
  }, 60_000);

  test("another agent cannot be the bound agent: no SVID of it, and its own SVID at the sidecar is itself", async () => {
    // Only the zero-code sidecar's uid is given zc-bot's SVID; this process (other-bot's uid) is not.
    const socket = spirePaths(homePaths(home).spire).agentSocket;
    const { stdout } = await run(toolPath("spire-agent"), ["api", "fetch", "x509", "-socketPath", socket]);
    expect(stdout).toContain(OTHER);
    expect(stdout).not.toContain(BOUND);
    // other-bot presents its SVID to the bound sidecar's mTLS listener: the call is other-bot's.
    const other = await connectSvidAgent(state.workloadEndpoint, BOUND);
    try {
      const count = async (id: string) =>
        Number(
          (
            await db!.query<{ n: string }>("SELECT count(*) AS n FROM llm_usage WHERE agent_spiffe_id = $1", [
              id,
            ])
          ).rows[0]!.n,
        );
      const [otherBefore, boundBefore] = [await count(OTHER), await count(BOUND)];
      const response = await postChat(other.client, state.zeroCode!.mtlsUrl);
      expect(response.status).toBe(200);
      // Even claiming the bound agent in headers on that listener: it stays other-bot.
      const claiming = await other.client.request(`${state.zeroCode!.mtlsUrl}/openai/v1/chat/completions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-forwarded-client-cert": `URI=${BOUND}`,
          "x-spiffe-id": BOUND,
        },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
        timeoutMs: 5_000,
      });
      expect(claiming.status).toBe(200);
      await waitFor("other-bot's usage rows", async () => (await count(OTHER)) === otherBefore + 2, 10_000);
      expect(await count(BOUND)).toBe(boundBefore);

      // Suspending the bound agent: its zero-code port is refused within a second; other-bot is still itself.
      const suspended = await warden(["agents", "suspend", agents["zc-bot"]!.id]);
      expect(suspended.code).toBe(0);
      const since = Date.now();
      let refused: unknown = null;
      while (Date.now() - since < 5_000) {
        refused = await chat().then(
          () => null,
          (e: unknown) => e,
        );
        if (refused instanceof OpenAI.APIError) break;
        await sleep(25);
      }
      figures.suspensionEnforcedMs = Date.now() - since;
      expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((refused as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe("agent_suspended");
      expect(figures.suspensionEnforcedMs).toBeLessThan(1_000);
      expect((await postChat(other.client, state.zeroCode!.mtlsUrl)).status).toBe(200);
    } finally {
      other.close();
    }
  }, 60_000);
});
