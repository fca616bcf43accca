import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { supervisorStateSchema } from "../../lib/src/runtime/state.js";
import { ensureAgentsBuilt } from "../agents/run-agent.js";
import {
  completeTrace,
  parentOf,
  serviceOf,
  startJaeger,
  type Jaeger,
  type JaegerSpan,
} from "../harness/jaeger.js";
import { REPO_ROOT, startProcess, TEARDOWN_TIMEOUT_MS, waitFor } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { startOpenAiStub } from "../stubs/llm-openai.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { providerSpans, type ProviderSpans } from "../stubs/provider-spans.js";
import { CLI, freePortBase, runWardenCli, type CliResult } from "./local-stack-fixture.js";

/**
 * Traces as an operator gets them: `warden up --otlp-endpoint` at a real Jaeger, an agent onboarded
 * with the CLI (KYA approval, its OpenAI key in OpenBao), then ONE request from the example agent
 * (test/agents/openai-agent.ts: its own process, its X.509-SVID over mTLS, the official `openai`
 * SDK) is one trace in Jaeger with spans from Envoy, authz-server, extproc-server and the provider
 * stub (the dev upstream, which continues the W3C context and exports a span of its own), each
 * parented on the span that called it, and no credential anywhere in it.
 */
const LLM_KEY = "sk-vault-tracing-warden-up-5b2e8c1d";
const AGENT_PLACEHOLDER = "placeholder-the-agent-holds-no-key";
const PROVIDER_SERVICE = "openai-provider-stub";
const CHECKLIST =
  "no_embedded_credentials,dependencies_scanned,least_privilege_scopes,audit_logging,data_retention_policy";
const OPENAI_AGENT_JS = join(REPO_ROOT, "dist", "test", "agents", "openai-agent.js");
/** The example agent's own uid (the SPIRE agent's unix attestor tells it from the test process, uid 0). */
const AGENT_UID = 10_150;

let home: string | undefined;
let env: NodeJS.ProcessEnv | undefined;
let jaeger: Jaeger | undefined;
let provider: ProviderSpans | undefined;
let stub: LlmStub | undefined;
let running: ReturnType<typeof supervisorStateSchema.parse> | undefined;

function warden(args: string[], input?: string): Promise<CliResult> {
  return runWardenCli(args, env!, input);
}

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  ensureAgentsBuilt();
  jaeger = await startJaeger("tracing-warden-up");
  provider = providerSpans(PROVIDER_SERVICE, jaeger.otlpEndpoint);
  // The dev upstream every provider route of the stack goes to: accepts only the key from OpenBao.
  stub = await startOpenAiStub({ validKeys: () => [LLM_KEY], observe: provider.observe });
  home = mkdtempSync(join(tmpdir(), "wtrace-"));
  env = {
    ...process.env,
    WARDEN_HOME: home,
    WARDEN_PORT_BASE: String(await freePortBase()),
    WARDEN_DEV_UPSTREAM: `127.0.0.1:${stub.port}`,
    WARDEN_OTLP_ENDPOINT: "",
    WARDEN_API_URL: "",
    WARDEN_TOKEN: "",
    WARDEN_TOKEN_FILE: "",
  };
  const up = await warden(["up", "--detach", "--otlp-endpoint", jaeger.otlpEndpoint]);
  if (up.code !== 0) throw new Error(`warden up failed: ${up.stderr}${up.stdout}`);

  expect((await warden(["login"])).code).toBe(0);
  expect((await warden(["llm-key", "set", "openai"], `${LLM_KEY}\n`)).code).toBe(0);
  const added = await warden([
    "agent",
    "add",
    "traced-agent",
    "--selector",
    `unix:uid:${AGENT_UID}`,
    "--image-digest",
    `sha256:${"e".repeat(64)}`,
    "--checklist",
    CHECKLIST,
    "--endpoint",
    "https://api.openai.com/v1/chat/completions",
    "--json",
  ]);
  if (added.code !== 0) throw new Error(`agent add failed: ${added.stderr}`);
  const { attestation } = JSON.parse(added.stdout) as { attestation: { id: string } };
  running = supervisorStateSchema.parse(JSON.parse((await warden(["status", "--json"])).stdout));

  // Until KYA approval the sidecar refuses the example agent (Envoy and authz-server only: nothing
  // reaches the provider); the approval then lets its next request through.
  await waitFor(
    "the example agent refused with kya_pending",
    async () => (await runOpenAiAgent()).some((e) => e.event === "refused" && e.code === "kya_pending"),
    30_000,
  );
  expect((await warden(["login", "--user", "reviewer"])).code).toBe(0);
  const approved = await warden([
    "kya",
    "approve",
    attestation.id,
    "--level",
    "2",
    "--capability",
    "llm:chat",
  ]);
  if (approved.code !== 0) throw new Error(`kya approve failed: ${approved.stderr}`);
  expect(stub.requests).toHaveLength(0);
}, 240_000);

