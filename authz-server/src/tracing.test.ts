import { Metadata, type ServerUnaryCall } from "@grpc/grpc-js";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { auth, type CheckRequest, type ICheckResponse } from "../../lib/src/envoy/services.js";
import { authorize, REFUSE_ALL_DELEGATIONS, type AuthorizerDeps } from "./authorizer.js";
import { tracedAuthorizerDeps, tracedCheck } from "./tracing.js";

/**
 * The authorization path's spans, with the SDK exporting to memory: one Check span continuing the
 * trace Envoy sent, a child span per stage, decision facts as attributes, and no token anywhere.
 */
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
const tracer = provider.getTracer("authz-server");

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const ENVOY_SPAN = "00f067aa0ba902b7";
const DELEGATION_TOKEN = "eyJhbGciOiJFUzI1NiJ9.delegation-token-body.signature";

function checkRequest(): CheckRequest {
  return auth.CheckRequest.decode(
    auth.CheckRequest.encode({
      attributes: {
        source: { principal: "spiffe://warden.local/agent/reporter" },
        request: {
          http: {
            id: "req-1",
            method: "POST",
            path: "/openai/v1/chat/completions",
            host: "127.0.0.1:10000",
            scheme: "http",
            headers: { ":path": "/", "x-warden-delegation": DELEGATION_TOKEN },
          },
        },
        contextExtensions: { service: "openai", kind: "llm", path_prefix: "/openai" },
      },
    }).finish(),
  );
}

function deps(allow: boolean): AuthorizerDeps {
  return {
    policy: () => ({
      revision: "rev-9",
      evaluate: () => ({
        allow,
        status: allow ? 200 : 403,
        reason: allow ? "ok" : "denied_by_test",
        headers: {},
        metadata: {},
      }),
    }),
    directory: { lookup: () => undefined },
    delegations: REFUSE_ALL_DELEGATIONS,
    nowNs: () => 1_700_000_000_000_000_000,
    newDecisionId: () => "d-traced-1",
  };
}

async function check(allow: boolean): Promise<{ response: ICheckResponse; spans: ReadableSpan[] }> {
  exporter.reset();
  const metadata = new Metadata();
  metadata.set("traceparent", `00-${TRACE_ID}-${ENVOY_SPAN}-01`);
  const call = { metadata, request: checkRequest() } as ServerUnaryCall<CheckRequest, ICheckResponse>;
  const traced = tracedAuthorizerDeps(deps(allow), tracer);
  const response = await new Promise<ICheckResponse>((resolve, reject) =>
    tracedCheck(tracer, (c, callback) => callback(null, authorize(c.request, traced).response))(
      call,
      (error, value) => (error || !value ? reject(error ?? new Error("no response")) : resolve(value)),
    ),
  );
  return { response, spans: exporter.getFinishedSpans() };
}

const named = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no ${name} in ${spans.map((s) => s.name).join(", ")}`);
  return span;
};

afterAll(() => provider.shutdown());

test("a Check is a span of Envoy's trace, with a child span per stage", async () => {
  const { spans } = await check(true);
  const root = named(spans, "authz.check");
  expect(root.spanContext().traceId).toBe(TRACE_ID);
  expect(root.parentSpanContext?.spanId).toBe(ENVOY_SPAN);
  for (const stage of ["authz.agent_facts", "authz.delegation", "authz.policy", "authz.response"]) {
    const span = named(spans, stage);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
  }
  expect(root.attributes).toMatchObject({
    "warden.allow": true,
    "warden.decision_id": "d-traced-1",
    "warden.destination.service": "openai",
  });
  expect(named(spans, "authz.policy").attributes).toMatchObject({ "warden.policy_revision": "rev-9" });
});

test("a refusal's span carries its status and reason code", async () => {
  const { spans } = await check(false);
  expect(named(spans, "authz.check").attributes).toMatchObject({
    "warden.allow": false,
    "http.response.status_code": 403,
    "warden.reason": "denied_by_test",
  });
});

test("no span holds the delegation token the agent sent", async () => {
  const { spans } = await check(true);
  expect(spans.length).toBeGreaterThan(3);
  const everything = JSON.stringify(
    spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })),
  );
  expect(everything).not.toContain(DELEGATION_TOKEN);
  expect(everything).not.toContain("delegation-token-body");
});
