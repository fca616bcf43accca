import { join } from "node:path";
import type { SvidHttpsClient } from "../agents/svid-https-client.js";
import { mcpDestination } from "../../lib/src/envoy/destinations.js";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import { REPO_ROOT, stopAll, waitFor } from "../harness/process.js";
import { startTestStack, stubbedProviderDestinations, type Stack, type TestStack } from "../harness/stack.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";
import { registerAgent } from "../integration/delegation-fixture.js";
import { announceRegistryRow, registerMcpServerRow } from "./mcp-server-row.js";

/**
 * One agent calling one MCP server (the raw JSON-RPC stub, test/stubs/mcp-raw.ts) through its
 * sidecar at /mcp/<server>/, with every Warden component real (startTestStack) and the shipped
 * policy. The agent (this process, with its SPIRE SVID) is registered and attested through the
 * control plane with `capabilities`; the server's registry row, holding `rules`, is written as the
 * control plane stores it and announced as it does. The suites of MCP tool rules and approvals
 * share it.
 */
export const RAW_MCP_TD = "warden.local";

export interface RawMcpSuiteOptions {
  /** The suite's name (its stack's processes and directories). */
  name: string;
  agentName: string;
  server: string;
  capabilities: string[];
  rules: unknown;
  /** A call the agent may make: set-up waits until it reaches the server. */
  probe: () => unknown;
}

export interface RawMcpAnswer<Answer> {
  status: number;
  answer: Answer | Answer[] | null;
}

export interface RawMcpSuite {
  env: TestStack;
  controlPlane: ControlPlaneProcess;
  stack: Stack;
  agentClient: SvidHttpsClient;
  mcp: McpRawStub;
  agentId: string;
  /** The MCP server's registry row id. */
  serverId: string;
  sql<Row extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
  /** As the control plane announces a registry change to the MCP server's row. */
  announce(): Promise<void>;
  /** One JSON-RPC POST from the agent to the MCP server, through its sidecar. */
  post<Answer>(body: unknown, headers?: Record<string, string>): Promise<RawMcpAnswer<Answer>>;
  stop(): Promise<void>;
}

export async function startRawMcpSuite(options: RawMcpSuiteOptions): Promise<RawMcpSuite> {
  const { server } = options;
  const agentId = `spiffe://${RAW_MCP_TD}/agent/${options.agentName}`;
  const mcp = await startMcpRawStub();
  let env: TestStack;
  try {
    env = await startTestStack({
      name: options.name,
      trustDomain: RAW_MCP_TD,
      agent: agentId,
      dataPlane: {
        // The shipped policy.
        policyDir: join(REPO_ROOT, "policies"),
        destinations: (upstream) => [
          ...stubbedProviderDestinations(upstream),
          mcpDestination(server, { address: "127.0.0.1", port: mcp.port, tls: false }),
        ],
        authzEnv: {
          WARDEN_ATTESTATION_ISSUER: `spiffe://${RAW_MCP_TD}/warden/control-plane`,
          WARDEN_LOG_LEVEL: "info",
        },
      },
    });
  } catch (error) {
    await mcp.close();
    throw error;
  }
  try {
    return await prepare(options, env, mcp, agentId);
  } catch (error) {
    await env.stop();
    await mcp.close();
    throw error;
  }
}

async function prepare(
  options: RawMcpSuiteOptions,
  env: TestStack,
  mcp: McpRawStub,
  agentId: string,
): Promise<RawMcpSuite> {
  const { server, capabilities } = options;
  const { controlPlane, stack } = env;
  const agentClient = env.agentClient!;
  const database = new URL(env.databaseUrl).pathname.slice(1);
  const sql = <Row extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
    env.cluster.sql<Row>(text, params, database);

  // The agent: registered and attested with its capabilities.
  const [creator, reviewer] = await Promise.all([
    env.oidc.token({ sub: "carl-creator", roles: ["creator"] }),
    env.oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  await registerAgent(controlPlane, creator, reviewer, {
    name: options.agentName,
    team: "research",
    capabilities,
    verified: capabilities,
  });

  // The MCP server's registry row, with its tool rules, as the control plane stores and announces it.
  const serverId = await registerMcpServerRow(sql, {
    name: server,
    trustDomain: RAW_MCP_TD,
    rules: options.rules,
  });
  const announce = () => announceRegistryRow(sql, serverId);

  const post = async <Answer>(
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<RawMcpAnswer<Answer>> => {
    const response = await agentClient.request(`${stack.agentUrl}/mcp/${server}/`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...headers,
      },
      body: JSON.stringify(body),
      timeoutMs: 5_000,
    });
    return {
      status: response.status,
      answer: response.body ? (JSON.parse(response.body) as Answer | Answer[]) : null,
    };
  };

  await waitFor(
    "the agent and the MCP server to be known",
    async () => (await post(options.probe())).status === 200 && mcp.requests.length > 0,
    15_000,
  );
  return {
    env,
    controlPlane,
    stack,
    agentClient,
    mcp,
    agentId,
    serverId,
    sql,
    announce,
    post,
    async stop() {
      await env.stop();
      await mcp.close();
      await stopAll();
    },
  };
}
