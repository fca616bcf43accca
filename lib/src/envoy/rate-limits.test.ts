import { limitDescriptors } from "../ratelimit/descriptors.js";
import { buildSidecarBootstrap } from "./bootstrap.js";
import { sidecarParamsSchema, type SidecarParams } from "./params.js";

const base: SidecarParams = {
  agentListener: { port: 10000 },
  admin: { port: 9901 },
  authz: { address: "127.0.0.1", port: 9001 },
  extproc: { address: "127.0.0.1", port: 9002 },
  destinations: [
    {
      name: "openai",
      service: "openai",
      kind: "llm",
      pathPrefix: "/openai/",
      upstream: { address: "127.0.0.1", port: 18080, tls: false },
    },
  ],
};

type Obj = Record<string, unknown>;
function hcm(params: SidecarParams): Obj {
  const bootstrap = buildSidecarBootstrap(sidecarParamsSchema.parse(params)) as Obj;
  const listener = ((bootstrap.static_resources as Obj).listeners as Obj[])[0]!;
  return ((listener.filter_chains as Obj[])[0]!.filters as Obj[])[0]!.typed_config as Obj;
}
const filterNames = (params: SidecarParams) => (hcm(params).http_filters as Obj[]).map((f) => f.name);
function openaiRoute(params: SidecarParams): Obj {
  const routes = ((hcm(params).route_config as Obj).virtual_hosts as Obj[])[0]!.routes as Obj[];
  return routes.find((r) => r.name === "openai")!.route as Obj;
}

describe("rate limits in the sidecar", () => {
  test("none unless configured: no filter, no descriptors, no cluster", () => {
    expect(filterNames(base)).not.toContain("envoy.filters.http.ratelimit");
    expect(openaiRoute(base).rate_limits).toBeUndefined();
  });

  test("the global filters run after ext_authz (their descriptors come from its decision), the local bucket before", () => {
    const names = filterNames({
      ...base,
      rateLimit: { service: { address: "127.0.0.1", port: 8091 } },
      localRateLimit: { requestsPerMinute: 600 },
    });
    expect(names.indexOf("envoy.filters.http.local_ratelimit")).toBeLessThan(
      names.indexOf("envoy.filters.http.ext_authz"),
    );
    expect(names.indexOf("envoy.filters.http.ext_authz")).toBeLessThan(
      names.indexOf("envoy.filters.http.ratelimit"),
    );
    expect(names.indexOf("envoy.filters.http.ratelimit")).toBeLessThan(
      names.indexOf("envoy.filters.http.ratelimit.fail_closed"),
    );
  });

  test("only the fail-closed stage denies when the service cannot answer", () => {
    const filters = hcm({ ...base, rateLimit: { service: { address: "127.0.0.1", port: 8091 } } })
      .http_filters as Obj[];
    const deny = (name: string) =>
      (filters.find((f) => f.name === name)!.typed_config as Obj).failure_mode_deny;
    expect(deny("envoy.filters.http.ratelimit")).toBe(false);
    expect(deny("envoy.filters.http.ratelimit.fail_closed")).toBe(true);
  });

  test("every descriptor's tenant and subject come from the ext_authz decision or the route, never from a header", () => {
    const limits = openaiRoute({ ...base, rateLimit: { service: { address: "127.0.0.1", port: 8091 } } })
      .rate_limits as { stage: number; actions: Obj[] }[];
    const kinds = limits.flatMap((l) => l.actions.map((a) => Object.keys(a)[0]));
    expect(new Set(kinds)).toEqual(new Set(["generic_key", "metadata"]));
    const scopesOf = (unit: string) =>
      limits
        .filter((l) => l.stage === 0 && (l.actions[0]!.generic_key as Obj).descriptor_value === unit)
        .map((l) => (l.actions[1]!.generic_key as Obj).descriptor_value as string);
    // No MCP tool on an LLM route; its LLM tokens are checked under the same scopes.
    expect(scopesOf("requests")).toEqual(["tenant", "team", "agent", "route"]);
    expect(scopesOf("tokens")).toEqual(["tenant", "team", "agent", "route"]);
    const routeScope = limits.find(
      (l) => (l.actions[1]?.generic_key as Obj | undefined)?.descriptor_value === "route",
    )!;
    expect(routeScope.actions[3]).toEqual({
      generic_key: { descriptor_key: "subject", descriptor_value: "openai" },
    });
  });

  test("a route that is not an LLM's checks no token limit", () => {
    const limits = openaiRoute({
      ...base,
      destinations: [{ ...base.destinations[0]!, kind: "saas" }],
      rateLimit: { service: { address: "127.0.0.1", port: 8091 } },
    }).rate_limits as { actions: Obj[] }[];
    const units = limits.map((l) => (l.actions[0]!.generic_key as Obj | undefined)?.descriptor_value);
    expect(units).not.toContain("tokens");
  });

  test("the token descriptors extproc-server charges are the ones the route checks (same keys, same order)", () => {
    const limits = openaiRoute({ ...base, rateLimit: { service: { address: "127.0.0.1", port: 8091 } } })
      .rate_limits as { stage: number; actions: Obj[] }[];
    const routeKeys = limits
      .filter((l) => (l.actions[0]!.generic_key as Obj | undefined)?.descriptor_value === "tokens")
      .map((l) => l.actions.map((a) => ((a.generic_key ?? a.metadata) as Obj).descriptor_key as string));
    const charged = limitDescriptors("tokens", {
      tenant: "acme",
      team: "red",
      agentSpiffeId: "spiffe://warden.local/agent/a",
      route: "openai",
    }).map((d) => d.entries.map((e) => e.key));
    expect(charged).toEqual(routeKeys);
  });
});
