import { parse } from "yaml";
import { providerDestinations, renderSidecarBootstrap, type SidecarParams } from "./bootstrap.js";

type Node = Record<string, unknown>;

const base: SidecarParams = {
  agentListener: { port: 10000 },
  admin: { port: 10001 },
  authz: { address: "127.0.0.1", port: 10002 },
  extproc: { address: "127.0.0.1", port: 10003 },
  destinations: providerDestinations(),
};

function rendered(params: SidecarParams) {
  const config = parse(renderSidecarBootstrap(params)) as Node;
  const resources = config.static_resources as { listeners: Node[]; clusters: { name: string }[] };
  const manager = (resources.listeners[0]!.filter_chains as Node[])[0]!.filters as Node[];
  return { clusters: resources.clusters, manager: manager[0]!.typed_config as Node };
}

test("tracing is off by default: no tracer, no collector cluster", () => {
  const { clusters, manager } = rendered(base);
  expect(manager.tracing).toBeUndefined();
  expect(clusters.map((c) => c.name)).not.toContain("warden_otlp");
});

test("with a collector, Envoy traces every request with the OpenTelemetry tracer over OTLP/gRPC", () => {
  const { clusters, manager } = rendered({
    ...base,
    tracing: { collector: { address: "127.0.0.1", port: 4317 } },
  });
  expect(manager.tracing).toEqual({
    random_sampling: { value: 100 },
    spawn_upstream_span: true,
    custom_tags: [
      { tag: "http.url", value: "%REQ(X-FORWARDED-PROTO)%://%REQ(:AUTHORITY)%%PATH(NQ:ORIG_OR_PATH)%" },
      { tag: "grpc.path", value: "%PATH(NQ:ORIG_OR_PATH)%" },
    ],
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: {
        "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
        grpc_service: { envoy_grpc: { cluster_name: "warden_otlp" }, timeout: "1s" },
        service_name: "envoy",
      },
    },
  });
  const collector = clusters.find((c) => c.name === "warden_otlp") as Node | undefined;
  expect(collector).toMatchObject({
    type: "STATIC",
    load_assignment: {
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 4317 } } } }] }],
    },
  });
});

test("the URL tags Envoy puts on a span are replaced by the path without its query string", () => {
  const { manager } = rendered({ ...base, tracing: { collector: { address: "127.0.0.1", port: 4317 } } });
  const tags = (manager.tracing as { custom_tags: { tag: string; value: string }[] }).custom_tags;
  // Every tag Envoy fills from the request's path (its URL, and gRPC's path) is overridden...
  expect(tags.map((t) => t.tag).sort()).toEqual(["grpc.path", "http.url"]);
  for (const { value } of tags) {
    // ...by a value whose only path is the one with No Query (NQ: `WQ`, and a bare `%PATH%`, keep
    // it), the original path when a route rewrote it, like Envoy's own tag.
    expect(value).toContain("%PATH(NQ:ORIG_OR_PATH)%");
    expect(value.replace("%PATH(NQ:ORIG_OR_PATH)%", "")).not.toMatch(/PATH/i);
  }
});

test("a destination cannot take the collector cluster's name", () => {
  const [first] = providerDestinations();
  expect(() =>
    renderSidecarBootstrap({ ...base, destinations: [{ ...first!, name: "warden_otlp" }] }),
  ).toThrow(/reserved name/);
});
