import { stringify } from "yaml";
import {
  DESCRIPTOR_KEYS,
  RATE_LIMIT_DOMAIN,
  type RateLimitDefinition,
  type RateLimitScope,
  type RateLimitUnit,
} from "./definitions.js";

/**
 * The configuration of envoyproxy/ratelimit for a set of definitions: one YAML document for the
 * `warden` domain, descriptors nested unit → scope → tenant → subject, as the sidecar sends
 * them. Pure; the control plane writes the result into the service's runtime folder, which the
 * service watches (docs/rate-limits.md). A descriptor that matches no entry is not limited.
 */
interface ServiceDescriptor {
  key: string;
  value: string;
  rate_limit?: { unit: "minute"; requests_per_unit: number };
  descriptors?: ServiceDescriptor[];
}

export function renderServiceConfig(definitions: readonly RateLimitDefinition[]): string {
  const root: ServiceDescriptor[] = [];
  // Sorted, so the same limits always render the same file (the service reloads on every change).
  const sorted = [...definitions].sort((a, b) => key(a).localeCompare(key(b)));
  for (const definition of sorted) {
    const path: [string, string][] = [
      [DESCRIPTOR_KEYS.unit, definition.unit],
      [DESCRIPTOR_KEYS.scope, definition.scope],
      [DESCRIPTOR_KEYS.tenant, definition.tenant],
    ];
    if (definition.scope !== "tenant") path.push([DESCRIPTOR_KEYS.subject, definition.subject]);
    let level = root;
    let node: ServiceDescriptor | undefined;
    for (const [k, v] of path) {
      node = level.find((d) => d.key === k && d.value === v);
      if (!node) {
        node = { key: k, value: v };
        level.push(node);
      }
      node.descriptors ??= [];
      level = node.descriptors;
    }
    // Two definitions for the same subject cannot both hold: the API's unique key prevents it,
    // and here the stricter one wins.
    const previous = node!.rate_limit?.requests_per_unit ?? Infinity;
    node!.rate_limit = { unit: "minute", requests_per_unit: Math.min(previous, definition.perMinute) };
  }
  pruneEmpty(root);
  return stringify({ domain: RATE_LIMIT_DOMAIN, descriptors: root }, { lineWidth: 0 });
}

function key(d: { unit: RateLimitUnit; scope: RateLimitScope; tenant: string; subject: string }): string {
  return [d.unit, d.scope, d.tenant, d.subject].join("\u0000");
}

function pruneEmpty(level: ServiceDescriptor[]): void {
  for (const node of level) {
    if (node.descriptors && node.descriptors.length === 0) delete node.descriptors;
    else if (node.descriptors) pruneEmpty(node.descriptors);
  }
}
