import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { X509Svid } from "../../lib/src/spiffe/svid-update.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mcpDestination } from "../../lib/src/envoy/destinations.js";
import type { ServerToolRules } from "../../lib/src/mcp/tool-rules.js";
import { svidFetch } from "../agents/svid-fetch.js";
import { peerIsSpiffeId } from "./peer-spiffe-id.js";
import { followingControlPlane } from "../harness/control-plane.js";
import { REPO_ROOT } from "../harness/process.js";
import { currentProcessSelector } from "../harness/spire.js";
import { startStack, startTestStack, type Stack, type TestStack } from "../harness/stack.js";
import { startMcpFilesServer, type McpFilesServer } from "../stubs/mcp-files-server.js";
import { startMcpPythonServer, VENV_PYTHON, type McpPythonServer } from "../stubs/mcp-python-server.js";
import { grant, registerAgent, type Entry } from "../integration/delegation-fixture.js";

/**
 * The governed MCP environment the acceptance suites share, all real but the MCP servers: PostgreSQL,
 * OpenBao, SPIRE, the control plane, Envoy, authz-server and extproc-server (startTestStack). The
 * agent is this test process, holding only its SPIRE SVID. Two third-party MCP servers sit behind the
 * agent's sidecar: `files` (the official TypeScript SDK, revision 2025-11-25 with sessions) at
 * /mcp/files/ and `pyfiles` (the official Python SDK, which speaks 2026-07-28) at /mcp/pyfiles/.
 * Both are registered in the control plane, and their owner sets the same tool rules on both.
 */
export const TD = "warden.local";
export const AGENT_NAME = "files-bot";
export const AGENT = `spiffe://${TD}/agent/${AGENT_NAME}`;
// Delegation scopes come from the catalogue of services (control-plane/src/delegations/catalogue.ts).
export const WRITE_SCOPE = "google-drive:write";
export const OWNER = "olga-owner";
/** An agent with an SVID from the same SPIRE but no Warden registration. */
export const STRANGER = `spiffe://${TD}/agent/stranger`;
/** The MCP servers' resource URIs (the audience of bearer tokens minted for each). */
export const RESOURCE_URIS = {
  files: "https://files.acme.example/mcp",
  pyfiles: "https://pyfiles.acme.example/mcp",
} as const;
const INBOUND_ENVOY_UID = 10110;
/**
 * What the agent's KYA attestation verified: each server (`mcp:<server>`), each tool
 * (`mcp:<tool>`, policies/data.json capabilities.mcp_methods) including delete_file, so that the
 * owner's tool rule is what refuses it, and the Drive write scope its delegation carries.
 */
export const AGENT_CAPABILITIES = [
  "mcp:files",
  "mcp:pyfiles",
  ...["read_file", "create_file", "delete_file", "share_file", "slow_report", "echo_secret"].map(
    (tool) => `mcp:${tool}`,
  ),
  "google-drive:write",
];

/** What the MCP servers' owner allows: reading, reporting; writing with a scope; sharing with approval; never deleting. */
export const TOOL_RULES: ServerToolRules = {
  default: "deny",
  tools: {
    read_file: { agents: ["*"] },
    slow_report: { agents: ["*"] },
    echo_secret: { agents: ["*"] },
    create_file: { agents: ["*"], scopes: [WRITE_SCOPE] },
    share_file: { agents: ["*"], approval: "required", audit_arguments: true },
    delete_file: { deny: true },
  },
  prompts: { summarize: { agents: ["*"] } },
  resources: { "file:///*": { agents: ["*"] } },
};

export interface McpEnvironment {
  env: TestStack;
  files: McpFilesServer;
  pyfiles: McpPythonServer;
  agent: Entry;
  /** Bearer tokens of the people: the MCP servers' owner, an admin, the delegating user. */
  tokens: { owner: string; admin: string; user: string };
  /** The user's delegation to the agent, with the write scope (header `x-warden-delegation`). */
  delegationHeader: Record<string, string>;
  /** mTLS with the agent's SVID (the sidecar checked by its SPIFFE ID). */
  tls: Agent;
  /** The agent's SVID as files, for the Python client. */
  svidFiles: { cert: string; key: string; ca: string };
  /** Every response body byte and header the agent received (for the credential scan). */
  agentSaw: string[];
  /** The sidecar's URL of an MCP server's endpoint. */
  routeUrl(server: "files" | "pyfiles"): string;
  /**
   * With `inbound`: `files` behind its own inbound sidecar (the MCP server's SVID), and a second
   * outbound sidecar (`chain`) whose /mcp/files/ route leads to that inbound sidecar (XFCC).
   */
  inbound: { stack: Stack; chain: Stack; url: string; chainUrl: string } | null;
  /** The unregistered agent's SVID (with `inbound`). */
  stranger: X509Svid | null;
  /** The SPIRE bundle (PEM), to check a sidecar's certificate. */
  bundlePem: string;
  stop(): Promise<void>;
}

