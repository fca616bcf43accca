import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { verifyAuditChain } from "../../lib/src/audit/verify.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import type { SvidHttpsClient } from "../agents/svid-https-client.js";
import type { ApiResponse, ControlPlaneProcess } from "../harness/control-plane.js";
import { REPO_ROOT, RUN_DIR, stopAll, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { registryWorkflow, type RegistryEntry } from "../harness/registry-workflow.js";
import { startTestStack, type Stack, type TestStack } from "../harness/stack.js";
import type { StubOidcIssuer } from "../stubs/oidc-issuer.js";
import { CHAT_BODY } from "../support/chat-request.js";

/**
 * End to end with every component real: refusals of every kind leave an
 * audit row with the caller's identity and the reason, and no code, state, token or key reaches a
 * log file or an audit row.
 *
 * Control plane (its own process, real PostgreSQL): 401 (no token, a forged token), 403 (a role it
 * lacks, another tenant asked for), 400 (invalid input; an OAuth callback with an unknown state, its
 * code and state in the URL), 404 of another tenant's agent. Data plane (the agent through Envoy with
 * its SPIRE SVID, authz-server on the registry database as the data-plane login): denials (no KYA, a
 * forged delegation token, a key in the query string) and allows. Then the chain verifies (library
 * and `warden audit verify`) and every audit row and every file under .run/ is scanned.
 */
const TD = "warden.local";
const AGENT = "audit-bot";
const AGENT_ID = `spiffe://${TD}/agent/${AGENT}`;

/** Secrets this test puts in URLs and headers; none may appear in a log or an audit row. */
const SECRETS = {
  oauthCode: "4/0AcodeSECRET-7f3a91c2",
  oauthState: "stateSECRET-55e0b8d4",
  queryToken: "queryTokenSECRET-0c2d77aa",
  queryKey: "AIzaSECRETkey-9b41e6f0",
  forgedDelegation: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJmb3JnZWQifQ.forgedSIGSECRET",
  forgedBearer: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.bearerSIGSECRET",
};

let env: TestStack;
let databaseUrl: string;
let owner: Database;
let oidc: StubOidcIssuer;
let controlPlane: ControlPlaneProcess;
let stack: Stack;
let agentClient: SvidHttpsClient;
let agent: RegistryEntry;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  env = await startTestStack({
    name: "audit-e2e",
    trustDomain: TD,
    spire: { logLevel: "INFO" },
    // The agent is this test process (its uid is the SPIRE selector); it holds only its SVID.
    agent: AGENT_ID,
    dataPlane: {
      // The shipped governance policy (identity, KYA, delegation), not the demo skeleton.
      policyDir: join(REPO_ROOT, "policies"),
      authzEnv: {
        WARDEN_ATTESTATION_ISSUER: `spiffe://${TD}/warden/control-plane`,
        WARDEN_LOG_LEVEL: "debug",
      },
    },
  });
  ({ databaseUrl, oidc, controlPlane, stack } = env);
  agentClient = env.agentClient!;
  owner = createPostgresDatabase(databaseUrl);
  [tokens.creator, tokens.reviewer, tokens.viewer, tokens.evil] = await Promise.all([
    oidc.token({ sub: "carl-creator", roles: ["creator"], tenant: "acme" }),
    oidc.token({ sub: "rita-reviewer", roles: ["reviewer"] }),
    oidc.token({ sub: "vic-viewer", roles: ["viewer"], tenant: "acme" }),
    oidc.token({ sub: "mallory", roles: ["admin"], tenant: "globex" }),
  ]);
}, 240_000);

afterAll(async () => {
  await owner?.close();
  await env?.stop();
  await stopAll();
}, TEARDOWN_TIMEOUT_MS);

interface AuditRow {
  tenant: string;
  action: string;
  actor: string | null;
  agent_id: string | null;
  agent_spiffe_id: string | null;
  decision: string | null;
  reason: string | null;
  decision_id: string | null;
  request_id: string | null;
  resource_id: string | null;
  details: Record<string, unknown>;
}

