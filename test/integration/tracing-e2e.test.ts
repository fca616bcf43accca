import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import {
  completeTrace,
  parentOf,
  serviceOf,
  startJaeger,
  type Jaeger,
  type JaegerSpan,
} from "../harness/jaeger.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { providerSpans, type ProviderSpans } from "../stubs/provider-spans.js";
import { startOpenAiSidecar, type OpenAiSidecar } from "./openai-sidecar-fixture.js";

/**
 * Traces end to end, against a real Jaeger: one request from an agent (the official OpenAI SDK, with
 * a W3C traceparent of its own) through the real Envoy, authz-server, extproc-server (its key from a
 * real OpenBao) to the provider stub is ONE trace, the agent's, with spans from all four, each
 * parented on the span that called it, and no credential in any span.
 */
const OPENAI_KEY = "sk-vault-acme-openai-trace-7c1d9e2f4a6b";
const PLACEHOLDER = "sk-placeholder-agent-key-never-upstream";
const PROVIDER_SERVICE = "openai-provider-stub";
/** A credential the agent puts in the query string (Warden strips it before the provider). */
const QUERY_SECRET = "sk-agent-query-secret-4e8a1f";

let jaeger: Jaeger | undefined;
let provider: ProviderSpans | undefined;
let sidecar: OpenAiSidecar | undefined;

beforeAll(async () => {
  jaeger = await startJaeger("tracing-e2e");
  provider = providerSpans(PROVIDER_SERVICE, jaeger.otlpEndpoint);
  const otlp = { WARDEN_OTLP_ENDPOINT: jaeger.otlpEndpoint };
  sidecar = await startOpenAiSidecar("tracing-e2e", OPENAI_KEY, {
    sidecar: { tracing: { collector: { address: "127.0.0.1", port: jaeger.otlpPort } } },
    authzEnv: otlp,
    extprocEnv: otlp,
    stub: { observe: provider.observe },
  });
}, 240_000);

afterAll(async () => {
  await sidecar?.close();
  await provider?.shutdown();
  await jaeger?.stop();
}, TEARDOWN_TIMEOUT_MS);

test("one request from the agent is one trace with spans from Envoy, authz-server, extproc-server and the provider", async () => {
  const traceId = randomBytes(16).toString("hex");
  const agentSpanId = randomBytes(8).toString("hex");
  const openai = new OpenAI({
    baseURL: `${sidecar!.stack.agentUrl}/openai/v1`,
    apiKey: PLACEHOLDER,
    maxRetries: 0,
    // The agent's own trace (an instrumented agent sends this; Warden continues it).
    defaultHeaders: { traceparent: `00-${traceId}-${agentSpanId}-01` },
    defaultQuery: { api_key: QUERY_SECRET },
  });
  const reply = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "trace me" }],
  });
  expect(reply.choices[0]?.message.content).toBeTruthy();

  // The provider received the same trace, in the W3C header.
  const received = sidecar!.stub.requests.at(-1)!.headers.traceparent;
  expect(received).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

  const trace = await completeTrace(
    jaeger!,
    traceId,
    ["envoy", "authz-server", "extproc-server", PROVIDER_SERVICE],
    agentSpanId,
  );
  const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  const named = (name: string): JaegerSpan => {
    const span = trace.spans.find((candidate) => candidate.operationName === name);
    if (!span) throw new Error(`no span ${name} in ${trace.spans.map((s) => s.operationName).join(", ")}`);
    return span;
  };
  const parentService = (span: JaegerSpan): string => {
    const parent = byId.get(parentOf(span) ?? "");
    return parent ? serviceOf(trace, parent) : "none";
  };

  // Envoy's span for the request continues the agent's span.
  const envoyRoot = trace.spans.find(
    (span) => serviceOf(trace, span) === "envoy" && parentOf(span) === agentSpanId,
  );
  expect(envoyRoot).toBeDefined();
  // Its URL is the path as forwarded (the route drops its `/openai` prefix), without the query.
  expect(envoyRoot!.tags.find((tag) => tag.key === "http.url")?.value).toMatch(
    /^http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions$/,
  );
  // Each server's span hangs under the Envoy span of the call that reached it, the provider's under
  // Envoy's upstream request.
  const parentOperation = (span: JaegerSpan): string =>
    byId.get(parentOf(span) ?? "")?.operationName ?? "none";
  expect(parentService(named("authz.check"))).toBe("envoy");
  expect(parentOperation(named("authz.check"))).toBe(
    "async envoy.service.auth.v3.Authorization.Check egress",
  );
  expect(parentService(named("extproc.process"))).toBe("envoy");
  expect(parentOperation(named("extproc.process"))).toBe(
    "async envoy.service.ext_proc.v3.ExternalProcessor.Process egress",
  );
  const providerSpan = trace.spans.find((span) => serviceOf(trace, span) === PROVIDER_SERVICE)!;
  expect(parentService(providerSpan)).toBe("envoy");
  expect(parentOperation(providerSpan)).toBe("router openai egress");
  // Envoy's own spans all belong to the request's ingress span, under the agent's.
  for (const span of trace.spans.filter((s) => serviceOf(trace, s) === "envoy" && s !== envoyRoot))
    expect(parentOf(span)).toBe(envoyRoot!.spanID);
  // A span per stage, under its server's span.
  // (This stack is plain HTTP: no peer SPIFFE ID, so no agent facts to look up.)
  for (const stage of ["authz.identity", "authz.policy", "authz.response"])
    expect(parentOf(named(stage))).toBe(named("authz.check").spanID);
  for (const phase of [
    "extproc.request_headers",
    "extproc.request_body",
    "extproc.response_headers",
    "extproc.response_body",
  ])
    expect(parentOf(named(phase))).toBe(named("extproc.process").spanID);
  expect(parentService(named("extproc.key_lookup"))).toBe("extproc-server");
  expect(parentService(named("extproc.usage_record"))).toBe("extproc-server");
  // Envoy's own spans: its ext_authz and ext_proc calls and the upstream request.
  const envoyOperations = trace.spans
    .filter((span) => serviceOf(trace, span) === "envoy")
    .map((s) => s.operationName);
  expect(envoyOperations).toEqual(
    expect.arrayContaining([
      "async envoy.service.auth.v3.Authorization.Check egress",
      "async envoy.service.ext_proc.v3.ExternalProcessor.Process egress",
      "router openai egress",
    ]),
  );
  expect(named("authz.check").tags).toEqual(
    expect.arrayContaining([expect.objectContaining({ key: "warden.allow", value: true })]),
  );

  // Nothing anywhere in the trace carries the injected key or the agent's placeholder.
  const everything = JSON.stringify(trace);
  expect(everything).not.toContain(OPENAI_KEY);
  expect(everything).not.toContain(PLACEHOLDER);
  expect(everything).not.toContain(QUERY_SECRET);

  // And it is the only trace: every service's traces are this one.
  for (const service of ["authz-server", "extproc-server", PROVIDER_SERVICE])
    expect((await jaeger!.traces(service)).map((t) => t.traceID)).toEqual([traceId]);
}, 90_000);

