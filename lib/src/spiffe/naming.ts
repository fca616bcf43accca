import { spiffeIdFromSegments } from "./spiffe-id.js";

/**
 * Warden's SPIFFE ID scheme (architecture brief, "Identity names"):
 *   spiffe://<td>/agent/<name>        AI agents
 *   spiffe://<td>/mcp/<name>          MCP servers
 *   spiffe://<td>/warden/<component>  our own components
 *   spiffe://<td>/node/<name>         node aliases: the parent of workload entries, one per SPIRE agent
 *                                     (or per group of agents sharing node selectors)
 */
export const DEFAULT_TRUST_DOMAIN = "warden.local";
export const WARDEN_COMPONENTS = ["envoy", "authz", "extproc", "control-plane"] as const;
export type WardenComponent = (typeof WARDEN_COMPONENTS)[number];
export type WorkloadKind = "agent" | "mcp" | "warden";

export function workloadSpiffeId(trustDomain: string, kind: WorkloadKind, name: string): string {
  if (kind === "warden" && !(WARDEN_COMPONENTS as readonly string[]).includes(name)) {
    throw new Error(`unknown Warden component "${name}" (one of ${WARDEN_COMPONENTS.join(", ")})`);
  }
  return spiffeIdFromSegments(trustDomain, kind, name).id;
}

export function nodeAliasSpiffeId(trustDomain: string, node = "local"): string {
  return spiffeIdFromSegments(trustDomain, "node", node).id;
}
