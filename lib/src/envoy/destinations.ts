import { loadSaasCatalogue } from "../saas/catalogue.js";
import type { Destination } from "./params.js";

/**
 * What LLM and MCP routes send ext_authz: the request body, which names the model (or the MCP
 * method and tool) the policy checks.
 * A larger body is refused (413) rather than checked on a part; 1 MiB stays well inside
 * authz-server's 4 MiB gRPC message limit.
 */
export const AUTHZ_REQUEST_BODY = { maxBytes: 1024 * 1024, allowPartial: false } as const;

/** The public LLM APIs and their hosts. Azure OpenAI is per deployment (azureOpenAiDestination). */
const LLM_HOSTS: readonly (readonly [service: string, host: string])[] = [
  ["openai", "api.openai.com"],
  ["anthropic", "api.anthropic.com"],
  ["google-ai", "generativelanguage.googleapis.com"],
];

/** A public provider's route at `/<name>/`; LLM routes send ext_authz the body (it names the model). */
function providerDestination(name: string, kind: "llm" | "saas", host: string): Destination {
  return {
    name,
    service: name,
    kind,
    pathPrefix: `/${name}/`,
    upstream: { address: host, port: 443, tls: true },
    ...(kind === "llm" ? { authzRequestBody: { ...AUTHZ_REQUEST_BODY } } : {}),
  };
}

let saasHosts: readonly (readonly [service: string, host: string])[] | undefined;

/**
 * The SaaS services of the shipped catalogue (lib/src/saas/services.json) that live on one fixed API
 * host, in catalogue order. One on per-customer hosts (`*.my.salesforce.com`) has its own function.
 */
function fixedHostSaasServices(): readonly (readonly [service: string, host: string])[] {
  saasHosts ??= loadSaasCatalogue()
    .services.filter((service) => service.hosts.length === 1 && !service.hosts[0]!.includes("*"))
    .map((service) => [service.name, service.hosts[0]!] as const);
  return saasHosts;
}

/** The public providers and their API hosts. Azure OpenAI, Salesforce and MCP servers are per deployment. */
export function providerDestinations(): Destination[] {
  return [
    ...LLM_HOSTS.map(([name, host]) => providerDestination(name, "llm", host)),
    ...fixedHostSaasServices().map(([name, host]) => providerDestination(name, "saas", host)),
  ];
}

/**
 * Development only: every provider route of `providerDestinations()` sent to one local plain-HTTP
 * upstream (a stub standing in for the providers), as `WARDEN_DEV_UPSTREAM` asks.
 */
export function devUpstreamDestinations(upstream: { address: string; port: number }): Destination[] {
  return providerDestinations().map((d) => ({
    ...d,
    upstream: { address: upstream.address, port: upstream.port, tls: false },
  }));
}

/** Salesforce lives on a per-org instance host, e.g. `acme.my.salesforce.com`. */
export function salesforceDestination(instanceHost: string): Destination {
  return providerDestination("salesforce", "saas", instanceHost);
}

/** Azure OpenAI lives on a per-customer resource host, e.g. `myresource.openai.azure.com`. */
export function azureOpenAiDestination(resourceHost: string): Destination {
  return providerDestination("azure-openai", "llm", resourceHost);
}

/** An MCP server reached at `/mcp/<name>/`; `destination.service` is its name. */
export function mcpDestination(name: string, upstream: Destination["upstream"]): Destination {
  return {
    name: `mcp-${name}`,
    service: name,
    kind: "mcp",
    pathPrefix: `/mcp/${name}/`,
    upstream,
    // JSON-RPC: the policy checks the method and the tool.
    authzRequestBody: { ...AUTHZ_REQUEST_BODY },
  };
}