/**
 * Refused requests are never rewritten (ext_proc, which strips credential query parameters, only
 * sees allowed ones), so Envoy's span must not take its URL from the query string the agent sent.
 */
describe("a refused request's credential in the query string reaches no span", () => {
  const refusals: { what: string; path: string; init?: RequestInit; status: number; refusedBy: string[] }[] =
    [
      {
        what: "the policy refuses the request",
        path: "/openai/v1/chat/completions?api_key=sk-refused-policy-9b2e71&stream=false",
        init: {
          method: "POST",
          headers: { "x-test-deny": "1", "content-type": "application/json" },
          body: "{}",
        },
        status: 403,
        refusedBy: ["envoy", "authz-server"],
      },
      {
        what: "the policy allows nothing on this route",
        path: "/anthropic/v1/messages?key=sk-refused-route-3f6a08",
        init: { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
        status: 403,
        refusedBy: ["envoy", "authz-server"],
      },
      {
        what: "the agent sends its own x-envoy-original-path with a query (the tag's original path)",
        path: "/no-such-destination/v2?key=sk-refused-origpath-1d7e42",
        init: {
          headers: {
            "x-envoy-original-path": "/no-such-destination/v2?api_key=sk-refused-origpath-header-93c0",
          },
        },
        status: 404,
        refusedBy: ["envoy"],
      },
      {
        what: "no route matches (Envoy's local reply, before ext_authz)",
        path: "/no-such-destination/v1?access_token=sk-refused-noroute-c4d519&Client-Secret=sk-refused-noroute-77ab",
        status: 404,
        refusedBy: ["envoy"],
      },
      {
        what: "the body is too large to check (Envoy's 413, before ext_authz)",
        path: "/google-ai/v1beta/models/gemini-pro:generateContent?key=sk-refused-toolarge-0a9d3e",
        init: {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ padding: "x".repeat(2 * 1024 * 1024) }),
        },
        status: 413,
        refusedBy: ["envoy"],
      },
      {
        what: "no route matches a gRPC request (Envoy tags gRPC requests with their path)",
        path: "/no.such.Service/Method?token=sk-refused-grpc-5e0c2d",
        init: { method: "POST", headers: { "content-type": "application/grpc" }, body: "" },
        status: 200,
        refusedBy: ["envoy"],
      },
    ];

  test.each(refusals)(
    "$what: $status, and the trace holds the path without the query",
    async (refusal) => {
      const traceId = randomBytes(16).toString("hex");
      const headers = new Headers(refusal.init?.headers);
      const agentSpanId = randomBytes(8).toString("hex");
      headers.set("traceparent", `00-${traceId}-${agentSpanId}-01`);
      const response = await fetch(`${sidecar!.stack.agentUrl}${refusal.path}`, { ...refusal.init, headers });
      await response.arrayBuffer();
      expect(response.status).toBe(refusal.status);

      const trace = await completeTrace(jaeger!, traceId, refusal.refusedBy, agentSpanId);
      const everything = JSON.stringify(trace);
      for (const [, value] of new URL(refusal.path, "http://x").searchParams)
        if (value.startsWith("sk-")) expect(everything).not.toContain(value);
      expect(everything).not.toContain("sk-refused-");
      // Envoy still records which URL was asked for, only without its query string.
      const pathOnly = refusal.path.slice(0, refusal.path.indexOf("?"));
      const urls = trace.spans
        .filter((span) => serviceOf(trace, span) === "envoy")
        .flatMap((span) => span.tags.filter((tag) => tag.key === "http.url").map((tag) => String(tag.value)));
      expect(urls.length).toBeGreaterThan(0);
      for (const url of urls)
        expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+${pathOnly.replace(/\./g, "\\.")}$`));
    },
    60_000,
  );
});
