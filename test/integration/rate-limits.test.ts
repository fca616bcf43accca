import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  RATE_LIMIT_POLICY,
  startOnRateLimitBackend,
  teamLimit,
  type RateLimitBackend,
} from "../harness/rate-limit.js";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startStack, type Stack } from "../harness/stack.js";
import { startControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * Shared rate limits through the real pieces: Envoy's rate-limit filter → envoyproxy/ratelimit →
 * Redis, with authz-server's decision naming the team (the test policy takes it from `x-test-team`)
 * and the tenant (none here: such requests count under "unknown").
 */
const PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");
const run = promisify(execFile);

let backend: RateLimitBackend;
let stack: Stack;

/** A fresh team name per test: the service's counters live for the rest of the minute. */
let teams = 0;
const freshTeam = () => `team-${process.pid}-${Date.now() % 100_000}-${++teams}`;

async function call(team: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.agentUrl}/openai/v1/models`, { headers: { "x-test-team": team, ...headers } });
}

/** A POST /v1/rate-limits body: a request limit on requests without a tenant, failing open. */
const limitBody = (scope: string, subject: string, perMinute: number) => ({
  tenant: "unknown",
  scope,
  subject,
  unit: "requests",
  per_minute: perMinute,
  failure_mode: "open",
});

/** The statuses of `count` requests of a team, one after another. */
async function statusesOf(team: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await call(team);
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

/** Counters reset on the minute: a test that needs N requests in one window starts early enough. */
async function awayFromMinuteEdge(): Promise<void> {
  const second = new Date().getUTCSeconds();
  if (second >= 50) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
}

beforeAll(async () => {
  ({ backend, started: stack } = await startOnRateLimitBackend("rate-limits", (started) =>
    startStack({
      name: "rate-limits",
      policyDir: RATE_LIMIT_POLICY,
      sidecar: { rateLimit: { service: started.service, timeoutMs: 500 } },
    }),
  ));
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await backend?.stop();
}, TEARDOWN_TIMEOUT_MS);

test("past a team's limit the request is refused with 429, OpenAI's error shape and Retry-After; another team is not", async () => {
  const team = freshTeam();
  const other = freshTeam();
  await backend.setLimits([teamLimit(team, 5), teamLimit(other, 5)]);
  await awayFromMinuteEdge();
  expect(await statusesOf(team, 5)).toEqual([200, 200, 200, 200, 200]);

  const refused = await call(team);
  const body = (await refused.json()) as { error: Record<string, unknown> };
  expect(refused.status).toBe(429);
  expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
  expect(body).toEqual({
    error: {
      message: "rate limit exceeded",
      type: expect.any(String),
      code: "rate_limited",
      decision_id: refused.headers.get("x-warden-decision-id"),
    },
  });
  // Seconds until the service's minute window ends.
  const retryAfter = Number(refused.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);

  const neighbour = await call(other);
  await neighbour.arrayBuffer();
  expect(neighbour.status).toBe(200);
}, 60_000);

test("the official openai SDK (max_retries=0) raises RateLimitError with Warden's code and Retry-After", async () => {
  const team = freshTeam();
  await backend.setLimits([teamLimit(team, 1)]);
  await awayFromMinuteEdge();
  await (await call(team)).arrayBuffer();
  const { stdout } = await run(
    PYTHON,
    [join(REPO_ROOT, "test", "fixtures", "python", "sdk_rate_limited.py"), stack.agentUrl, team],
    {
      timeout: 30_000,
    },
  );
  const seen = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
  expect(seen).toMatchObject({ class: "RateLimitError", status: 429, code: "rate_limited" });
  expect(Number(seen.retry_after)).toBeGreaterThanOrEqual(1);
}, 60_000);

test("with the rate-limit service down, a fail-open limit lets requests through and a fail-closed one refuses them (503)", async () => {
  const team = freshTeam();
  await backend.setLimits([teamLimit(team, 1)]);
  await backend.stopService();
  try {
    const open = await call(team);
    await open.arrayBuffer();
    const open2 = await call(team);
    await open2.arrayBuffer();
    // Past the limit of 1, but nothing can count: fail open.
    expect([open.status, open2.status]).toEqual([200, 200]);

    const closed = await call(team, { "x-test-fail-closed": "1" });
    const body = (await closed.json()) as { error: Record<string, unknown> };
    expect(closed.status).toBe(503);
    expect(body.error).toMatchObject({
      code: "unavailable",
      message: expect.stringMatching(/rate-limit service/),
    });
  } finally {
    await backend.startService();
  }
  // Back up: the fail-closed request goes through again.
  const after = await call(freshTeam(), { "x-test-fail-closed": "1" });
  await after.arrayBuffer();
  expect(after.status).toBe(200);
}, 60_000);

test("a limit created through the control plane's API reaches the service and every sidecar; deleting it lifts it", async () => {
  const team = freshTeam();
  const cp = await startControlPlaneFixture({
    postgres: true,
    env: { WARDEN_RATELIMIT_CONFIG_FILE: backend.configFile },
  });
  try {
    const admin = await cp.token({ sub: "alice-admin", roles: ["admin"] });
    const acmeAdmin = await cp.token({ sub: "ann", roles: ["admin"], tenant: "acme" });
    await backend.waitForLimits([]);

    const bad = await cp.call("POST", "/v1/rate-limits", {
      token: admin,
      body: limitBody("agent", "not-a-spiffe-id", 2),
    });
    expect(bad.status).toBe(400);

    const created = await cp.call<{ id: string }>("POST", "/v1/rate-limits", {
      token: admin,
      body: limitBody("team", team, 2),
    });
    expect(created.status).toBe(201);
    const again = await cp.call("POST", "/v1/rate-limits", {
      token: admin,
      body: limitBody("team", team, 3),
    });
    expect(again.status).toBe(409);
    await backend.waitForLimits([teamLimit(team, 2)]);

    // Another tenant's operator sees none of it and cannot delete it.
    const listed = await cp.call<{ items: unknown[] }>("GET", "/v1/rate-limits", { token: acmeAdmin });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    expect((await cp.call("GET", "/v1/rate-limits?tenant=unknown", { token: admin })).body).toMatchObject({
      items: [{ id: created.body.id, scope: "team", subject: team, per_minute: 2, failure_mode: "open" }],
    });
    expect((await cp.call("DELETE", `/v1/rate-limits/${created.body.id}`, { token: acmeAdmin })).status).toBe(
      404,
    );

    await awayFromMinuteEdge();
    expect(await statusesOf(team, 3)).toEqual([200, 200, 429]);

    expect((await cp.call("DELETE", `/v1/rate-limits/${created.body.id}`, { token: admin })).status).toBe(
      204,
    );
    await backend.waitForLimits([]);
    const lifted = await call(team);
    await lifted.arrayBuffer();
    expect(lifted.status).toBe(200);
  } finally {
    await cp.close();
  }
}, 120_000);
