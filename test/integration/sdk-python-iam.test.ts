import { execFile } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT, stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, type SpireStack } from "../harness/spire.js";
import { startTokenServiceFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { EVIDENCE, grant } from "./delegation-fixture.js";

/**
 * The Python SDK's agent IAM shapes against the real control plane (PostgreSQL, OpenBao signing,
 * SPIRE): `register_agent` through the REST API as a creator, then, as the agent with its SVID,
 * `get_token`, `exchange_delegation`, `revoke_token` and `introspect` on the token service's
 * mutual-TLS listener (sdk/python/tests/iam).
 */
const TD = "warden.local";
const PYTHON = join(REPO_ROOT, ".tools", "venv", "bin", "python");
const SDK = join(REPO_ROOT, "sdk", "python");

let spire: SpireStack;
let f: ControlPlaneFixture;

afterAll(async () => {
  await f?.close();
  await spire?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

test("register_agent, get_token, exchange_delegation, revoke_token: the pytest suite passes", async () => {
  ({ spire, fixture: f } = await startTokenServiceFixture("sdk-py-iam-spire", TD));
  const [creator, reviewer, ursula] = await Promise.all([
    f.token({ sub: "carl-creator", roles: ["creator"] }),
    f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    f.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
  ]);
  // The agent that asks for tokens: registered, KYA-approved, its SVID issued to this process.
  const agent = await f.call<{ id: string; spiffe_id: string }>("POST", "/v1/agents", {
    token: creator,
    body: {
      name: "sdk-py-iam-bot",
      tenant: "acme",
      team: "engineering",
      type: "assistant",
      environment: "production",
      capabilities: ["google-drive:read", "llm:chat"],
    },
  });
  const submitted = await f.call<{ id: string }>("POST", "/v1/attestations", {
    token: creator,
    body: { agent_id: agent.body.id, evidence: EVIDENCE },
  });
  await f.call("POST", `/v1/attestations/${submitted.body.id}/approve`, {
    token: reviewer,
    body: { level: 2, verified_capabilities: ["google-drive:read", "llm:chat"] },
  });
  await spire.register(agent.body.spiffe_id, [currentProcessSelector()]);
  await spire.waitForSvid(agent.body.spiffe_id);
  const given = await grant(f, ursula, { agent_id: agent.body.id, scopes: ["google-drive:read"] });
  const discovery = await f.call<{ token_endpoint: string | null }>(
    "GET",
    "/.well-known/openid-configuration",
  );
  const tokenService = discovery.body.token_endpoint!.replace(/\/oauth2\/token$/, "");

  const run = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      PYTHON,
      ["-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/iam"],
      {
        cwd: SDK,
        timeout: 120_000,
        env: {
          ...process.env,
          PYTHONPATH: SDK,
          PYTHONDONTWRITEBYTECODE: "1",
          WARDEN_SDK_IAM: "1",
          SPIFFE_ENDPOINT_SOCKET: spire.endpoint,
          WARDEN_API_URL: f.url,
          WARDEN_TOKEN_SERVICE_URL: tokenService,
          WARDEN_AGENT_SPIFFE_ID: agent.body.spiffe_id,
          WARDEN_CREATOR_TOKEN: creator,
          WARDEN_USER_TOKEN: ursula,
          WARDEN_DELEGATION_TOKEN: given.token,
          WARDEN_DELEGATION_ID: given.delegation.id,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? 1 : 0, output: stdout + stderr }),
    );
  });
  if (run.code !== 0) process.stdout.write(run.output);
  expect(run.output).toMatch(/4 passed/);
  expect(run.code).toBe(0);
}, 300_000);
