import type { Metadata } from "@grpc/grpc-js";
import { context, SpanKind, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { parentFromMetadata } from "../../lib/src/tracing/grpc-context.js";
import { inStage } from "../../lib/src/tracing/stage.js";
import type { LlmKeySource } from "./credentials/key-source.js";
import type { IncomingMessage } from "./incoming.js";
import { PHASES, type Phase } from "./phase-order.js";
import type { UsageSink } from "./usage/record.js";

/**
 * Tracing of one ext_proc stream (one HTTP exchange), used only when tracing is on. One SERVER span
 * per stream, a child of the span Envoy sent in the gRPC metadata, and one child span per phase:
 * request headers, request body, response headers, response body (one span for all of a body's
 * chunks), trailers. Key lookups and usage records are spans inside the phase that makes them.
 * Attributes are phase names, counts and ids; never a header value, a body or a key.
 */
const SPAN_NAMES: Readonly<Record<Phase, string>> = {
  requestHeaders: "extproc.request_headers",
  requestBody: "extproc.request_body",
  requestTrailers: "extproc.request_trailers",
  responseHeaders: "extproc.response_headers",
  responseBody: "extproc.response_body",
  responseTrailers: "extproc.response_trailers",
};

function phaseOf(message: IncomingMessage): { phase: Phase; endOfStream: boolean } | null {
  const fields = message as Partial<Record<Phase, { endOfStream?: boolean | null } | null>>;
  for (const phase of PHASES) {
    const value = fields[phase];
    if (value) return { phase, endOfStream: value.endOfStream === true };
  }
  return null;
}

export class StreamTrace {
  private readonly span: Span;
  private readonly context: Context;
  /** A streamed body's span stays open from its first chunk to its last. */
  private readonly bodies = new Map<Phase, { span: Span; chunks: number }>();

  constructor(
    private readonly tracer: Tracer,
    metadata: Metadata,
  ) {
    const parent = parentFromMetadata(metadata);
    this.span = tracer.startSpan("extproc.process", { kind: SpanKind.SERVER }, parent);
    this.context = trace.setSpan(parent, this.span);
  }

  /** Runs the processing of one message inside the span of its phase. */
  within<T>(message: IncomingMessage, work: () => T): T {
    const found = phaseOf(message);
    if (!found) return context.with(this.context, work);
    const { phase, endOfStream } = found;
    if (phase !== "requestBody" && phase !== "responseBody")
      return context.with(this.context, () => inStage(this.tracer, SPAN_NAMES[phase], work));
    let body = this.bodies.get(phase);
    if (!body) {
      body = { span: this.tracer.startSpan(SPAN_NAMES[phase], undefined, this.context), chunks: 0 };
      this.bodies.set(phase, body);
    }
    body.chunks++;
    const result = context.with(trace.setSpan(this.context, body.span), work);
    if (endOfStream) {
      const ended = body;
      this.bodies.delete(phase);
      if (result instanceof Promise) void result.finally(() => endBody(ended)).catch(() => undefined);
      else endBody(ended);
    }
    return result;
  }

  /** The stream is over: `closing` (the processor's end, which may record usage) runs in its span. */
  end(closing: () => void): void {
    try {
      context.with(this.context, closing);
    } finally {
      for (const body of this.bodies.values()) endBody(body);
      this.bodies.clear();
      this.span.end();
    }
  }
}

function endBody(body: { span: Span; chunks: number }): void {
  body.span.setAttribute("warden.body.chunks", body.chunks);
  body.span.end();
}

/** Vault (OpenBao) key reads as spans: tenant and provider only, never the key. */
export function tracedKeySource(keys: LlmKeySource, tracer: Tracer): LlmKeySource {
  return {
    keyFor: (tenant, provider) =>
      inStage(tracer, "extproc.key_lookup", () => keys.keyFor(tenant, provider), {
        "warden.tenant": tenant,
        "warden.llm.provider": provider,
      }),
    invalidate: (tenant, provider) => keys.invalidate(tenant, provider),
    scrubber: () => keys.scrubber(),
  };
}

export function tracedUsageSink(usage: UsageSink, tracer: Tracer): UsageSink {
  return { record: (record) => inStage(tracer, "extproc.usage_record", () => usage.record(record)) };
}
