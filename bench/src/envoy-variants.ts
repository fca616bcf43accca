import type { BootstrapTransform } from "../../test/harness/envoy.js";

/**
 * The sidecar's own bootstrap with HTTP filters taken out, so the path suite compares Envoy alone,
 * Envoy + ext_authz and the full sidecar with everything else (routes, access log, error mapping,
 * limits) exactly as shipped. Pure.
 */
export const EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz";
export const EXT_PROC_FILTER = "envoy.filters.http.ext_proc";

export type PathVariant = "envoy-only" | "ext_authz" | "ext_authz+ext_proc";

export const PATH_VARIANTS: Record<PathVariant, readonly string[]> = {
  "envoy-only": [EXT_AUTHZ_FILTER, EXT_PROC_FILTER],
  ext_authz: [EXT_PROC_FILTER],
  "ext_authz+ext_proc": [],
};

export function withoutFilters(filters: readonly string[]): BootstrapTransform {
  const drop = new Set(filters);
  return (bootstrap) =>
    JSON.parse(JSON.stringify(bootstrap), (key, value: unknown) => {
      if (key === "http_filters" && Array.isArray(value)) {
        return value.filter((filter: { name?: unknown }) => !drop.has(String(filter.name)));
      }
      if (key === "typed_per_filter_config" && typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).filter(([name]) => !drop.has(name)));
      }
      return value;
    }) as Record<string, unknown>;
}
