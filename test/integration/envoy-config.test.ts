import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import {
  azureOpenAiDestination,
  salesforceDestination,
  mcpDestination,
  providerDestinations,
  type SidecarParams,
} from "../../lib/src/envoy/bootstrap.js";
import { validateEnvoyConfig, writeSidecarConfig } from "../harness/envoy.js";
import { REPO_ROOT } from "../harness/process.js";

/**
 * `envoy --mode validate` (the real Envoy 1.40) on every shape of the bootstrap we render: it loads
 * every filter, extension, CEL expression and cluster, so a field Envoy does not know fails here.
 */
const ports = {
  agentListener: { port: 10000 },
  admin: { port: 9901 },
  authz: { address: "127.0.0.1", port: 9001 },
  extproc: { address: "127.0.0.1", port: 9002 },
};

async function expectValid(name: string, params: SidecarParams): Promise<string> {
  const { configPath } = writeSidecarConfig(`envoy-config-${process.pid}-${name}`, params);
  const result = await validateEnvoyConfig(configPath);
  expect({ ok: result.ok, output: result.ok ? "" : result.output }).toEqual({ ok: true, output: "" });
  return configPath;
}

describe("the rendered Envoy config passes envoy --mode validate", () => {
  test("as the tests run it: every destination pointed at a plain-HTTP stub on loopback", async () => {
    await expectValid("stubbed", {
      ...ports,
      destinations: providerDestinations().map((d) => ({
        ...d,
        upstream: { address: "127.0.0.1", port: 18080, tls: false },
      })),
    });
  }, 60_000);

  test("as production runs it: TLS upstreams, Azure OpenAI, an MCP server, mTLS from agents via SPIRE, traces", async () => {
    await expectValid("production", {
      ...ports,
      tracing: { collector: { address: "otel-collector", port: 4317 } },
      agentListener: { address: "0.0.0.0", port: 10000 },
      destinations: [
        ...providerDestinations(),
        azureOpenAiDestination("acme.openai.azure.com"),
        salesforceDestination("acme.my.salesforce.com"),
        mcpDestination("files", { address: "mcp-files.internal", port: 443, tls: true }),
      ],
      downstreamTls: {
        spireAgentSocket: "/run/spire/sockets/agent.sock",
        svidName: "spiffe://warden.local/warden/envoy",
        trustBundleName: "spiffe://warden.local",
      },
    });
  }, 60_000);

  test("with shared rate limits (both failure modes) and a per-sidecar token bucket", async () => {
    await expectValid("rate-limits", {
      ...ports,
      destinations: [
        ...providerDestinations().map((d) => ({
          ...d,
          upstream: { address: "127.0.0.1", port: 18080, tls: false },
        })),
        mcpDestination("files", { address: "127.0.0.1", port: 18081, tls: false }),
      ],
      rateLimit: { service: { address: "127.0.0.1", port: 8089 } },
      localRateLimit: { requestsPerMinute: 6000 },
    });
  }, 60_000);

  test("an outbound MCP route to a Warden inbound sidecar: mutual SVIDs, the agent vouched for in XFCC", async () => {
    await expectValid("mcp-warden-upstream", {
      ...ports,
      destinations: [
        mcpDestination("files", {
          address: "files.internal",
          port: 8443,
          tls: true,
          spiffeId: "spiffe://warden.local/mcp/files",
        }),
        mcpDestination("wiki", { address: "wiki.internal", port: 443, tls: true }),
      ],
      downstreamTls: {
        spireAgentSocket: "/run/spire/sockets/agent.sock",
        svidName: "spiffe://warden.local/warden/envoy",
        trustBundleName: "spiffe://warden.local",
      },
    });
  }, 60_000);

  test("an MCP server's inbound sidecar: its SVID, metadata document, one loopback upstream", async () => {
    await expectValid("mcp-inbound", {
      ...ports,
      agentListener: { address: "0.0.0.0", port: 8443 },
      destinations: [mcpDestination("files", { address: "127.0.0.1", port: 9000, tls: false })],
      downstreamTls: {
        spireAgentSocket: "/run/spire/sockets/agent.sock",
        svidName: "spiffe://warden.local/mcp/files",
        trustBundleName: "spiffe://warden.local",
      },
      serverIdentities: {
        authz: "spiffe://warden.local/warden/authz",
        extproc: "spiffe://warden.local/warden/extproc",
      },
      inbound: {
        server: "files",
        resourceUri: "https://files.example/mcp",
        authorizationServers: ["https://warden.example"],
      },
    });
  }, 60_000);

  test("the checked-in example, envoy/sidecar.example.yaml", async () => {
    const result = await validateEnvoyConfig(join(REPO_ROOT, "envoy", "sidecar.example.yaml"));
    expect(result.ok).toBe(true);
  }, 60_000);

  test("and validation is not a formality: a config with a wrong field is refused", async () => {
    const configPath = await expectValid("broken", { ...ports, destinations: providerDestinations() });
    const config = parse(readFileSync(configPath, "utf8")) as {
      static_resources: {
        listeners: { filter_chains: { filters: { typed_config: { http_filters: unknown[] } }[] }[] }[];
      };
    };
    const filters =
      config.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters;
    (filters[0] as { typed_config: Record<string, unknown> }).typed_config.failure_mode_allow = "sometimes";
    writeFileSync(configPath, stringify(config));

    const result = await validateEnvoyConfig(configPath);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/failure_mode_allow/);
  }, 60_000);
});
