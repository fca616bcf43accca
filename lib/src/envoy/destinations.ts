import type { Destination } from "./params.js";

/**
 * What LLM and MCP routes send ext_authz: the request body, which names the model (or the MCP
 * method and tool) the policy checks.
 * A larger body is refused (413) rather than checked on a part; 1 MiB stays well inside
 * authz-server's 4 MiB gRPC message limit.
 */
export const AUTHZ_REQUEST_BODY = { maxBytes: 1024 * 1024, allowPartial: false } as const;

/** The public providers and their API hosts. Azure OpenAI and MCP servers are per deployment. */
export function providerDestinations(): Destination[] {
  const provider = (name: string, kind: "llm" | "saas", host: string): Destination => ({
    name,
    service: name,
    kind,
    pathPrefix: `/${name}/`,
    upstream: { address: host, port: 443, tls: true },
    ...(kind === "llm" ? { authzRequestBody: { ...AUTHZ_REQUEST_BODY } } : {}),
  });
  return [
    provider("openai", "llm", "api.openai.com"),
    provider("anthropic", "llm", "api.anthropic.com"),
    provider("google-ai", "llm", "generativelanguage.googleapis.com"),
    provider("google-drive", "saas", "www.googleapis.com"),
    provider("github", "saas", "api.github.com"),
    provider("microsoft-365", "saas", "graph.microsoft.com"),
  ];
}

/** Salesforce lives on a per-org instance host, e.g. `acme.my.salesforce.com`. */
export function salesforceDestination(instanceHost: string): Destination {
  return {
    name: "salesforce",
    service: "salesforce",
    kind: "saas",
    pathPrefix: "/salesforce/",
    upstream: { address: instanceHost, port: 443, tls: true },
  };
}

/** Azure OpenAI lives on a per-customer resource host, e.g. `myresource.openai.azure.com`. */
export function azureOpenAiDestination(resourceHost: string): Destination {
  return {
    name: "azure-openai",
    service: "azure-openai",
    kind: "llm",
    pathPrefix: "/azure-openai/",
    upstream: { address: resourceHost, port: 443, tls: true },
    authzRequestBody: { ...AUTHZ_REQUEST_BODY },
  };
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