afterAll(async () => {
  if (env) await warden(["down"]);
  await stub?.close();
  await provider?.shutdown();
  await jaeger?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

/** Runs the example agent once (its own process, its own SVID) and returns its JSON lines. */
async function runOpenAiAgent(): Promise<Record<string, unknown>[]> {
  const agent = startProcess({
    name: "tracing-warden-up-openai-agent",
    command: process.execPath,
    args: [
      OPENAI_AGENT_JS,
      "--base-url",
      `${running!.agentUrl}/openai/v1`,
      "--sidecar-id",
      running!.envoySpiffeId,
      "--prompt",
      "trace me",
    ],
    env: { SPIFFE_ENDPOINT_SOCKET: running!.workloadEndpoint },
    uid: AGENT_UID,
  });
  const events = () =>
    agent
      .log()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  try {
    await waitFor(
      "the example agent's answer",
      async () => events().some((e) => ["reply", "refused", "error"].includes(String(e.event))),
      30_000,
    );
    return events();
  } finally {
    await agent.stop();
  }
}

test("one request from the example agent under `warden up` is one trace with spans from Envoy, authz-server, extproc-server and the provider", async () => {
  // Its first request once the approval reached authz-server (refusals before it stop at the sidecar).
  let events: Record<string, unknown>[] = [];
  await waitFor(
    "the example agent's reply",
    async () => (events = await runOpenAiAgent()).some((e) => e.event === "reply" || e.event === "error"),
    30_000,
  );
  // Under its own uid it got the agent's SVID (not the test process's identity).
  expect(events.find((e) => e.event === "svid")?.spiffe_id).toBe("spiffe://warden.local/agent/traced-agent");
  expect(events.find((e) => e.event === "reply")).toEqual(
    expect.objectContaining({ content: expect.any(String) as unknown }),
  );

  // Exactly one request reached the provider, carrying the trace context (W3C) Envoy started.
  const reached = stub!.requests;
  expect(reached).toHaveLength(1);
  const traceparent = String(reached[0]!.headers.traceparent ?? "");
  const [, traceId] = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(traceparent) ?? [];
  expect(traceId).toBeDefined();

  const trace = await completeTrace(jaeger!, traceId!, [
    "envoy",
    "authz-server",
    "extproc-server",
    PROVIDER_SERVICE,
  ]);
  const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  const named = (name: string): JaegerSpan => {
    const span = trace.spans.find((candidate) => candidate.operationName === name);
    if (!span) throw new Error(`no span ${name} in ${trace.spans.map((s) => s.operationName).join(", ")}`);
    return span;
  };
  const parent = (span: JaegerSpan): JaegerSpan | undefined => byId.get(parentOf(span) ?? "");

  // The agent sends no trace context: Envoy's ingress span is the root, every other Envoy span under it.
  const roots = trace.spans.filter((span) => parentOf(span) === undefined);
  expect(roots).toHaveLength(1);
  const root = roots[0]!;
  expect(serviceOf(trace, root)).toBe("envoy");
  for (const span of trace.spans.filter((s) => serviceOf(trace, s) === "envoy" && s !== root))
    expect(parentOf(span)).toBe(root.spanID);

  // Each server's span under the Envoy span of the gRPC call that reached it; the provider's under
  // Envoy's upstream request.
  expect(parent(named("authz.check"))?.operationName).toBe(
    "async envoy.service.auth.v3.Authorization.Check egress",
  );
  expect(parent(named("extproc.process"))?.operationName).toBe(
    "async envoy.service.ext_proc.v3.ExternalProcessor.Process egress",
  );
  const providerSpan = trace.spans.find((span) => serviceOf(trace, span) === PROVIDER_SERVICE)!;
  expect(parent(providerSpan)?.operationName).toBe("router openai egress");
  expect(serviceOf(trace, parent(providerSpan)!)).toBe("envoy");
  // The servers' stages under their own spans; the request was allowed.
  // The agent's facts were looked up: authz-server had the SPIFFE ID of the agent's mTLS certificate.
  for (const stage of ["authz.identity", "authz.agent_facts", "authz.policy", "authz.response"])
    expect(parentOf(named(stage))).toBe(named("authz.check").spanID);
  for (const phase of ["extproc.request_headers", "extproc.request_body"])
    expect(parentOf(named(phase))).toBe(named("extproc.process").spanID);
  expect(serviceOf(trace, parent(named("extproc.key_lookup"))!)).toBe("extproc-server");
  expect(named("authz.check").tags).toEqual(
    expect.arrayContaining([expect.objectContaining({ key: "warden.allow", value: true })]),
  );

  // Neither the key OpenBao holds (injected upstream) nor the agent's placeholder is anywhere in it.
  const everything = JSON.stringify(trace);
  expect(everything).not.toContain(LLM_KEY);
  expect(everything).not.toContain(AGENT_PLACEHOLDER);
  expect(everything.toLowerCase()).not.toMatch(/bearer [a-z0-9-]/);

  // The provider's only trace is this one (its request was not split across traces).
  expect((await jaeger!.traces(PROVIDER_SERVICE)).map((t) => t.traceID)).toEqual([traceId]);
}, 90_000);
