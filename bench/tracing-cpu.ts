/**
 * What tracing costs authz-server per Check, in CPU time, in one run: the Check handler as the
 * server runs it with tracing off (no SDK: the handler and deps unwrapped) and on (authz-server's
 * tracing.ts: the Check span from Envoy's traceparent, a span per stage, the SDK's batch processor).
 * With `--otlp http://host:port` spans are exported over OTLP/gRPC as in production; without, the
 * exporter drops them. A round with tracing on counts the CPU until its spans are exported (their
 * serialization included); rounds interleave off and on.
 * Run: npm run build && node dist/bench/tracing-cpu.js [iterations=20000] [--otlp http://127.0.0.1:4317]
 */
import { Metadata, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { authorize, REFUSE_ALL_DELEGATIONS, type AuthorizerDeps } from "../authz-server/src/authorizer.js";
import { tracedAuthorizerDeps, tracedCheck, type CheckHandler } from "../authz-server/src/tracing.js";
import { auth, type CheckRequest, type ICheckResponse } from "../lib/src/envoy/services.js";
import { BENCH_AGENT } from "./src/check-servers.js";
import { realisticCheckRequestBytes } from "./fixtures/check-request.js";

const iterations = Number(process.argv[2] ?? 20_000);
const otlpAt = process.argv.indexOf("--otlp");
const otlpEndpoint = otlpAt > 0 ? process.argv[otlpAt + 1] : undefined;

const deps: AuthorizerDeps = {
  policy: () => ({
    revision: "bench",
    evaluate: () => ({ allow: true, status: 200, reason: "ok", headers: {}, metadata: {} }),
  }),
  directory: { lookup: () => undefined },
  delegations: REFUSE_ALL_DELEGATIONS,
  nowNs: () => 1.7e18,
  newDecisionId: () => "bench-decision",
};

const dropping: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve(),
};
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ "service.name": "authz-server-bench" }),
  spanProcessors: [
    new BatchSpanProcessor(otlpEndpoint ? new OTLPTraceExporter({ url: otlpEndpoint }) : dropping, {
      // A round's spans (5 a Check) fit the queue, and its flush stays within the OTLP exporter's
      // limit of concurrent exports.
      maxQueueSize: 262_144,
      maxExportBatchSize: 16_384,
    }),
  ],
});
provider.register();
const tracer = provider.getTracer("authz-server");

const check: CheckRequest = auth.CheckRequest.decode(realisticCheckRequestBytes(BENCH_AGENT, true, false));
const metadata = new Metadata();
metadata.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
const call = { metadata, request: check } as ServerUnaryCall<CheckRequest, ICheckResponse>;
const answered: sendUnaryData<ICheckResponse> = () => undefined;

const handlerWith =
  (d: AuthorizerDeps): CheckHandler =>
  (c, callback) =>
    callback(null, authorize(c.request, d).response);
const off = handlerWith(deps);
const on = tracedCheck(tracer, handlerWith(tracedAuthorizerDeps(deps, tracer)));

/** CPU per Check over a round, including the export of its spans when tracing is on. */
async function cpuPerCall(handler: CheckHandler, n: number, flush: boolean): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) handler(call, answered);
  if (flush) await provider.forceFlush();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

for (const handler of [off, on]) await cpuPerCall(handler, Math.min(iterations, 5_000), handler === on);
const rounds: { off: number[]; on: number[] } = { off: [], on: [] };
for (let r = 0; r < 7; r++) {
  rounds.off.push(await cpuPerCall(off, iterations, false));
  rounds.on.push(await cpuPerCall(on, iterations, true));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const offUs = median(rounds.off);
const onUs = median(rounds.on);
console.log(
  JSON.stringify({
    bench: "authz tracing cost",
    exporter: otlpEndpoint ? `otlp ${otlpEndpoint}` : "dropping",
    cpu_us_per_check_off: Number(offUs.toFixed(2)),
    cpu_us_per_check_on: Number(onUs.toFixed(2)),
    ratio_on_vs_off: Number((onUs / offUs).toFixed(2)),
  }),
);
await provider.shutdown();