async function expectStatus(what: string, status: number, res: Promise<{ status: number; text: string }>) {
  const answer = await res;
  if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 400)}`);
  return answer;
}

export async function startMcpEnvironment(
  name: string,
  options: { envoyLogLevel?: string; inbound?: boolean } = {},
): Promise<McpEnvironment> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const files = await startMcpFilesServer();
    cleanups.push(() => files.close());
    const pyfiles = await startMcpPythonServer(`${name}-pyfiles`);
    cleanups.push(() => pyfiles.close());
    const env = await startTestStack({
      name,
      trustDomain: TD,
      spire: { logLevel: "INFO" },
      agent: AGENT,
      dataPlane: {
        policyDir: join(REPO_ROOT, "policies"),
        envoyLogLevel: options.envoyLogLevel,
        destinations: () => [
          mcpDestination("files", { address: "127.0.0.1", port: files.port, tls: false }),
          mcpDestination("pyfiles", { address: "127.0.0.1", port: pyfiles.port, tls: false }),
        ],
        authzEnv: { WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane` },
      },
    });
    cleanups.push(() => env.stop());
    const cp = env.controlPlane;
    const [owner, admin, user, creator, reviewer] = await Promise.all([
      env.oidc.token({ sub: OWNER, roles: ["creator"], tenant: "acme" }),
      env.oidc.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" }),
      env.oidc.token({ sub: "ursula-user", roles: ["user"], tenant: "acme" }),
      env.oidc.token({ sub: "carl-creator", roles: ["creator"] }),
      env.oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    ]);
    const agent = await registerAgent(cp, creator, reviewer, {
      name: AGENT_NAME,
      capabilities: AGENT_CAPABILITIES,
      verified: AGENT_CAPABILITIES,
    });
    for (const server of ["files", "pyfiles"] as const) {
      const created = await expectStatus(
        `register MCP server ${server}`,
        201,
        cp.call<{ id: string }>("POST", "/v1/mcp-servers", {
          token: owner,
          body: {
            name: server,
            tenant: "acme",
            team: "platform",
            type: "file-store",
            environment: "production",
            external_services: [],
            resource_uri: RESOURCE_URIS[server as keyof typeof RESOURCE_URIS],
          },
        }),
      );
      const id = (JSON.parse(created.text) as { id: string }).id;
      const current = await cp.call("GET", `/v1/mcp-servers/${id}/tool-rules`, { token: owner });
      await expectStatus(
        `tool rules of ${server}`,
        200,
        cp.call("PUT", `/v1/mcp-servers/${id}/tool-rules`, {
          token: owner,
          body: TOOL_RULES,
          headers: { "if-match": current.headers.get("etag") ?? "" },
        }),
      );
    }
    const { token: delegation } = await grant(cp, user, { agent_id: agent.id, scopes: [WRITE_SCOPE] });

    let inbound: McpEnvironment["inbound"] = null;
    let stranger: X509Svid | null = null;
    if (options.inbound) {
      const dataPlaneEnv = {
        ...(await followingControlPlane(env.cluster, env.databaseUrl, cp.url, { acceptTokens: true })),
        WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane`,
      };
      const policyDir = join(REPO_ROOT, "policies");
      const stack = await startStack({
        name: `${name}-inbound`,
        spire: env.spire,
        policyDir,
        envoyLogLevel: options.envoyLogLevel,
        destinations: () => [mcpDestination("files", { address: "127.0.0.1", port: files.port, tls: false })],
        inbound: {
          params: { server: "files", resourceUri: RESOURCE_URIS.files, authorizationServers: [cp.url] },
          envoyUid: INBOUND_ENVOY_UID,
        },
        authzEnv: dataPlaneEnv,
      });
      cleanups.push(() => stack.stop());
      const chain = await startStack({
        name: `${name}-chain`,
        spire: env.spire,
        policyDir,
        envoyLogLevel: options.envoyLogLevel,
        destinations: () => [
          mcpDestination("files", {
            address: "127.0.0.1",
            port: stack.agentPort,
            tls: true,
            spiffeId: `spiffe://${TD}/mcp/files`,
          }),
        ],
        authzEnv: dataPlaneEnv,
      });
      cleanups.push(() => chain.stop());
      inbound = {
        stack,
        chain,
        url: `https://127.0.0.1:${stack.agentPort}/mcp`,
        chainUrl: `${chain.agentUrl}/mcp/files/mcp`,
      };
      await env.spire.register(STRANGER, [currentProcessSelector()]);
      const update = await env.spire.waitForSvid(STRANGER);
      stranger = update.svids.find((candidate) => candidate.spiffeId === STRANGER)!;
    }

    // The test process may hold several SVIDs (the stranger's too): the agent's is picked by its ID.
    const update = await env.spire.waitForSvid(AGENT);
    const svid = update.svids.find((candidate) => candidate.spiffeId === AGENT)!;
    const bundlePem = update.bundlesPem[TD]!;
    const envoyId = env.stack.identities!.envoy;
    const tls = new Agent({
      cert: svid.certChainPem,
      key: svid.keyPem,
      ca: bundlePem,
      keepAlive: true,
      maxSockets: 64,
      checkServerIdentity: peerIsSpiffeId(envoyId),
    });
    cleanups.push(async () => tls.destroy());
    const dir = mkdtempSync(join(tmpdir(), "wmcp-svid-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const svidFiles = {
      cert: join(dir, "svid.pem"),
      key: join(dir, "svid.key"),
      ca: join(dir, "bundle.pem"),
    };
    writeFileSync(svidFiles.cert, svid.certChainPem);
    writeFileSync(svidFiles.key, svid.keyPem);
    chmodSync(svidFiles.key, 0o600);
    writeFileSync(svidFiles.ca, bundlePem);
    return {
      env,
      files,
      pyfiles,
      agent,
      tokens: { owner, admin, user },
      delegationHeader: { "x-warden-delegation": delegation },
      tls,
      svidFiles,
      agentSaw: [],
      routeUrl: (server) => `${env.stack.agentUrl}/mcp/${server}/mcp`,
      inbound,
      stranger,
      bundlePem,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The official TypeScript SDK's client, connected through the sidecar with the agent's SVID. */
export async function sdkClient(
  mcp: McpEnvironment,
  server: "files" | "pyfiles",
  headers: Record<string, string> = {},
  url = mcp.routeUrl(server),
  tls: Agent = mcp.tls,
): Promise<Client> {
  const observe = (res: IncomingMessage) => {
    for (const [name, value] of Object.entries(res.headers)) mcp.agentSaw.push(`${name}: ${String(value)}`);
    res.on("data", (chunk: Buffer) => mcp.agentSaw.push(chunk.toString("utf8")));
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: svidFetch(tls, observe),
    requestInit: { headers },
  });
  const client = new Client({ name: "acceptance-agent", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

export type PythonStep =
  | { op: "list_tools" | "list_prompts" }
  | { op: "call_tool"; name: string; arguments?: Record<string, unknown>; progress?: boolean }
  | { op: "get_prompt"; name: string; arguments?: Record<string, string> }
  | { op: "read_resource"; uri: string };

export interface PythonOutcome {
  ok?: Record<string, unknown>;
  error?: { code: number; message: string; data?: Record<string, unknown> };
  progress?: number[];
}

/** The official Python SDK's client (test/stubs/mcp_client.py) through the sidecar; one outcome per step. */
export function pythonClient(
  mcp: McpEnvironment,
  server: "files" | "pyfiles",
  mode: "auto" | "legacy" | "2026-07-28",
  steps: PythonStep[],
): Promise<{ outcomes: PythonOutcome[]; protocolVersion: string }> {
  const { cert, key, ca } = mcp.svidFiles;
  const args = [
    join(REPO_ROOT, "test", "stubs", "mcp_client.py"),
    mcp.routeUrl(server),
    mode,
    JSON.stringify(steps),
    ...["--cert", cert, "--key", key, "--ca", ca],
  ];
  return new Promise((resolve, reject) => {
    execFile(VENV_PYTHON, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const lines = stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as PythonOutcome & { protocol_version?: string; fatal?: string });
      const fatal = lines.find((line) => line.fatal);
      if (error || fatal) {
        reject(new Error(`python client: ${fatal?.fatal ?? String(error)}\n${stderr.slice(-2000)}`));
        return;
      }
      const last = lines.at(-1)!;
      resolve({ outcomes: lines.slice(0, -1), protocolVersion: last.protocol_version ?? "" });
    });
  });
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTPS POST as a client the SDKs do not model: with the agent's pooled mTLS (`agent`), with
 * another SVID (`svid`) or with no client certificate at all (a bearer-token client). Without
 * `agent` the sidecar's certificate is checked against the SPIRE bundle only (it names a SPIFFE ID,
 * not a host).
 */
export function rawPost(
  mcp: McpEnvironment,
  url: string,
  headers: Record<string, string>,
  body: string,
  client: { agent?: Agent; svid?: X509Svid } = { agent: mcp.tls },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers,
        ...(client.agent
          ? { agent: client.agent }
          : {
              agent: false,
              ca: mcp.bundlePem,
              checkServerIdentity: () => undefined,
              ...(client.svid ? { cert: client.svid.certChainPem, key: client.svid.keyPem } : {}),
            }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}
