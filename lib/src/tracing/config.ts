import { z } from "zod";

/**
 * The tracing settings every traced process reads (authz-server, extproc-server; `warden up` passes
 * them on). Off unless an OTLP endpoint is given: then no OpenTelemetry SDK is even loaded.
 */
export const OTLP_ENDPOINT_HELP =
  "OpenTelemetry traces: the OTLP/gRPC collector endpoint, e.g. `http://127.0.0.1:4317` (Jaeger, an OpenTelemetry Collector). Unset (the default): tracing is off and costs nothing. Spans carry names, ids, statuses and timings, never a credential.";

export const otlpEndpoint = () =>
  z
    .string()
    .url()
    .refine((value) => /^https?:\/\/[^/?#]+\/?$/.test(value), "must be http(s)://host:port (no path)")
    .optional();

export const tracingConfigShape = {
  WARDEN_OTLP_ENDPOINT: otlpEndpoint().describe(OTLP_ENDPOINT_HELP),
};

/** host and port of an OTLP endpoint URL, as Envoy's collector cluster needs them. */
export function otlpHostPort(endpoint: string): { address: string; port: number } {
  const url = new URL(endpoint);
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  return { address: url.hostname.replace(/^\[|\]$/g, ""), port };
}
