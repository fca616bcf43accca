import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mcpDestination } from "../../lib/src/envoy/bootstrap.js";
import type { X509Svid } from "../../lib/src/spiffe/svid-update.js";
import { REPO_ROOT } from "../harness/process.js";
import { approvedAgent, registrySnapshot } from "../harness/registry-snapshot.js";
import { currentProcessSelector, startSpire, type SpireStack } from "../harness/spire.js";
import { startStack, type Stack } from "../harness/stack.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";
import { callMcp } from "../support/mcp-https.js";

/**
 * An MCP server behind its own inbound sidecar, against a real SPIRE server and agent, two real
 * Envoys and the real servers: the inbound sidecar (Envoy with the MCP server's SVID
 * spiffe://<td>/mcp/files, authz-server in inbound mode, extproc-server) in front of a raw JSON-RPC
 * stub, and an agent's outbound sidecar whose /mcp/files/ route leads to it. The test process plays
 * the agents: research-bot (registered) and stranger (an SVID, no registration).
 * The policy (test/fixtures/policy-mcp-inbound) allows registered agents and writes the identity it
 * decided for into two request headers, so the stub shows whom the inbound sidecar saw.
 */

const TD = "warden.local";
const RESEARCH_BOT = `spiffe://${TD}/agent/research-bot`;
const STRANGER = `spiffe://${TD}/agent/stranger`;
const MCP_FILES = `spiffe://${TD}/mcp/files`;
const RESOURCE = "https://files.example/mcp";
const METADATA_URL = "https://files.example/.well-known/oauth-protected-resource/mcp";
const INBOUND_ENVOY_UID = 10110;
const POLICY = join(REPO_ROOT, "test", "fixtures", "policy-mcp-inbound");

let spire: SpireStack;
let mcp: McpRawStub;
let inbound: Stack;
let outbound: Stack;
let work: string;
let bot: X509Svid;
let stranger: X509Svid;
let bundlePem: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wmcpin-"));
  chmodSync(work, 0o755);
  const registry = join(work, "registry.json");
  const now = Date.now();
  writeFileSync(
    registry,
    registrySnapshot(
      approvedAgent({
        name: "research-bot",
        spiffeId: RESEARCH_BOT,
        issuedAtNs: (now - 60_000) * 1e6,
        expiresAtNs: (now + 86_400_000) * 1e6,
      }),
    ),
  );
  chmodSync(registry, 0o644);

  mcp = await startMcpRawStub();
  spire = await startSpire({ name: "mcp-inbound-spire", trustDomain: TD, logLevel: "INFO" });
  await spire.register(RESEARCH_BOT, [currentProcessSelector()]);
  await spire.register(STRANGER, [currentProcessSelector()]);
  inbound = await startStack({
    name: "mcp-inbound",
    spire,
    policyDir: POLICY,
    authzEnv: { WARDEN_REGISTRY_FILE: registry },
    destinations: () => [mcpDestination("files", { address: "127.0.0.1", port: mcp.port, tls: false })],
    inbound: {
      params: { server: "files", resourceUri: RESOURCE, authorizationServers: ["https://warden.example"] },
      envoyUid: INBOUND_ENVOY_UID,
    },
  });
  outbound = await startStack({
    name: "mcp-outbound",
    spire,
    policyDir: POLICY,
    authzEnv: { WARDEN_REGISTRY_FILE: registry },
    destinations: () => [
      mcpDestination("files", {
        address: "127.0.0.1",
        port: inbound.agentPort,
        tls: true,
        spiffeId: MCP_FILES,
      }),
    ],
  });
  const update = await spire.waitForSvid(STRANGER);
  const svids = (await spire.waitForSvid(RESEARCH_BOT)).svids.concat(update.svids);
  bot = svids.find((s) => s.spiffeId === RESEARCH_BOT)!;
  stranger = svids.find((s) => s.spiffeId === STRANGER)!;
  bundlePem = Object.values(update.bundlesPem).join("\n");
}, 240_000);

