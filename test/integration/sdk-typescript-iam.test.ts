import { X509Certificate } from "node:crypto";
import { certificateThumbprint } from "../../lib/src/tokens/thumbprint.js";
import { stopAll, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { currentProcessSelector, type SpireStack } from "../harness/spire.js";
import { startTokenServiceFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { claimsOf, EVIDENCE, grant } from "./delegation-fixture.js";
import {
  DelegationError,
  PolicyDeniedError,
  registerAgent,
  SvidSource,
  TokenService,
  type RegisteredAgent,
  type WardenError,
} from "../../sdk/typescript/src/index.js";

/**
 * The SDK's agent IAM shapes against the real control plane (PostgreSQL, OpenBao signing, SPIRE):
 * `registerAgent` through the REST API as the agent's creator, then, as the agent with its SVID,
 * `getToken`, `exchangeDelegation` and `revokeToken` on the token service's mutual-TLS listener.
 */
const TD = "warden.local";

let spire: SpireStack;
let f: ControlPlaneFixture;
let agent: RegisteredAgent;
let svids: SvidSource;
let tokens: TokenService;
let ursula: string;

async function rejection(promise: Promise<unknown>): Promise<WardenError> {
  try {
    await promise;
  } catch (error) {
    return error as WardenError;
  }
  throw new Error("the call succeeded");
}

beforeAll(async () => {
  ({ spire, fixture: f } = await startTokenServiceFixture("sdk-iam-spire", TD));
  const [creator, reviewer] = await Promise.all([
    f.token({ sub: "carl-creator", roles: ["creator"] }),
    f.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
  ]);
  ursula = await f.token({ sub: "ursula", roles: ["user"], tenant: "acme" });

  agent = await registerAgent(f.url, creator, {
    name: "sdk-iam-bot",
    tenant: "acme",
    team: "engineering",
    type: "assistant",
    environment: "production",
    capabilities: ["google-drive:read", "llm:chat"],
  });
  // The KYA review is the reviewer's, through the API (not an SDK shape).
  const submitted = await f.call<{ id: string }>("POST", "/v1/attestations", {
    token: creator,
    body: { agent_id: agent.id, evidence: EVIDENCE },
  });
  await f.call("POST", `/v1/attestations/${submitted.body.id}/approve`, {
    token: reviewer,
    body: { level: 2, verified_capabilities: ["google-drive:read", "llm:chat"] },
  });

  await spire.register(agent.spiffe_id, [currentProcessSelector()]);
  const discovery = await f.call<{ token_endpoint: string | null }>(
    "GET",
    "/.well-known/openid-configuration",
  );
  const url = discovery.body.token_endpoint!.replace(/\/oauth2\/token$/, "");
  // This process holds the control plane's SVID too: the agent picks its own.
  svids = await SvidSource.open({ endpoint: spire.endpoint, spiffeId: agent.spiffe_id });
  tokens = await TokenService.connect({ url, svids });
}, 180_000);

afterAll(async () => {
  tokens?.close();
  svids?.close();
  await f?.close();
  await spire?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

test("registerAgent registers through the API; a person without the creator role gets a typed refusal", async () => {
  expect(agent.spiffe_id).toMatch(new RegExp(`^spiffe://${TD}/`));
  expect(agent.tenant).toBe("acme");
  const refused = await rejection(
    registerAgent(f.url, ursula, {
      name: "not-allowed-bot",
      tenant: "acme",
      team: "engineering",
      type: "assistant",
      environment: "production",
      capabilities: ["llm:chat"],
    }),
  );
  expect(refused).toBeInstanceOf(PolicyDeniedError);
  expect(refused).toMatchObject({ status: 403, reason: "forbidden" });
});

test("getToken: an access token for the agent itself, bound to its certificate; a wider scope is refused", async () => {
  const token = await tokens.getToken(["llm:chat"]);
  expect(token.scopes).toEqual(["llm:chat"]);
  expect(JSON.stringify(token)).not.toContain(token.accessToken);
  const claims = claimsOf(token.accessToken);
  expect(claims).toMatchObject({ sub: agent.spiffe_id, aud: "warden" });
  expect((claims.cnf as Record<string, string>)["x5t#S256"]).toBe(
    certificateThumbprint(new X509Certificate(svids.current.certChainPem)),
  );
  const wider = await rejection(tokens.getToken(["google-drive:write"]));
  expect(wider).toBeInstanceOf(PolicyDeniedError);
  expect(wider).toMatchObject({ status: 400, reason: "invalid_scope" });
});

test("exchangeDelegation: a user's delegation becomes a token acting for the user; a forged one is a DelegationError", async () => {
  const given = await grant(f, ursula, { agent_id: agent.id, scopes: ["google-drive:read"] });
  const token = await tokens.exchangeDelegation(given.token, { audience: "google-drive" });
  const claims = claimsOf(token.accessToken);
  expect(claims).toMatchObject({ act: { sub: agent.spiffe_id }, delegation_id: given.delegation.id });
  const forged = await rejection(tokens.exchangeDelegation(`${given.token.slice(0, -4)}AAAA`));
  expect(forged).toBeInstanceOf(DelegationError);
  expect(forged).toMatchObject({ status: 400, reason: "invalid_grant" });
});

test("revokeToken: the revoked token is no longer active", async () => {
  const token = await tokens.getToken();
  await expect(tokens.introspect(token.accessToken)).resolves.toMatchObject({ active: true });
  await tokens.revokeToken(token.accessToken);
  await expect(tokens.introspect(token.accessToken)).resolves.toEqual({ active: false });
});
