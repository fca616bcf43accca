import type { envoy } from "../gen/envoy.js";

type HeaderMap = envoy.config.core.v3.IHeaderMap | null | undefined;

/**
 * Envoy's ext_proc sends header values in `raw_value` (bytes) and ignores `value` when both are
 * set on a mutation (it answers 500: envoy issue #31555). Read both, write only `raw_value`.
 */
export function headerMapToRecord(map: HeaderMap): Record<string, string> {
  // A Map, not an object: a header named `constructor` or `__proto__` is an ordinary header.
  const out = new Map<string, string>();
  for (const header of map?.headers ?? []) {
    const key = (header.key ?? "").toLowerCase();
    if (!key) continue;
    const raw = header.rawValue;
    const value = raw && raw.length > 0 ? Buffer.from(raw).toString("utf8") : (header.value ?? "");
    const before = out.get(key);
    out.set(key, before === undefined ? value : `${before},${value}`);
  }
  return Object.fromEntries(out);
}

export function headerOption(
  key: string,
  value: string,
  append = false,
): envoy.config.core.v3.IHeaderValueOption {
  return {
    header: { key, rawValue: Buffer.from(value, "utf8") },
    // OVERWRITE_IF_EXISTS_OR_ADD = 2, APPEND_IF_EXISTS_OR_ADD = 0
    appendAction: append ? 0 : 2,
  };
}

/**
 * ext_authz is the other way round: Envoy 1.40 reads `value` from a CheckResponse's headers and
 * ignores `raw_value`, so ext_authz answers carry the string value only.
 */
export function authzHeaderOption(
  key: string,
  value: string,
  append = false,
): envoy.config.core.v3.IHeaderValueOption {
  return { header: { key, value }, appendAction: append ? 0 : 2 };
}
