import { parse } from "yaml";
import { providerDestinations, renderSidecarBootstrap, type SidecarParams } from "./bootstrap.js";

/* Zero-code mode: the extra plain-HTTP loopback listener of a sidecar bound to one agent. */
type Node = Record<string, unknown>;

function at(node: unknown, ...path: (string | number)[]): Node {
  let current: unknown = node;
  for (const key of path) {
    if (current === null || typeof current !== "object") throw new Error(`no ${path.join(".")}`);
    current = (current as Record<string | number, unknown>)[key];
  }
  if (current === undefined) throw new Error(`no ${path.join(".")}`);
  return current as Node;
}

const AGENT = "spiffe://warden.local/agent/legacy-bot";
const bound: SidecarParams = {
  agentListener: { port: 10000 },
  admin: { port: 10001 },
  authz: { address: "127.0.0.1", port: 10002 },
  extproc: { address: "127.0.0.1", port: 10003 },
  destinations: providerDestinations(),
  downstreamTls: {
    spireAgentSocket: "/run/spire/agent.sock",
    svidName: AGENT,
    trustBundleName: "spiffe://warden.local",
  },
  serverIdentities: {
    authz: "spiffe://warden.local/warden/authz",
    extproc: "spiffe://warden.local/warden/extproc",
  },
  zeroCode: { port: 18089, agentSpiffeId: AGENT },
};

const render = (params: Partial<SidecarParams> = {}): Node =>
  parse(renderSidecarBootstrap({ ...bound, ...params })) as Node;
const listeners = (config: Node): Node[] => at(config, "static_resources", "listeners") as unknown as Node[];
const hcmOf = (listener: Node): Node => at(listener, "filter_chains", 0, "filters", 0, "typed_config");
const routesOf = (listener: Node): Node[] =>
  at(hcmOf(listener), "route_config", "virtual_hosts", 0, "routes") as unknown as Node[];
const contextOf = (route: Node): Node =>
  at(
    route,
    "typed_per_filter_config",
    "envoy.filters.http.ext_authz",
    "check_settings",
    "context_extensions",
  );

describe("zero-code listener", () => {
  test("off by default: one listener, and no route carries the bound-agent context", () => {
    const { zeroCode: _unused, ...withoutZeroCode } = bound;
    const config = parse(
      renderSidecarBootstrap({
        ...withoutZeroCode,
        downstreamTls: { ...bound.downstreamTls!, svidName: "spiffe://warden.local/warden/envoy" },
      }),
    ) as Node;
    expect(listeners(config)).toHaveLength(1);
    expect(JSON.stringify(config)).not.toContain("zero_code_agent");
  });

  test("plain HTTP on loopback, every destination route naming the bound agent; the mTLS listener's do not", () => {
    const [mtls, zeroCode] = listeners(render());
    expect(zeroCode!.name).toBe("zero-code");
    expect(at(zeroCode!, "address", "socket_address")).toEqual({ address: "127.0.0.1", port_value: 18089 });
    expect(at(zeroCode!, "filter_chains", 0).transport_socket).toBeUndefined();
    const destinationRoutes = routesOf(zeroCode!).filter((r) => r.name !== "unknown");
    expect(destinationRoutes.length).toBe(providerDestinations().length);
    for (const route of destinationRoutes) expect(contextOf(route).zero_code_agent).toBe(AGENT);
    // The agents' mTLS listener: the caller is whoever its certificate names.
    expect(at(mtls!, "filter_chains", 0, "transport_socket")).toBeDefined();
    for (const route of routesOf(mtls!).filter((r) => r.name !== "unknown"))
      expect(contextOf(route).zero_code_agent).toBeUndefined();
  });

  test("removes identity-looking headers a client sends and sanitises x-forwarded-client-cert", () => {
    const zeroCode = listeners(render())[1]!;
    const hcm = hcmOf(zeroCode);
    expect(hcm.forward_client_cert_details).toBe("SANITIZE");
    expect(hcm.stat_prefix).toBe("zero_code");
    expect(at(hcm, "route_config", "request_headers_to_remove")).toEqual(
      expect.arrayContaining(["x-forwarded-client-cert", "x-warden-agent", "x-spiffe-id", "x-forwarded-for"]),
    );
    expect(at(hcm, "http_filters", 0, "name")).toBe("envoy.filters.http.ext_authz");
    expect(at(hcm, "http_filters", 0, "typed_config").failure_mode_allow).toBe(false);
  });

  test("is validated: loopback only, the sidecar holds the bound agent's SVID, an agent SPIFFE ID", () => {
    expect(() => render({ zeroCode: { address: "0.0.0.0", port: 18089, agentSpiffeId: AGENT } })).toThrow(
      /loopback only/,
    );
    expect(() =>
      render({ downstreamTls: { ...bound.downstreamTls!, svidName: "spiffe://warden.local/warden/envoy" } }),
    ).toThrow(/bound agent's SVID/);
    expect(() =>
      render({ zeroCode: { port: 18089, agentSpiffeId: "spiffe://warden.local/warden/envoy" } }),
    ).toThrow(/agent/);
    expect(() => render({ downstreamTls: null, serverIdentities: null })).toThrow(/holds its agent's SVID/);
    expect(() => render({ zeroCode: { port: 10000, agentSpiffeId: AGENT } })).toThrow(/must differ/);
  });
});
