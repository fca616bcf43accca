import { context, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from "@opentelemetry/api";

/**
 * Runs `work` inside a child span of the active span (one stage of a request), ending the span when
 * the work is done, a promise included. An exception marks the span as failed and is rethrown.
 * Attributes are names, codes and counts only, never a header value, a body or a credential.
 */
export function inStage<T>(tracer: Tracer, name: string, work: () => T, attributes?: Attributes): T {
  const span = tracer.startSpan(name, attributes ? { attributes } : undefined);
  let result: T;
  try {
    result = context.with(trace.setSpan(context.active(), span), work);
  } catch (error) {
    failed(span, error);
    span.end();
    throw error;
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        failed(span, error);
        span.end();
        throw error;
      },
    ) as T;
  }
  span.end();
  return result;
}

/** The error's class only: a message may quote a value. */
export function failed(span: Span, error: unknown): void {
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.name : "error",
  });
}
