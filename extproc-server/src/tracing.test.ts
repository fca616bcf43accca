import { Metadata } from "@grpc/grpc-js";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { extProc } from "../../lib/src/envoy/services.js";
import type { IncomingMessage } from "./incoming.js";
import { StreamTrace, tracedKeySource, tracedUsageSink } from "./tracing.js";
import type { LlmKeySource } from "./credentials/key-source.js";

/** One ext_proc stream's spans, exported to memory: a stream span under Envoy's, a span per phase. */
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
const tracer = provider.getTracer("extproc-server");

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const ENVOY_SPAN = "b7ad6b7169203331";
const KEY = "sk-injected-key-never-in-a-span-0123";

const message = (fields: Parameters<typeof extProc.ProcessingRequest.encode>[0]): IncomingMessage =>
  extProc.ProcessingRequest.decode(extProc.ProcessingRequest.encode(fields).finish());
const named = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);

afterAll(() => provider.shutdown());

test("a stream is one span of Envoy's trace, a span per phase, one for a body's chunks, key and usage inside", async () => {
  const metadata = new Metadata();
  metadata.set("traceparent", `00-${TRACE_ID}-${ENVOY_SPAN}-01`);
  const trace = new StreamTrace(tracer, metadata);
  const keys = tracedKeySource(
    {
      keyFor: () => Promise.resolve(KEY),
      invalidate: () => undefined,
      scrubber: () => ({}) as never,
    } as LlmKeySource,
    tracer,
  );
  const recorded: unknown[] = [];
  const usage = tracedUsageSink({ record: (record) => recorded.push(record) }, tracer);

  expect(
    await trace.within(message({ requestHeaders: { endOfStream: false } }), () =>
      keys.keyFor("acme", "openai"),
    ),
  ).toBe(KEY);
  trace.within(message({ responseHeaders: {} }), () => undefined);
  for (const last of [false, false, true])
    trace.within(message({ responseBody: { endOfStream: last } }), () => undefined);
  trace.end(() => usage.record({ model: "gpt-4o-mini" } as never));

  const [stream] = named("extproc.process");
  expect(stream!.spanContext().traceId).toBe(TRACE_ID);
  expect(stream!.parentSpanContext?.spanId).toBe(ENVOY_SPAN);
  const streamId = stream!.spanContext().spanId;
  for (const phase of ["extproc.request_headers", "extproc.response_headers", "extproc.response_body"])
    expect(named(phase).map((s) => s.parentSpanContext?.spanId)).toEqual([streamId]);
  expect(named("extproc.response_body")[0]!.attributes).toMatchObject({ "warden.body.chunks": 3 });
  const [lookup] = named("extproc.key_lookup");
  expect(lookup!.parentSpanContext?.spanId).toBe(named("extproc.request_headers")[0]!.spanContext().spanId);
  expect(lookup!.attributes).toEqual({ "warden.tenant": "acme", "warden.llm.provider": "openai" });
  expect(named("extproc.usage_record")[0]!.parentSpanContext?.spanId).toBe(streamId);
  expect(recorded).toHaveLength(1);
  expect(JSON.stringify(exporter.getFinishedSpans().map((s) => s.attributes))).not.toContain(KEY);
});

test("a stream that ends mid-body still ends its spans", () => {
  exporter.reset();
  const trace = new StreamTrace(tracer, new Metadata());
  trace.within(message({ requestBody: { endOfStream: false } }), () => undefined);
  trace.end(() => undefined);
  expect(named("extproc.request_body")).toHaveLength(1);
  // Without a traceparent the stream starts a trace of its own.
  expect(named("extproc.process")[0]!.parentSpanContext).toBeUndefined();
});