afterAll(async () => {
  await outbound?.stop();
  await inbound?.stop();
  await spire?.stop();
  await mcp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

beforeEach(() => mcp.reset());

/** One HTTPS request to a sidecar (test/support/mcp-https.ts). */
function call(
  port: number,
  path: string,
  options: Parameters<typeof callMcp>[3] = {},
): ReturnType<typeof callMcp> {
  return callMcp(port, path, bundlePem, options);
}

const lastSeen = () => mcp.requests[mcp.requests.length - 1];

describe("an MCP server behind its inbound sidecar", () => {
  test("an agent presenting its own SVID reaches the server, and the decision names it", async () => {
    const answer = await call(inbound.agentPort, "/mcp", { svid: bot });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ id: 7, result: { content: [{ type: "text" }] } });
    expect(mcp.requests).toHaveLength(1);
    expect(lastSeen()).toMatchObject({ method: "POST", path: "/mcp" });
    expect(lastSeen()!.headers["x-warden-test-caller"]).toBe(RESEARCH_BOT);
    expect(lastSeen()!.headers["x-warden-test-via"]).toBe("svid");
  }, 30_000);

  test("through the agent's own sidecar: the inbound sidecar decides for the agent, vouched for in XFCC", async () => {
    const answer = await call(outbound.agentPort, "/mcp/files/mcp", { svid: bot });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ id: 7, result: {} });
    expect(mcp.requests).toHaveLength(1);
    const seen = lastSeen()!;
    expect(seen.path).toBe("/mcp");
    expect(seen.headers["x-warden-test-caller"]).toBe(RESEARCH_BOT);
    expect(seen.headers["x-warden-test-via"]).toBe("sidecar");
    // The vouching header is for the inbound sidecar, not for the MCP server.
    expect(seen.headers["x-forwarded-client-cert"]).toBeUndefined();
  }, 30_000);

  test("an SSE listen stream flows through both sidecars as it is written, and stays open", async () => {
    const first = await new Promise<{ status: number; chunk: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: outbound.agentPort,
          path: "/mcp/files/mcp",
          method: "GET",
          ca: bundlePem,
          checkServerIdentity: () => undefined,
          cert: bot.certChainPem,
          key: bot.keyPem,
          headers: { accept: "text/event-stream", "mcp-protocol-version": "2025-06-18" },
        },
        (res) => {
          res.once("data", (chunk: Buffer) => {
            resolve({ status: res.statusCode ?? 0, chunk: chunk.toString() });
            req.destroy();
          });
          res.once("end", () => reject(new Error("the stream ended")));
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error("no event within 10 s")));
      req.on("error", (error) => (req.destroyed ? undefined : reject(error)));
      req.end();
    });
    expect(first.status).toBe(200);
    expect(first.chunk).toContain("notifications/tools/list_changed");
  }, 30_000);

  test("an agent without a Warden registration is refused, directly or through its sidecar", async () => {
    const direct = await call(inbound.agentPort, "/mcp", { svid: stranger });
    expect(direct.status).toBe(401);
    expect(direct.body).toContain("agent_unregistered");
    const viaSidecar = await call(outbound.agentPort, "/mcp/files/mcp", { svid: stranger });
    expect(viaSidecar.status).toBe(401);
    expect(mcp.requests).toHaveLength(0);
  }, 30_000);

  test("an XFCC header from an agent calling directly is ignored: it cannot pose as another agent", async () => {
    const posing = await call(inbound.agentPort, "/mcp", {
      svid: stranger,
      headers: { "x-forwarded-client-cert": `Hash=00;URI=${RESEARCH_BOT}` },
    });
    expect(posing.status).toBe(401);
    expect(posing.body).toContain("agent_unregistered");
    expect(mcp.requests).toHaveLength(0);

    const other = await call(inbound.agentPort, "/mcp", {
      svid: bot,
      headers: { "x-forwarded-client-cert": `Hash=00;URI=${STRANGER}` },
    });
    expect(other.status).toBe(200);
    expect(lastSeen()!.headers["x-warden-test-caller"]).toBe(RESEARCH_BOT);
    expect(lastSeen()!.headers["x-warden-test-via"]).toBe("svid");
    expect(lastSeen()!.headers["x-forwarded-client-cert"]).toBeUndefined();
  }, 30_000);

  test("an agent's XFCC never passes its own sidecar: the sidecar vouches for the agent it verified", async () => {
    const answer = await call(outbound.agentPort, "/mcp/files/mcp", {
      svid: stranger,
      headers: { "x-forwarded-client-cert": `Hash=00;URI=${RESEARCH_BOT}` },
    });
    expect(answer.status).toBe(401);
    expect(mcp.requests).toHaveLength(0);
  }, 30_000);

  test("the client's Authorization header never reaches the MCP server", async () => {
    const direct = await call(inbound.agentPort, "/mcp", {
      svid: bot,
      headers: { authorization: "Bearer agent-held-secret" },
    });
    expect(direct.status).toBe(200);
    const viaSidecar = await call(outbound.agentPort, "/mcp/files/mcp", {
      svid: bot,
      headers: { authorization: "Bearer agent-held-secret" },
    });
    expect(viaSidecar.status).toBe(200);
    expect(mcp.requests).toHaveLength(2);
    for (const seen of mcp.requests) {
      expect(seen.headers.authorization).toBeUndefined();
      expect(JSON.stringify(seen.headers)).not.toContain("agent-held-secret");
    }
  }, 30_000);

  test("a client with no credential gets a 401 challenge naming the protected-resource metadata", async () => {
    const answer = await call(inbound.agentPort, "/mcp");
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe(`Bearer resource_metadata="${METADATA_URL}"`);
    expect(answer.headers["x-warden-challenge"]).toBeUndefined();
    expect(mcp.requests).toHaveLength(0);
  }, 30_000);

  test("a bearer token that is not a Warden token for this server: 401 invalid_token", async () => {
    const answer = await call(inbound.agentPort, "/mcp", {
      headers: { authorization: "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln" },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe(
      `Bearer error="invalid_token", resource_metadata="${METADATA_URL}"`,
    );
    expect(mcp.requests).toHaveLength(0);
  }, 30_000);

  test("the RFC 9728 metadata is served to anyone, at both well-known paths", async () => {
    for (const path of [
      "/.well-known/oauth-protected-resource",
      "/.well-known/oauth-protected-resource/mcp",
    ]) {
      const answer = await call(inbound.agentPort, path, { method: "GET" });
      expect(answer.status).toBe(200);
      expect(answer.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(answer.body)).toEqual({
        resource: RESOURCE,
        authorization_servers: ["https://warden.example"],
        bearer_methods_supported: ["header"],
        resource_name: "files",
      });
    }
    expect(mcp.requests).toHaveLength(0);
  }, 30_000);
});
