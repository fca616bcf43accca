import { join } from "node:path";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startStack, type Stack } from "../harness/stack.js";

/**
 * The per-sidecar token bucket (Envoy's local rate-limit filter): no service, no network call; one
 * bucket for every request through the sidecar, refilled every second.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    name: "rate-limits-local",
    policyDir: join(REPO_ROOT, "test", "fixtures", "policy-rate-limits"),
    sidecar: { localRateLimit: { requestsPerMinute: 60, burst: 3 } },
  });
}, 180_000);

afterAll(() => stack?.stop(), TEARDOWN_TIMEOUT_MS);

test("past the sidecar's bucket the agent gets 429 in OpenAI's shape with Retry-After: 1, and the bucket refills", async () => {
  const statuses: number[] = [];
  let refused: Response | null = null;
  for (let i = 0; i < 6; i++) {
    const response = await fetch(`${stack.agentUrl}/openai/v1/models`);
    statuses.push(response.status);
    if (response.status === 429 && refused === null) refused = response;
    else await response.arrayBuffer();
  }
  // A burst of 3 (plus at most one refill during the loop), then refusals.
  expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
  expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(4);
  expect(refused).not.toBeNull();
  expect(refused!.headers.get("retry-after")).toBe("1");
  expect(await refused!.json()).toMatchObject({
    error: {
      code: "rate_limited",
      message: "this sidecar's rate limit is exceeded",
      type: expect.any(String),
    },
  });

  await new Promise((resolve) => setTimeout(resolve, 1_100));
  const again = await fetch(`${stack.agentUrl}/openai/v1/models`);
  await again.arrayBuffer();
  expect(again.status).toBe(200);
}, 60_000);