async function auditRow(where: string, value: string): Promise<AuditRow> {
  let row: AuditRow | undefined;
  await waitFor(
    `the audit row with ${where} = ${value}`,
    async () => {
      const { rows } = await owner.query<AuditRow>(`SELECT * FROM audit_events WHERE ${where} = $1`, [value]);
      row = rows[0];
      return row !== undefined;
    },
    10_000,
  );
  return row!;
}

/** A control-plane refusal: its status, and its audit row found by the request id it answered with. */
async function refused(status: number, response: Promise<ApiResponse>): Promise<AuditRow> {
  const answer = await response;
  expect(answer.status).toBe(status);
  const requestId = answer.headers.get("x-request-id")!;
  const row = await auditRow("request_id", requestId);
  expect(row).toMatchObject({ action: "api.request_refused", decision: "deny" });
  return row;
}

async function callProvider(path: string, headers: Record<string, string> = {}) {
  const response = await agentClient.request(`${stack.agentUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: CHAT_BODY,
    timeoutMs: 5_000,
  });
  const body = JSON.parse(response.body || "{}") as { error?: { code?: string; decision_id?: string } };
  return { status: response.status, code: body.error?.code ?? "", decisionId: body.error?.decision_id ?? "" };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) return filesUnder(path);
    return stat.isFile() && stat.size < 64 * 1024 * 1024 ? [path] : [];
  });
}

describe("every refusal is audited, with the caller and the reason", () => {
  test("control plane: 401, 403, 400 and 404 across tenants", async () => {
    // 401: no token (with a token in the query string, which must not be logged), and a forged token.
    const anonymous = await refused(
      401,
      controlPlane.call("GET", `/v1/agents?tenant=acme&access_token=${SECRETS.queryToken}`),
    );
    expect(anonymous).toMatchObject({ tenant: "unknown", actor: null, reason: "unauthenticated" });
    expect(anonymous.details.path).toBe("/v1/agents?tenant=acme&access_token=[REDACTED]");
    expect(
      await refused(401, controlPlane.call("GET", "/v1/agents", { token: SECRETS.forgedBearer })),
    ).toMatchObject({ tenant: "unknown", reason: "unauthenticated" });

    agent = await registryWorkflow(controlPlane, {
      creator: tokens.creator!,
      reviewer: tokens.reviewer!,
    }).register(AGENT);

    // 403: a role the operation does not allow; a tenant-limited token asking for another tenant.
    expect(
      await refused(
        403,
        controlPlane.call("POST", `/v1/attestations/${agent.id}/approve`, {
          token: tokens.viewer,
          body: { level: 2, verified_capabilities: [] },
        }),
      ),
    ).toMatchObject({ tenant: "acme", actor: "vic-viewer", reason: "forbidden" });
    expect(
      await refused(403, controlPlane.call("GET", "/v1/agents?tenant=acme", { token: tokens.evil })),
    ).toMatchObject({ tenant: "globex", actor: "mallory", reason: "forbidden" });

    // 404: another tenant's agent (its existence does not leak), audited in the caller's tenant.
    expect(
      await refused(404, controlPlane.call("GET", `/v1/agents/${agent.id}`, { token: tokens.evil })),
    ).toMatchObject({ tenant: "globex", actor: "mallory", reason: "not_found" });

    // 400: invalid input, and an OAuth callback whose state is unknown (code and state in the URL).
    expect(
      await refused(
        400,
        controlPlane.call("POST", "/v1/agents", { token: tokens.creator, body: { name: "Not A Slug!" } }),
      ),
    ).toMatchObject({ tenant: "acme", actor: "carl-creator", reason: "bad_request" });
    const callback = await refused(
      400,
      controlPlane.call(
        "GET",
        `/v1/connections/callback?code=${encodeURIComponent(SECRETS.oauthCode)}&state=${SECRETS.oauthState}`,
      ),
    );
    expect(callback).toMatchObject({ reason: "bad_request", resource_id: "completeConnection" });
    expect(callback.details.path).toBe("/v1/connections/callback?code=[REDACTED]&state=[REDACTED]");
  }, 60_000);

  test("data plane: denials and allows through Envoy, with the agent, tenant and decision id", async () => {
    const workflow = registryWorkflow(controlPlane, { creator: tokens.creator!, reviewer: tokens.reviewer! });
    agent ??= await workflow.register(AGENT);
    let denied = { status: 0, code: "", decisionId: "" };
    await waitFor(
      "the registered agent is known to authz-server (refused: no KYA)",
      async () => (denied = await callProvider("/openai/v1/chat/completions")).code === "kya_missing",
      10_000,
    );
    expect(await auditRow("decision_id", denied.decisionId)).toMatchObject({
      tenant: "acme",
      action: "authz.decision",
      actor: AGENT_ID,
      agent_id: agent.id,
      agent_spiffe_id: AGENT_ID,
      decision: "deny",
      reason: "kya_missing",
      resource_id: "openai",
    });

    await workflow.approve(await workflow.submit(agent), 2);
    await waitFor(
      "the approval reaches authz-server",
      async () => (await callProvider("/openai/v1/chat/completions")).status === 200,
      10_000,
    );
    await waitFor(
      "the allowed request's audit row",
      async () =>
        (
          await owner.query(
            "SELECT 1 FROM audit_events WHERE action = 'authz.decision' AND decision = 'allow' AND agent_spiffe_id = $1 AND tenant = 'acme'",
            [AGENT_ID],
          )
        ).rows.length > 0,
      10_000,
    );

    // A forged delegation token: refused, audited without the token.
    const forged = await callProvider("/openai/v1/chat/completions", {
      "x-warden-delegation": SECRETS.forgedDelegation,
    });
    expect(forged.status).toBe(403);
    const forgedRow = await auditRow("decision_id", forged.decisionId);
    expect(forgedRow).toMatchObject({ decision: "deny", agent_spiffe_id: AGENT_ID, tenant: "acme" });
    expect(forgedRow.details).toMatchObject({ delegation: { valid: false } });

    // A key in the query string: whatever the decision, the row's path has it redacted.
    const withKey = await callProvider(`/openai/v1/chat/completions?key=${SECRETS.queryKey}&alt=json`);
    const keyRow = await auditRow("details->>'path'", "/openai/v1/chat/completions?key=[REDACTED]&alt=json");
    expect(keyRow).toMatchObject({
      agent_spiffe_id: AGENT_ID,
      decision: withKey.status === 200 ? "allow" : "deny",
    });
  }, 60_000);
});

describe("after the run", () => {
  test("the audit chain verifies, by the library and by `warden audit verify`", async () => {
    const result = await verifyAuditChain(owner);
    expect(result).toMatchObject({ ok: true, problem: null });
    expect(result.tenants).toBeGreaterThanOrEqual(3); // acme, globex, unknown
    const out: string[] = [];
    const code = await runWarden(["audit", "verify", "--database-url", databaseUrl], {
      env: {},
      stdout: (l) => out.push(l),
      stderr: (l) => out.push(l),
    });
    expect({ code, out: out.join("\n") }).toMatchObject({ code: 0 });
  }, 60_000);

  test("no code, state, token or key is in any audit row or any file under .run/", async () => {
    // Every process of this test has written its last lines (stdout is line-buffered JSON).
    const { rows } = await owner.query<{ row: string }>(
      "SELECT row_to_json(a)::text AS row FROM audit_events a",
    );
    expect(rows.length).toBeGreaterThan(10);
    const bearerTokens = Object.values(tokens);
    const needles = [...Object.values(SECRETS), ...bearerTokens];
    for (const { row } of rows) for (const needle of needles) expect(row).not.toContain(needle);

    const files = filesUnder(RUN_DIR);
    expect(files.some((f) => f.includes("audit-e2e-control-plane"))).toBe(true);
    expect(files.some((f) => /audit-e2e-.*-authz/.test(f))).toBe(true);
    const leaks: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "latin1");
      for (const needle of needles) if (text.includes(needle)) leaks.push(`${file.replace(REPO_ROOT, "")}`);
    }
    expect(leaks).toEqual([]);
  }, 60_000);
});
