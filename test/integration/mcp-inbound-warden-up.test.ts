import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spirePaths } from "../../lib/src/runtime/components/spire.js";
import { DEFAULT_PORTS, homePaths } from "../../lib/src/runtime/layout.js";
import { supervisorStateSchema } from "../../lib/src/runtime/state.js";
import { TEARDOWN_TIMEOUT_MS, toolPath } from "../harness/process.js";
import { ensureBuilt } from "../harness/stack.js";
import { startMcpRawStub, type McpRawStub } from "../stubs/mcp-raw.js";
import { callMcp } from "../support/mcp-https.js";
import { CLI, freePortBase, runWardenCli, type CliResult } from "./local-stack-fixture.js";

/**
 * `warden up` with an MCP server behind its own inbound sidecar, as a user runs it (detached: the
 * flags reach the background supervisor): `--mcp-server files=warden+https://127.0.0.1:<inbound>`
 * routes the agents' /mcp/files/ to the inbound sidecar that `--inbound-mcp files --upstream …
 * --resource-uri …` runs next to the rest (its own Envoy holding spiffe://<td>/mcp/files, its own
 * authz-server in inbound mode, the shared extproc-server).
 */
const RESOURCE = "https://files.example/mcp";
const METADATA_URL = "https://files.example/.well-known/oauth-protected-resource/mcp";
let home: string;
let mcp: McpRawStub;
let env: NodeJS.ProcessEnv;
let inboundPort: number;
let agentPort: number;
let bundlePem: string;

function warden(args: string[]): Promise<CliResult> {
  return runWardenCli(args, env);
}

const portOf = (name: keyof typeof DEFAULT_PORTS, base: number) =>
  base + Object.keys(DEFAULT_PORTS).indexOf(name);

beforeAll(async () => {
  ensureBuilt([CLI], ["lib/src", "control-plane/src", "authz-server/src", "extproc-server/src"]);
  home = mkdtempSync(join(tmpdir(), "wupm-"));
  mcp = await startMcpRawStub();
  const base = await freePortBase();
  inboundPort = portOf("inboundMcp", base);
  agentPort = portOf("agent", base);
  env = {
    ...process.env,
    WARDEN_HOME: home,
    WARDEN_PORT_BASE: String(base),
    WARDEN_API_URL: "",
    WARDEN_TOKEN: "",
    WARDEN_TOKEN_FILE: "",
  };
  const up = await warden([
    "up",
    "--detach",
    "--mcp-server",
    `files=warden+https://127.0.0.1:${inboundPort}`,
    "--inbound-mcp",
    "files",
    "--upstream",
    `http://127.0.0.1:${mcp.port}`,
    "--resource-uri",
    RESOURCE,
  ]);
  if (up.code !== 0) throw new Error(`warden up failed: ${up.stderr}${up.stdout}`);
  bundlePem = execFileSync(
    toolPath("spire-server"),
    ["bundle", "show", "-socketPath", spirePaths(homePaths(home).spire).serverSocket],
    { encoding: "utf8" },
  );
}, 600_000);

afterAll(async () => {
  await warden(["down"]);
  await mcp?.close();
  if (home) rmSync(home, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("warden up with an MCP server's inbound sidecar", () => {
  test("the inbound sidecar's Envoy and authz-server run healthy next to the rest", async () => {
    const result = await warden(["status", "--json"]);
    const state = supervisorStateSchema.parse(JSON.parse(result.stdout));
    expect(result.code).toBe(0);
    expect(state.components.map((c) => c.name)).toEqual(
      expect.arrayContaining(["authz-server", "extproc-server", "envoy", "inbound-authz", "inbound-envoy"]),
    );
    expect(state.inboundMcpUrl).toBe(`https://127.0.0.1:${inboundPort}`);
  });

  test("its listener serves the RFC 9728 metadata and challenges a client without credentials", async () => {
    const metadata = await callMcp(inboundPort, "/.well-known/oauth-protected-resource/mcp", bundlePem, {
      method: "GET",
    });
    expect(metadata.status).toBe(200);
    expect(JSON.parse(metadata.body)).toMatchObject({ resource: RESOURCE, resource_name: "files" });
    const refused = await callMcp(inboundPort, "/mcp", bundlePem);
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe(`Bearer resource_metadata="${METADATA_URL}"`);
    expect(mcp.requests).toHaveLength(0);
  });

  test("the agents' sidecar has the /mcp/files/ route (refusing a caller without an SVID there)", async () => {
    const answer = await callMcp(agentPort, "/mcp/files/mcp", bundlePem);
    expect(answer.status).toBe(401);
    expect(answer.body).toContain("identity_missing");
    const unknown = await callMcp(agentPort, "/mcp/wiki/mcp", bundlePem);
    expect(unknown.status).toBe(404);
  });
});
