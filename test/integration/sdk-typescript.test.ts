import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { REPO_ROOT, stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, type Stack } from "../harness/stack.js";
import {
  README_EXAMPLES_BY_SUITE,
  readmeExample,
  readmeExamples,
  runReadmeExample,
} from "../support/readme-examples.js";
import { anthropicClient } from "../../sdk/typescript/src/anthropic.js";
import { openAiClient } from "../../sdk/typescript/src/openai.js";
import {
  DelegationError,
  PolicyDeniedError,
  ServerIdentityError,
  SvidSource,
  toWardenError,
  Warden,
  type WardenError,
} from "../../sdk/typescript/src/index.js";

/**
 * The TypeScript SDK against the real data plane: SPIRE's Workload API gives this test process an
 * agent SVID, Envoy (mTLS, SVIDs from the same SPIRE), authz-server and extproc-server run as
 * `warden up` runs them, the provider is the stub upstream. Policy: test/fixtures/policy-sdk (OpenAI
 * routes allowed unless `x-test-deny: 1` or an unverifiable delegation; the rest `no_rule_allows`).
 */
const AGENT = "spiffe://warden.local/agent/sdk-ts-bot";
const SDK_POLICY = join(REPO_ROOT, "test", "fixtures", "policy-sdk");

let spire: SpireStack;
let stack: Stack;
let svids: SvidSource;
let warden: Warden;

beforeAll(async () => {
  spire = await startSpire({ name: "sdk-ts-spire" });
  await spire.register(AGENT, [currentProcessSelector()]);
  await spire.waitForSvid(AGENT);
  stack = await startStack({ name: "sdk-ts", spire, policyDir: SDK_POLICY });
  svids = await SvidSource.open({ endpoint: spire.endpoint });
  warden = await Warden.connect({ sidecarUrl: stack.agentUrl.replace("http:", "https:"), svids });
}, 180_000);

afterAll(async () => {
  warden?.close();
  svids?.close();
  await stack?.stop();
  await spire?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("the call succeeded");
}

test("the agent calls as its SVID's SPIFFE ID and the sidecar is checked as spiffe://<td>/warden/envoy", async () => {
  expect(warden.spiffeId).toBe(AGENT);
  expect(warden.sidecarSpiffeId).toBe(stack.identities!.envoy);
  const models = await warden.json<{ data: { id: string }[] }>("/openai/v1/models");
  expect(models.data.map((m) => m.id)).toEqual(["gpt-4o-mini"]);
  // The SVID the SDK presents is the one SPIRE issued for the agent, short-lived.
  const leaf = new X509Certificate(svids.current.certChainPem);
  expect(leaf.subjectAltName).toBe(`URI:${AGENT}`);
});

test("a sidecar presenting another SPIFFE ID is refused before any request is sent", async () => {
  const impostor = await Warden.connect({
    sidecarUrl: warden.sidecarUrl,
    sidecarSpiffeId: "spiffe://warden.local/warden/not-envoy",
    svids,
  });
  try {
    const seen = stack.upstream.requests.length;
    const error = (await rejection(impostor.fetch("/openai/v1/models"))) as TypeError;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause).toBeInstanceOf(ServerIdentityError);
    expect((error.cause as ServerIdentityError).presented).toEqual([stack.identities!.envoy]);
    expect(stack.upstream.requests.length).toBe(seen);
  } finally {
    impostor.close();
  }
});

test("the official OpenAI client streams a chat completion through the sidecar", async () => {
  const openai = openAiClient(warden);
  const stream = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  });
  let text = "";
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.choices[0]?.delta.content ?? "";
  }
  expect(text).toBe("Hello from the stub.");
  expect(chunks).toBeGreaterThanOrEqual(5);
  // The agent sent no key of its own that reached the provider.
  const seen = stack.upstream.requests.at(-1)!;
  expect(seen.path).toBe("/v1/chat/completions");
  expect(String(seen.headers.authorization ?? "")).not.toContain("injected-by-warden");
});

