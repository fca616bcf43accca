import { isIP } from "node:net";
import { mcpDestination } from "../envoy/destinations.js";
import type { Destination } from "../envoy/params.js";
import { workloadSpiffeId } from "../spiffe/naming.js";

/**
 * The MCP servers an agent's sidecar routes to, as `warden up --mcp-server <name>=<url>` (repeated)
 * and `WARDEN_MCP_SERVERS` (the same entries, comma-separated) give them. Each becomes the route
 * `/mcp/<name>/` (lib/src/envoy/destinations.ts mcpDestination). The URL says how to reach it:
 *
 * - `https://host[:port]`: TLS, the certificate checked against the CA bundle for `host`;
 * - `warden+https://host[:port]`: the server sits behind its own Warden inbound sidecar: mutual
 *   SVIDs, the upstream must hold `spiffe://<td>/mcp/<name>`, and the agent is vouched for in XFCC;
 * - `http://127.0.0.1:port`: plain HTTP to a server on this machine (development).
 *
 * No path: the agent's path after `/mcp/<name>/` is the server's path (`/mcp/files/mcp` → `/mcp`).
 * Pure: entries in, destinations or every problem out.
 */
export const MCP_SERVER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export type McpRoutesResult = { ok: true; destinations: Destination[] } | { ok: false; problems: string[] };

export function mcpServerEntries(envValue: string | undefined, flags: readonly string[]): string[] {
  const fromEnv = (envValue ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  return [...fromEnv, ...flags.map((entry) => entry.trim())];
}

export function parseMcpRoutes(entries: readonly string[], trustDomain: string): McpRoutesResult {
  const problems: string[] = [];
  const destinations: Destination[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) {
      problems.push(`MCP server "${entry}": expected <name>=<url>, e.g. files=https://files.internal:8443`);
      continue;
    }
    const name = entry.slice(0, eq);
    const target = entry.slice(eq + 1);
    if (!MCP_SERVER_NAME.test(name)) {
      problems.push(`MCP server "${name}": a name is lower-case letters, digits and '-' (at most 63)`);
      continue;
    }
    if (seen.has(name)) {
      problems.push(`MCP server "${name}": given twice`);
      continue;
    }
    seen.add(name);
    const upstream = upstreamOf(target, workloadSpiffeId(trustDomain, "mcp", name));
    if (typeof upstream === "string") problems.push(`MCP server "${name}": ${upstream}`);
    else destinations.push(mcpDestination(name, upstream));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, destinations };
}

function upstreamOf(target: string, spiffeId: string): Destination["upstream"] | string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return `"${target}" is not a URL`;
  }
  const scheme = url.protocol.slice(0, -1);
  if (!["https", "warden+https", "http"].includes(scheme))
    return `scheme "${scheme}" is not one of https, warden+https, http`;
  if (url.username || url.password) return "no credentials in the URL";
  if (url.pathname !== "/" && url.pathname !== "") return "no path (agents call /mcp/<name>/<path>)";
  if (url.search || url.hash) return "no query or fragment";
  const address = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!/^[A-Za-z0-9.:-]+$/.test(address)) return `"${url.hostname}" is not a host name or IP address`;
  if (scheme === "http" && !isLoopback(address))
    return "plain http only to this machine (127.0.0.1, ::1, localhost); use https";
  const tls = scheme !== "http";
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  return {
    address: address === "localhost" ? "127.0.0.1" : address,
    port,
    tls,
    ...(scheme === "warden+https" ? { spiffeId } : {}),
  };
}

function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || (isIP(address) === 4 && address.startsWith("127."));
}
