import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { ROOT_CONTEXT, SpanKind, type TextMapGetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { RecordedRequest } from "./llm-stub-server.js";

/**
 * What a real provider behind an OpenTelemetry-instrumented gateway would do: continue the W3C trace
 * context of the request it receives and export a SERVER span of its own to the collector. The
 * provider is the third party here, so its tracer is a private one (not the process's global).
 */
export interface ProviderSpans {
  /** For ProviderStubOptions.observe: one span per request, ended when the answer is sent. */
  observe(request: RecordedRequest, res: ServerResponse): void;
  /** Exports what is left and stops. */
  shutdown(): Promise<void>;
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

export function providerSpans(serviceName: string, otlpEndpoint: string): ProviderSpans {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: otlpEndpoint }))],
  });
  const tracer = provider.getTracer(serviceName);
  const propagator = new W3CTraceContextPropagator();
  return {
    observe(request, res) {
      const parent = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
      const span = tracer.startSpan(
        `${request.method} ${request.path.split("?")[0] ?? ""}`,
        { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method } },
        parent,
      );
      res.once("finish", () => {
        span.setAttribute("http.response.status_code", res.statusCode);
        span.end();
      });
    },
    shutdown: () => provider.shutdown(),
  };
}
