import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { mcpDestination } from "../../lib/src/envoy/bootstrap.js";
import { REPO_ROOT, TEARDOWN_TIMEOUT_MS, toolPath, waitFor } from "../harness/process.js";
import { registryWorkflow, type RegistryEntry } from "../harness/registry-workflow.js";
import { startTestStack, type TestStack } from "../harness/stack.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";
import { callMcp } from "../support/mcp-https.js";

/**
 * Bearer tokens at an MCP server's inbound sidecar, every component real: PostgreSQL, OpenBao, the
 * control plane (which mints the tokens, signed in Vault transit, for one server's resource URI), SPIRE,
 * and the inbound sidecar (Envoy with spiffe://<td>/mcp/files, authz-server reading the registry and
 * the revocations from the database, the JWKS from the control plane) in front of a raw JSON-RPC stub.
 * The client here has no SVID: its token is all it holds.
 */
const TD = "warden.local";
const RESOURCE = "https://files.example/mcp";
const OTHER_RESOURCE = "https://wiki.example/mcp";
const METADATA_URL = "https://files.example/.well-known/oauth-protected-resource/mcp";
const INBOUND_ENVOY_UID = 10111;

let env: TestStack;
let mcp: McpRawStub;
let bundlePem: string;
let creator: string;
let agent: RegistryEntry;

interface Minted {
  access_token: string;
  jti: string;
}

beforeAll(async () => {
  mcp = await startMcpRawStub();
  env = await startTestStack({
    name: "mcp-bearer",
    trustDomain: TD,
    spire: { logLevel: "INFO" },
    acceptTokens: true,
    dataPlane: {
      policyDir: join(REPO_ROOT, "test", "fixtures", "policy-mcp-inbound"),
      destinations: () => [mcpDestination("files", { address: "127.0.0.1", port: mcp.port, tls: false })],
      inbound: {
        params: { server: "files", resourceUri: RESOURCE, authorizationServers: ["https://warden.example"] },
        envoyUid: INBOUND_ENVOY_UID,
      },
      authzEnv: { WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane` },
    },
  });
  bundlePem = trustBundle();
  creator = await env.oidc.token({ sub: "carl-creator", roles: ["creator"], tenant: "acme" });
  const reviewer = await env.oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] });
  const registry = registryWorkflow(env.controlPlane, { creator, reviewer });
  agent = await registry.register("files-reader");
  await registry.approve(await registry.submit(agent));
  for (const [name, resource] of [
    ["files", RESOURCE],
    ["wiki", OTHER_RESOURCE],
  ] as const) {
    const created = await env.controlPlane.call("POST", "/v1/mcp-servers", {
      token: creator,
      body: {
        name,
        tenant: "acme",
        team: "research",
        type: "mcp",
        environment: "production",
        resource_uri: resource,
      },
    });
    expect(created.status).toBe(201);
  }
}, 300_000);

afterAll(async () => {
  await env?.stop();
  await mcp?.close();
}, TEARDOWN_TIMEOUT_MS);

beforeEach(() => mcp.reset());

/** The SPIRE trust bundle (the client has no SVID, so not from the Workload API). */
function trustBundle(): string {
  return execFileSync(
    toolPath("spire-server"),
    ["bundle", "show", "-socketPath", env.spire.serverSocketPath],
    {
      encoding: "utf8",
    },
  );
}

async function mint(server: string): Promise<Minted> {
  const minted = await env.controlPlane.call<Minted>("POST", `/v1/mcp-servers/${server}/tokens`, {
    token: creator,
    body: { agent_id: agent.id },
  });
  expect(minted.status).toBe(201);
  return minted.body;
}

const inboundPort = () => env.stack.agentPort;
const withToken = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("bearer tokens at an MCP server's inbound sidecar", () => {
  test("a token for this server's resource URI passes; the server sees the agent, never the token", async () => {
    const { access_token: token } = await mint("files");
    // The registry reaches the sidecar through NOTIFY: wait until the agent is known there.
    let answer = await callMcp(inboundPort(), "/mcp", bundlePem, withToken(token));
    await waitFor(
      "the agent registered at the inbound sidecar",
      async () => {
        answer = await callMcp(inboundPort(), "/mcp", bundlePem, withToken(token));
        return answer.status === 200;
      },
      10_000,
    );
    expect(JSON.parse(answer.body)).toMatchObject({ id: 7, result: {} });
    const seen = mcp.requests[mcp.requests.length - 1]!;
    expect(seen.headers["x-warden-test-caller"]).toBe(agent.spiffe_id);
    expect(seen.headers["x-warden-test-via"]).toBe("bearer");
    expect(seen.headers.authorization).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(token);
  }, 30_000);

  test("a token for another server's resource URI: 401 invalid_token naming the metadata", async () => {
    const { access_token: token } = await mint("wiki");
    const answer = await callMcp(inboundPort(), "/mcp", bundlePem, withToken(token));
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe(
      `Bearer error="invalid_token", resource_metadata="${METADATA_URL}"`,
    );
    expect(answer.body).toContain("audience_invalid");
    expect(mcp.requests).toHaveLength(0);
  }, 30_000);

  test("a revoked token is refused within a second", async () => {
    const { access_token: token, jti } = await mint("files");
    await waitFor(
      "the token accepted",
      async () => (await callMcp(inboundPort(), "/mcp", bundlePem, withToken(token))).status === 200,
      10_000,
    );
    const revoked = await env.controlPlane.call("POST", "/v1/mcp-servers/files/tokens/revoke", {
      token: creator,
      body: { jti },
    });
    expect(revoked.status).toBe(200);
    await waitFor(
      "the revoked token refused",
      async () => (await callMcp(inboundPort(), "/mcp", bundlePem, withToken(token))).status === 401,
      1_000,
    );
  }, 30_000);

  test("no token: 401 with the bare challenge", async () => {
    const answer = await callMcp(inboundPort(), "/mcp", bundlePem);
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe(`Bearer resource_metadata="${METADATA_URL}"`);
  }, 30_000);
});
