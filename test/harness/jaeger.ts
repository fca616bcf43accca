import { join } from "node:path";
import { freePorts, httpOk, waitWhileAlive } from "../../lib/src/runtime/child.js";
import { REPO_ROOT, startProcess, toolPath, waitFor, type ManagedProcess } from "./process.js";

/**
 * A real Jaeger (v2 all-in-one, installed by scripts/setup) on free loopback ports, traces in memory:
 * the collector the tracing tests export to (OTLP/gRPC) and read back from (its query API).
 */
export interface Jaeger {
  /** The OTLP/gRPC endpoint, as WARDEN_OTLP_ENDPOINT takes it. */
  readonly otlpEndpoint: string;
  readonly otlpPort: number;
  /** The query API's base URL (`/api/traces`, `/api/services`). */
  readonly queryUrl: string;
  readonly process: ManagedProcess;
  /** The traces holding spans of `service` (Jaeger's JSON API). */
  traces(service: string): Promise<JaegerTrace[]>;
  stop(): Promise<void>;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; type: string; value: unknown }[];
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: unknown[] }>;
}

export const JAEGER_CONFIG = join(REPO_ROOT, "test", "harness", "jaeger.yaml");

export async function startJaeger(name: string): Promise<Jaeger> {
  const [otlpPort, otlpHttpPort, queryPort, queryGrpcPort, healthPort] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const child = startProcess({
    name: `${name}-jaeger`,
    command: toolPath("jaeger"),
    args: ["--config", `file:${JAEGER_CONFIG}`],
    env: {
      JAEGER_OTLP_GRPC_PORT: String(otlpPort),
      JAEGER_OTLP_HTTP_PORT: String(otlpHttpPort),
      JAEGER_QUERY_PORT: String(queryPort),
      JAEGER_QUERY_GRPC_PORT: String(queryGrpcPort),
      JAEGER_HEALTH_PORT: String(healthPort),
    },
  });
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  try {
    await waitWhileAlive(
      "jaeger",
      () => child.assertRunning(),
      async () =>
        (await httpOk(`http://127.0.0.1:${healthPort}/status`)) && (await httpOk(`${queryUrl}/api/services`)),
      30_000,
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${otlpPort}`,
    otlpPort,
    queryUrl,
    process: child,
    async traces(service) {
      const url = `${queryUrl}/api/traces?service=${encodeURIComponent(service)}&limit=100&lookback=1h`;
      const response = await fetch(url);
      if (response.status === 404) return [];
      if (!response.ok) throw new Error(`jaeger query: HTTP ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as { data: JaegerTrace[] | null };
      return body.data ?? [];
    },
    stop: async () => {
      await child.stop();
    },
  };
}

export const serviceOf = (trace: JaegerTrace, span: JaegerSpan): string =>
  trace.processes[span.processID]?.serviceName ?? "?";
export const parentOf = (span: JaegerSpan): string | undefined =>
  span.references.find((reference) => reference.refType === "CHILD_OF")?.spanID;

/**
 * Polls Jaeger until the trace holds spans of every service named and each span's parent (exporters
 * batch for seconds, and Envoy's ingress span, the root, ends and is exported last). A parent outside
 * Jaeger (the agent's own span, when it sent a traceparent) is named in `externalParent`.
 */
export async function completeTrace(
  jaeger: Jaeger,
  traceId: string,
  services: readonly string[],
  externalParent?: string,
): Promise<JaegerTrace> {
  let last: JaegerTrace | undefined;
  const complete = (trace: JaegerTrace): boolean => {
    const seen = new Set(Object.values(trace.processes).map((p) => p.serviceName));
    const ids = new Set(trace.spans.map((span) => span.spanID));
    const isRoot = (span: JaegerSpan) => {
      const parent = parentOf(span);
      return parent === undefined || parent === externalParent;
    };
    return (
      services.every((service) => seen.has(service)) &&
      trace.spans.some(isRoot) &&
      trace.spans.every((span) => isRoot(span) || ids.has(parentOf(span)!))
    );
  };
  try {
    await waitFor(
      `trace ${traceId}, complete, with spans of ${services.join(", ")}`,
      async () => {
        const response = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
        if (!response.ok) return false;
        last = ((await response.json()) as { data: JaegerTrace[] }).data[0];
        return last !== undefined && complete(last);
      },
      45_000,
    );
  } catch (error) {
    throw new Error(`${String(error)}: ${JSON.stringify(last)}`);
  }
  return last!;
}
