import type { Metadata } from "@grpc/grpc-js";
import { propagation, ROOT_CONTEXT, type Context, type TextMapGetter } from "@opentelemetry/api";

/**
 * Envoy puts the trace context of its ext_authz / ext_proc call (W3C `traceparent`, `tracestate`) in
 * the gRPC request metadata; this reads it as the parent of the server's span.
 */
const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((value): value is string => typeof value === "string");
    return values.length === 0 ? undefined : values;
  },
};

export function parentFromMetadata(metadata: Metadata): Context {
  return propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
}
