import { trace, type Tracer } from "@opentelemetry/api";
import type { Logger } from "../logger.js";

/** A process's tracer and how to flush it on the way out. */
export interface Tracing {
  /** Null when tracing is off: callers skip their instrumentation entirely (no per-request cost). */
  readonly tracer: Tracer | null;
  shutdown(): Promise<void>;
}

export const TRACING_OFF: Tracing = { tracer: null, shutdown: () => Promise.resolve() };

/**
 * Starts tracing for one process when an OTLP endpoint is configured. The SDK is imported only then,
 * so a process without tracing loads none of it. It registers the AsyncLocalStorage context manager
 * (stage spans find their parent without it being passed around) and the W3C trace-context
 * propagator (the `traceparent` Envoy sends in gRPC metadata).
 */
export async function startTracing(
  serviceName: string,
  endpoint: string | undefined,
  logger: Logger,
): Promise<Tracing> {
  if (endpoint === undefined) return TRACING_OFF;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace-node"),
      import("@opentelemetry/exporter-trace-otlp-grpc"),
      import("@opentelemetry/resources"),
    ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  provider.register();
  logger.info({ otlp_endpoint: endpoint }, "tracing: spans exported over OTLP/gRPC");
  return {
    tracer: trace.getTracer(serviceName),
    shutdown: () =>
      provider
        .shutdown()
        .catch((error: unknown) => logger.warn({ err: error }, "tracing: spans not flushed on shutdown")),
  };
}
