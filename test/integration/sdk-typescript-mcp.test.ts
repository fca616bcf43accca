import { waitFor, stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { README_EXAMPLES_BY_SUITE, readmeExample, runReadmeExample } from "../support/readme-examples.js";
import { AGENT, startMcpEnvironment, type McpEnvironment } from "../support/mcp-environment.js";
import { McpSkills, textOf } from "../../sdk/typescript/src/mcp.js";
import {
  ApprovalRequiredError,
  familyOf,
  PolicyDeniedError,
  SvidSource,
  Warden,
  WardenError,
} from "../../sdk/typescript/src/index.js";

/**
 * The SDK's MCP shapes through the agent's sidecar, on the governed MCP environment the MCP
 * acceptance suites use (test/support/mcp-environment.ts: PostgreSQL, OpenBao, SPIRE, the control
 * plane, Envoy, authz-server, extproc-server with the shipped policies; the `files` server is the
 * official TypeScript MCP SDK). Its owner's rules: read_file for every agent, create_file with the
 * delegation scope google-drive:write, share_file only with a person's approval, delete_file never.
 */
let mcp: McpEnvironment;
let svids: SvidSource;
let warden: Warden;
let skills: McpSkills;
let forUser: McpSkills;

beforeAll(async () => {
  mcp = await startMcpEnvironment("sdk-ts-mcp");
  svids = await SvidSource.open({ endpoint: mcp.env.spire.endpoint, spiffeId: AGENT });
  warden = await Warden.connect({ sidecarUrl: mcp.env.stack.agentUrl.replace("http:", "https:"), svids });
  // The registry and the tool rules reach authz-server through LISTEN/NOTIFY: wait for the first allow.
  await waitFor(
    "the tool rules on the data plane",
    async () => {
      const probe = await McpSkills.connect(warden, "files", { path: "mcp" });
      try {
        await probe.callSkill("read_file", { path: "readme.md" });
        return true;
      } catch {
        return false;
      } finally {
        await probe.close();
      }
    },
    30_000,
  );
  skills = await McpSkills.connect(warden, "files", { path: "mcp" });
  forUser = await McpSkills.connect(
    warden.onBehalfOf(mcp.delegationHeader["x-warden-delegation"]!),
    "files",
    {
      path: "mcp",
    },
  );
}, 300_000);

afterAll(async () => {
  await skills?.close().catch(() => undefined);
  await forUser?.close().catch(() => undefined);
  warden?.close();
  svids?.close();
  await mcp?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

beforeEach(() => mcp.files.reset());

async function rejection(promise: Promise<unknown>): Promise<WardenError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof WardenError)) throw new Error(`expected a WardenError, got ${String(outcome)}`);
  return outcome;
}

test("callSkill and getData reach the MCP server through the sidecar", async () => {
  const read = await skills.callSkill("read_file", { path: "readme.md" });
  expect(textOf(read)).toContain("A test store.");
  const data = await skills.getData("file:///readme.md");
  expect(data.contents[0]).toMatchObject({ uri: "file:///readme.md", text: "# files\nA test store." });
});

test("a tool the owner forbids is a PolicyDeniedError with its reason and decision id; the server never sees it", async () => {
  const error = await rejection(skills.callSkill("delete_file", { path: "readme.md" }));
  expect(error).toBeInstanceOf(PolicyDeniedError);
  expect(error.reason).toBe("mcp_denied");
  expect(error.decisionId).toEqual(expect.any(String));
  expect(mcp.files.callsOf("delete_file")).toBe(0);
});

test("writeData on the user's behalf passes with the delegation's scope; without it the refusal is typed", async () => {
  const written = await forUser.writeData("create_file", { path: "notes.md", content: "hello" });
  expect(textOf(written)).toBe("created notes.md");
  const refused = await rejection(skills.writeData("create_file", { path: "x.md", content: "x" }));
  // Whatever reason the policy gives, it is one of the table's, raised as its family's class.
  expect(refused.reason).toEqual(expect.stringMatching(/^[a-z_]+$/));
  expect(refused.constructor.name).toBe(familyOf(refused.reason, refused.status));
  expect(refused.constructor.name).not.toBe("WardenError");
  expect(mcp.files.callsOf("create_file")).toBe(1);
});

test("a tool that needs a person's approval raises ApprovalRequiredError with the approval's id, URL and expiry", async () => {
  const held = await rejection(
    forUser.callSkill("share_file", { path: "readme.md", recipient: "bob@acme.example" }),
  );
  expect(held).toBeInstanceOf(ApprovalRequiredError);
  expect(held).toMatchObject({
    reason: "approval_required",
    approvalId: expect.any(String),
    approvalUrl: expect.stringMatching(/^https?:\/\//),
    expiresAt: expect.any(String),
  });
  expect(held.decisionId).toEqual(expect.any(String));
  expect(mcp.files.callsOf("share_file")).toBe(0);
});

test.each(README_EXAMPLES_BY_SUITE.mcp)("the README's example runs verbatim: %s", async (title) => {
  const example = readmeExample(title);
  const stdout = await runReadmeExample(example, {
    SPIFFE_ENDPOINT_SOCKET: mcp.env.spire.endpoint,
    WARDEN_SIDECAR_URL: mcp.env.stack.agentUrl.replace("http:", "https:"),
  });
  expect(stdout).toBe(example.output);
});