test("a policy refusal is a PolicyDeniedError with its reason and decision id (fetch client and OpenAI SDK)", async () => {
  const denied = (await rejection(
    warden.json("/openai/v1/models", { headers: { "x-test-deny": "1" } }),
  )) as WardenError;
  expect(denied).toBeInstanceOf(PolicyDeniedError);
  expect(denied).toMatchObject({ status: 403, reason: "test_rule_denied" });
  expect(denied.decisionId).toMatch(/\S{8,}/);

  const openai = openAiClient(warden, { defaultHeaders: { "x-test-deny": "1" } });
  const fromSdk = toWardenError(await rejection(openai.models.list()));
  expect(fromSdk).toBeInstanceOf(PolicyDeniedError);
  expect(fromSdk).toMatchObject({ status: 403, reason: "test_rule_denied" });
  expect(fromSdk!.decisionId).toMatch(/\S{8,}/);
});

test("the official Anthropic client reaches its route; the refusal in Anthropic's error shape is typed", async () => {
  const anthropic = anthropicClient(warden);
  const error = await rejection(
    anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 16,
      messages: [{ role: "user", content: "hi" }],
    }),
  );
  const typed = toWardenError(error);
  expect(typed).toBeInstanceOf(PolicyDeniedError);
  expect(typed).toMatchObject({ status: 403, reason: "no_rule_allows" });
  expect(typed!.decisionId).toMatch(/\S{8,}/);
});

test("calls on a user's behalf carry the delegation: the sidecar's refusal of it is a DelegationError", async () => {
  const seen = stack.upstream.requests.length;
  // This sidecar trusts no delegation issuer: authz-server reports the token as not accepted.
  const error = (await rejection(
    warden.onBehalfOf("a-user-delegation").json("/openai/v1/models"),
  )) as WardenError;
  expect(error).toBeInstanceOf(DelegationError);
  expect(error).toMatchObject({ status: 403, reason: "delegation_not_accepted" });
  expect(stack.upstream.requests.length).toBe(seen);
  // The same connection without the delegation still passes.
  await expect(warden.json("/openai/v1/models")).resolves.toMatchObject({ object: "list" });
});

test("a 503 while authz-server is down is retried until it is back", async () => {
  await stack.authz.stop();
  const restarted = new Promise<void>((resolve, reject) =>
    setTimeout(() => stack.authz.restart().then(resolve, reject), 1_500),
  );
  const patient = await Warden.connect({
    sidecarUrl: warden.sidecarUrl,
    svids,
    retry: { maxRetries: 12, initialDelayMs: 400, maxDelayMs: 1_000 },
  });
  try {
    const impatient = await Warden.connect({
      sidecarUrl: warden.sidecarUrl,
      svids,
      retry: { maxRetries: 0 },
    });
    const refused = (await rejection(impatient.json("/openai/v1/models"))) as WardenError;
    impatient.close();
    expect(refused.constructor.name).toBe("UnavailableError");
    expect(refused.status).toBe(503);
    const models = await patient.json<{ data: unknown[] }>("/openai/v1/models");
    expect(models.data).toHaveLength(1);
  } finally {
    await restarted;
    patient.close();
  }
}, 60_000);

describe("the README's examples run verbatim as the agent", () => {
  test("every example of the README is run by one of the SDK suites", () => {
    expect(readmeExamples().map((e) => e.title)).toEqual([
      ...README_EXAMPLES_BY_SUITE.dataPlane,
      ...README_EXAMPLES_BY_SUITE.mcp,
    ]);
  });

  test.each(README_EXAMPLES_BY_SUITE.dataPlane)("%s", async (title) => {
    const example = readmeExample(title);
    const stdout = await runReadmeExample(example, {
      SPIFFE_ENDPOINT_SOCKET: spire.endpoint,
      WARDEN_SIDECAR_URL: stack.agentUrl.replace("http:", "https:"),
    });
    expect(stdout).toBe(example.output);
  });
});
