import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentResponse, SvidHttpsClient } from "../agents/svid-https-client.js";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import { REPO_ROOT, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startTestStack, type Stack, type TestStack } from "../harness/stack.js";
import { registryWorkflow, type RegistryEntry, type RegistryWorkflow } from "../harness/registry-workflow.js";
import { latencySummary, PUSH_PATH_BOUND_MS } from "../harness/stats.js";
import type { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import { pollUntilRefused } from "../support/poll-until-refused.js";
import { CHAT_BODY } from "../support/chat-request.js";

/**
 * Every component real: reviewers and creators use the control plane's REST API
 * (its own process, on real PostgreSQL, attestations signed by OpenBao transit); authz-server follows
 * the registry from PostgreSQL (LISTEN/NOTIFY, as the read-only data-plane login) and verifies the
 * attestations against the control plane's JWKS; the agent calls through Envoy with its SPIRE SVID
 * (mTLS), and allowed requests pass extproc-server to the stub provider.
 *
 * The policy is the shipped one, with one data change: OpenAI asks for KYA level 2.
 */
const TD = "warden.local";
const AGENT = "ledger-bot";
const AGENT_ID = `spiffe://${TD}/agent/${AGENT}`;
const TRIALS = 100;
/** Polling pace while waiting for enforcement; each poll is a full request through Envoy. */
const POLL_PAUSE_MS = 2;

interface Outcome {
  status: number;
  /** The error code of a refusal (`kya_revoked`, …), "" when allowed. */
  code: string;
}

let env: TestStack;
let oidc: StubOidcIssuer;
let controlPlane: ControlPlaneProcess;
let stack: Stack;
let agentClient: SvidHttpsClient;
let policyDir: string;
let workflow: RegistryWorkflow;
let agent: RegistryEntry;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  policyDir = mkdtempSync(join(tmpdir(), "wregistry-policy-"));
  cpSync(join(REPO_ROOT, "policies"), policyDir, { recursive: true });
  const dataFile = join(policyDir, "data.json");
  const data = JSON.parse(readFileSync(dataFile, "utf8")) as {
    warden: { config: { services: Record<string, Record<string, unknown>> } };
  };
  data.warden.config.services.openai!.min_kya_level = 2;
  writeFileSync(dataFile, JSON.stringify(data));

  env = await startTestStack({
    name: "registry-e2e",
    trustDomain: TD,
    spire: { logLevel: "INFO" },
    // The agent is this test process (its uid is the SPIRE selector); it holds only its SVID.
    agent: AGENT_ID,
    dataPlane: {
      policyDir,
      authzEnv: {
        WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane`,
        WARDEN_LOG_LEVEL: "info",
      },
    },
  });
  ({ oidc, controlPlane, stack } = env);
  agentClient = env.agentClient!;
  const [creator, reviewer] = await Promise.all([
    oidc.token({ sub: "carl-creator", roles: ["creator"] }),
    oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  workflow = registryWorkflow(controlPlane, { creator, reviewer });
}, 240_000);

afterAll(async () => {
  await env?.stop();
  await stopAll();
  if (policyDir) rmSync(policyDir, { recursive: true, force: true });
  process.stdout.write(`registry through Envoy figures: ${JSON.stringify(figures, null, 2)}\n`);
}, TEARDOWN_TIMEOUT_MS);

// ---------- the agent, through the sidecar ----------

async function callProvider(): Promise<Outcome> {
  const response: AgentResponse = await agentClient.request(`${stack.agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: CHAT_BODY,
    timeoutMs: 5_000,
  });
  if (response.status === 200) return { status: 200, code: "" };
  const parsed = JSON.parse(response.body) as { error?: { code?: string } };
  return { status: response.status, code: parsed.error?.code ?? "" };
}

async function outcomeBecomes(what: string, wanted: (o: Outcome) => boolean): Promise<Outcome> {
  let last: Outcome = { status: 0, code: "" };
  await waitFor(what, async () => wanted((last = await callProvider())), 10_000);
  return last;
}

describe("registry → KYA → the agent's requests through Envoy with mTLS", () => {
  test("register, submit, approve: allowed; revoke: kya_revoked; suspend: agent_suspended", async () => {
    agent = await workflow.register(AGENT);
    expect(agent.spiffe_id).toBe(AGENT_ID);
    const upstreamBefore = stack.upstream.requests.length;

    expect(await outcomeBecomes("registered agent known", (o) => o.code === "kya_missing")).toEqual({
      status: 403,
      code: "kya_missing",
    });
    const first = await workflow.submit(agent);
    expect(await outcomeBecomes("submission seen", (o) => o.code === "kya_pending")).toEqual({
      status: 403,
      code: "kya_pending",
    });
    // OpenAI asks for level 2 in this policy's data; a level-1 approval is not enough.
    await workflow.approve(first, 1);
    expect(await outcomeBecomes("level-1 approval seen", (o) => o.code !== "kya_pending")).toEqual({
      status: 403,
      code: "kya_level_insufficient",
    });
    expect(stack.upstream.requests.length).toBe(upstreamBefore);

    const second = await workflow.approve(await workflow.submit(agent), 2);
    expect(await outcomeBecomes("level-2 approval seen", (o) => o.status === 200)).toEqual({
      status: 200,
      code: "",
    });
    expect(stack.upstream.requests.length).toBeGreaterThan(upstreamBefore);
    expect(stack.upstream.requests.at(-1)?.path).toBe("/v1/chat/completions");
    // Envoy writes the access log asynchronously: wait for the allowed request's line.
    await waitFor(
      "the access log to name the verified agent",
      () => stack.envoy.accessLog().some((line) => line.status === 200 && line.agent === AGENT_ID),
      5_000,
    );

    await workflow.revoke(second);
    expect(await outcomeBecomes("revocation enforced", (o) => o.status !== 200)).toEqual({
      status: 403,
      code: "kya_revoked",
    });
    const reachedUpstream = stack.upstream.requests.length;
    const refused = await agentClient.request(`${stack.agentUrl}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: CHAT_BODY,
    });
    expect(JSON.parse(refused.body)).toMatchObject({
      error: {
        code: "kya_revoked",
        message: expect.stringMatching(/revoked/),
        decision_id: expect.any(String),
      },
    });
    expect(stack.upstream.requests.length).toBe(reachedUpstream);

    await workflow.approve(await workflow.submit(agent), 2);
    await outcomeBecomes("re-approval seen", (o) => o.status === 200);
    await workflow.setStatus(agent, "suspended");
    expect(await outcomeBecomes("suspension enforced", (o) => o.status !== 200)).toEqual({
      status: 403,
      code: "agent_suspended",
    });
    await workflow.setStatus(agent, "active");
    expect(await outcomeBecomes("reactivation seen", (o) => o.status === 200)).toEqual({
      status: 200,
      code: "",
    });
  }, 120_000);

  test(`revocation reaches enforcement through Envoy as soon as it is pushed (p99 over ${TRIALS} trials)`, async () => {
    const delays: number[] = [];
    const pollsPerTrial: number[] = [];
    for (let trial = 0; trial < TRIALS; trial += 1) {
      // A new approval supersedes whatever the agent had; wait until the data plane allows again.
      const attestation = await workflow.approve(await workflow.submit(agent), 2);
      await outcomeBecomes(`trial ${trial}: allowed`, (o) => o.status === 200);

      await workflow.revoke(attestation);
      const { refusal, delayMs, polls } = await pollUntilRefused(
        `trial ${trial}`,
        callProvider,
        (o) => o.status === 200,
        { pauseMs: POLL_PAUSE_MS, limitMs: 5_000 },
      );
      expect(refusal).toEqual({ status: 403, code: "kya_revoked" });
      delays.push(delayMs);
      pollsPerTrial.push(polls);
    }
    const summary = latencySummary(delays);
    figures.revocation_to_enforcement_through_envoy_ms = {
      ...summary,
      polls_per_trial_max: Math.max(...pollsPerTrial),
    };
    expect(summary.samples).toBe(TRIALS);
    expect(summary.p99).toBeLessThan(PUSH_PATH_BOUND_MS);
  }, 600_000);
});
