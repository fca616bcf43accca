import type { FailureMode, RateLimitDefinition, RateLimitUnit } from "../../lib/src/ratelimit/definitions.js";
import { providerDestinations, type Destination } from "../../lib/src/envoy/bootstrap.js";
import { followingControlPlane } from "../harness/control-plane.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { RATE_LIMIT_POLICY, startOnRateLimitBackend, type RateLimitBackend } from "../harness/rate-limit.js";
import { startStack, type Stack } from "../harness/stack.js";
import { EXTPROC_SPIFFE_ID, startVaultTls, type VaultTls } from "../harness/vault-tls.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { extprocVaultLogin } from "../support/extproc-vault-login.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * Limits configured through the control plane's API, enforced by the real pieces: Envoy's rate-limit
 * filters → envoyproxy/ratelimit → Redis, authz-server following the limits in PostgreSQL (NOTIFY),
 * extproc-server charging each LLM call's tokens after the response, the OpenAI stub upstream.
 *
 * - token limits: a team past its LLM tokens per minute gets 429 in OpenAI's error shape with
 *   Retry-After from its next call on;
 * - fail-closed limits: with the rate-limit service down, a request under a fail-closed limit is
 *   refused (503) and one under a fail-open limit passes, with no mark from the policy: authz-server
 *   routes it by the stored limit.
 *
 * Requests come without a registered agent (tenant `unknown`); the test policy names the team from
 * `x-test-team`.
 */
const OPENAI_KEY = "sk-vault-unknown-openai-limits-77f1";

let backend: RateLimitBackend;
let cp: ControlPlaneFixture;
let vault: VaultTls;
let stub: LlmStub;
let stack: Stack;
let admin: string;

beforeAll(async () => {
  ({ backend, started: cp } = await startOnRateLimitBackend("rate-limits-enforced", (started) =>
    startControlPlaneFixture({ postgres: true, env: { WARDEN_RATELIMIT_CONFIG_FILE: started.configFile } }),
  ));
  vault = await startVaultTls("rate-limits-enforced");
  const login = await vault.addCertRole("extproc", EXTPROC_SPIFFE_ID, ["extproc.hcl"]);
  await vault.putLlmKey("acme", "openai", OPENAI_KEY);
  stub = await startOpenAiStub({ validKeys: () => [OPENAI_KEY] });
  stack = await startStack({
    name: "rate-limits-enforced",
    policyDir: RATE_LIMIT_POLICY,
    destinations: () =>
      providerDestinations()
        .filter((destination) => destination.service === "openai")
        .map((destination): Destination => ({
          ...destination,
          upstream: { address: "127.0.0.1", port: stub.port, tls: false },
        })),
    sidecar: { rateLimit: { service: backend.service, timeoutMs: 500 } },
    authzEnv: await followingControlPlane(cp.cluster!, cp.databaseUrl!, cp.url, { acceptTokens: false }),
    extprocEnv: {
      ...extprocVaultLogin(vault, login),
      WARDEN_DEFAULT_TENANT: "acme",
      WARDEN_RATELIMIT_GRPC_ADDRESS: `${backend.service.address}:${backend.service.port}`,
    },
  });
  admin = await cp.token({ sub: "alice-admin", roles: ["admin"] });
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([stub?.close(), vault?.stop()]);
  await cp?.close();
  await backend?.stop();
}, TEARDOWN_TIMEOUT_MS);

let teams = 0;
const freshTeam = () => `team-${process.pid}-${Date.now() % 100_000}-${++teams}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every limit created so far: the service's file holds them all. */
const created: RateLimitDefinition[] = [];

/** A team limit of requests without a tenant, through the API; back once the service has loaded it. */
async function createLimit(team: string, unit: RateLimitUnit, perMinute: number, failureMode: FailureMode) {
  const response = await cp.call("POST", "/v1/rate-limits", {
    token: admin,
    body: {
      tenant: "unknown",
      scope: "team",
      subject: team,
      unit,
      per_minute: perMinute,
      failure_mode: failureMode,
    },
  });
  expect(response.status).toBe(201);
  created.push({ tenant: "unknown", scope: "team", subject: team, unit, perMinute, failureMode });
  await backend.waitForLimits(created);
}

/** A chat completion of `inputTokens` + 5 tokens (the stub's usage). */
async function chat(team: string, inputTokens = 95): Promise<Response> {
  return fetch(`${stack.agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: "Bearer sk-placeholder",
      "x-test-team": team,
      "x-stub-input-tokens": String(inputTokens),
    },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
}

/** Counters reset on the minute: a test that needs N requests in one window starts early enough. */
async function awayFromMinuteEdge(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 45) await sleep((61 - second) * 1000);
}

test("past its LLM tokens per minute a team is refused (429, OpenAI's shape, Retry-After); another team is not", async () => {
  const team = freshTeam();
  const other = freshTeam();
  await createLimit(team, "tokens", 250, "open");
  await createLimit(other, "tokens", 250, "open");
  await awayFromMinuteEdge();

  // 100 tokens a call: the third call brings the team to 300 of 250.
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const response = await chat(team);
    await response.arrayBuffer();
    statuses.push(response.status);
    // The charge is sent after the response: give it a moment to land before the next check.
    await sleep(500);
  }
  expect(statuses).toEqual([200, 200, 200]);

  const refused = await chat(team);
  const body = (await refused.json()) as { error: Record<string, unknown> };
  expect(refused.status).toBe(429);
  expect(body.error).toMatchObject({ code: "rate_limited", type: expect.any(String) });
  const retryAfter = Number(refused.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);

  const neighbour = await chat(other);
  await neighbour.arrayBuffer();
  expect(neighbour.status).toBe(200);
}, 120_000);

test("with the rate-limit service down, a request under a stored fail-closed limit is refused (503) and one under a fail-open limit passes", async () => {
  const closedTeam = freshTeam();
  const openTeam = freshTeam();
  await createLimit(closedTeam, "requests", 1000, "closed");
  await createLimit(openTeam, "requests", 1000, "open");
  // authz-server hears of the new limits through NOTIFY; wait until the closed one routes requests.
  const probe = async (team: string) => {
    const response = await chat(team, 5);
    const text = await response.text();
    return { status: response.status, text };
  };
  expect((await probe(closedTeam)).status).toBe(200);
  await sleep(1_000);

  await backend.stopService();
  try {
    const closed = await probe(closedTeam);
    expect(closed.status).toBe(503);
    expect(JSON.parse(closed.text)).toMatchObject({
      error: { code: "unavailable", message: expect.stringMatching(/rate-limit service/) },
    });
    expect((await probe(openTeam)).status).toBe(200);
  } finally {
    await backend.startService();
  }
  expect((await probe(closedTeam)).status).toBe(200);
}, 120_000);
