import { join } from "node:path";
import type { SvidHttpsClient } from "../agents/svid-https-client.js";
import { mcpDestination } from "../../lib/src/envoy/destinations.js";
import type { ControlPlaneProcess } from "../harness/control-plane.js";
import { REPO_ROOT, stopAll, waitFor } from "../harness/process.js";
import { KYA_EVIDENCE } from "../harness/registry-workflow.js";
import { startTestStack, stubbedProviderDestinations, type Stack, type TestStack } from "../harness/stack.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";

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
  const agent = await controlPlane.call<{ id: string }>("POST", "/v1/agents", {
    token: creator,
    body: {
      name: options.agentName,
      tenant: "acme",
      team: "research",
      type: "assistant",
      environment: "production",
      capabilities,
    },
  });
  if (agent.status !== 201) throw new Error(`register: ${agent.status} ${agent.text}`);
  const attestation = await controlPlane.call<{ id: string }>("POST", "/v1/attestations", {
    token: creator,
    body: { agent_id: agent.body.id, evidence: KYA_EVIDENCE },
  });
  if (attestation.status !== 201) throw new Error(`attest: ${attestation.status} ${attestation.text}`);
  const approved = await controlPlane.call("POST", `/v1/attestations/${attestation.body.id}/approve`, {
    token: reviewer,
    body: { level: 2, verified_capabilities: capabilities },
  });
  if (approved.status !== 200) throw new Error(`approve: ${approved.status} ${approved.text}`);

  // The MCP server's registry row, with its tool rules (as the control plane stores them).
  const [row] = await sql<{ id: string }>(
    `INSERT INTO agents (kind, name, spiffe_id, tenant, owner, team, type, environment, created_by, tool_rules)
     VALUES ('mcp_server', $1, $2, 'acme', 'ops', 'platform', 'mcp', 'production', 'test', $3) RETURNING id`,
    [server, `spiffe://${RAW_MCP_TD}/mcp/${server}`, JSON.stringify(options.rules)],
  );
  const serverId = row!.id;

  const announce = async (): Promise<void> => {
    const [current] = await sql<{ spiffe_id: string; tenant: string; status: string; version: number }>(
      "SELECT spiffe_id, tenant, status, version FROM agents WHERE id = $1",
      [serverId],
    );
    await sql("SELECT pg_notify('warden_registry', $1)", [
      JSON.stringify({ v: 1, entity: "agent", op: "upsert", id: serverId, kind: "mcp_server", ...current }),
    ]);
  };

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

  await announce();
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
