import {
  buildSidecarBootstrap,
  sidecarParamsSchema,
  providerDestinations,
} from "../../lib/src/envoy/bootstrap.js";
import { EXT_AUTHZ_FILTER, PATH_VARIANTS, withoutFilters } from "./envoy-variants.js";

const bootstrap = buildSidecarBootstrap(
  sidecarParamsSchema.parse({
    agentListener: { port: 10000 },
    admin: { port: 9901 },
    authz: { address: "127.0.0.1", port: 9001 },
    extproc: { address: "127.0.0.1", port: 9002 },
    destinations: providerDestinations(),
  }),
);

/** Filter names in http_filters, and filter names routes configure, anywhere in the bootstrap. */
function filterNames(config: unknown): { chain: string[]; perRoute: string[] } {
  const chain: string[] = [];
  const perRoute: string[] = [];
  JSON.stringify(config, (key, value: unknown) => {
    if (key === "http_filters" && Array.isArray(value))
      chain.push(...value.map((f: { name: string }) => f.name));
    if (key === "typed_per_filter_config" && typeof value === "object" && value !== null)
      perRoute.push(...Object.keys(value));
    return value;
  });
  return { chain, perRoute: [...new Set(perRoute)] };
}

describe("path variants of the sidecar bootstrap", () => {
  test("Envoy alone keeps only the router, and no route names a filter that is gone", () => {
    expect(filterNames(withoutFilters(PATH_VARIANTS["envoy-only"])(bootstrap))).toEqual({
      chain: ["envoy.filters.http.router"],
      perRoute: [],
    });
  });

  test("the full sidecar is the bootstrap as shipped", () => {
    expect(withoutFilters(PATH_VARIANTS["ext_authz+ext_proc"])(bootstrap)).toEqual(bootstrap);
  });

  test("ext_authz alone keeps its per-route settings (context extensions, request body)", () => {
    const variant = withoutFilters(PATH_VARIANTS.ext_authz)(bootstrap);
    expect(filterNames(variant)).toEqual({
      chain: [EXT_AUTHZ_FILTER, "envoy.filters.http.router"],
      perRoute: [EXT_AUTHZ_FILTER],
    });
    expect(JSON.stringify(variant)).toContain("with_request_body");
  });
});
