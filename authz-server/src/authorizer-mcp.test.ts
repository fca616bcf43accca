import { auth, type CheckRequest, type ICheckResponse } from "../../lib/src/envoy/services.js";
import { fromStruct } from "../../lib/src/envoy/struct.js";
import { argumentsDigest } from "../../lib/src/mcp/digest.js";
import { JSONRPC_ERRORS } from "../../lib/src/mcp/protocol.js";
import { authorize, REFUSE_ALL_DELEGATIONS, type AuthorizerDeps, type Policy } from "./authorizer.js";
import type { Decision } from "./check-response.js";
import type { McpFacts } from "./destination.js";
import { EMPTY_DIRECTORY } from "./identity/source.js";
import type { PolicyInput } from "./policy-input.js";

/**
 * MCP routes, decided without servers: the policy is a stand-in that decides by tool name, so these
 * tests are about what authz-server does around it (reading the request, batches, JSON-RPC answers,
 * approvals). The real policy's MCP rules are tested in policies/tests and the agreement test.
 */
const MCP_ROUTE = { service: "files-mcp", kind: "mcp", path_prefix: "/mcp/files-mcp" };

function mcpCheck(
  body: unknown,
  opts: { headers?: Record<string, string>; method?: string } = {},
): CheckRequest {
  const bytes = auth.CheckRequest.encode({
    attributes: {
      source: { principal: "spiffe://warden.local/agent/code-helper" },
      request: {
        http: {
          id: "req-1",
          method: opts.method ?? "POST",
          path: "/mcp/files-mcp/",
          host: "127.0.0.1:10000",
          scheme: "http",
          headers: { "content-type": "application/json", ...opts.headers },
          body: body === undefined ? "" : JSON.stringify(body),
        },
      },
      contextExtensions: MCP_ROUTE,
    },
  }).finish();
  return auth.CheckRequest.decode(bytes);
}

const ALLOWED: Decision = {
  allow: true,
  status: 200,
  reason: "allowed",
  headers: {},
  metadata: { rule: "r" },
};

/** Allows every tool but `delete_*` (403 mcp_denied) and `publish` (held for approval, unless approved). */
function toolPolicy(): Policy & { inputs: PolicyInput[] } {
  const inputs: PolicyInput[] = [];
  return {
    revision: "rev-1",
    inputs,
    evaluate(raw: unknown) {
      const input = raw as PolicyInput;
      inputs.push(input);
      const mcp = input.mcp as (McpFacts & { approval_id?: string }) | null;
      if (mcp?.name?.startsWith("delete_"))
        return {
          allow: false,
          status: 403,
          reason: "mcp_denied",
          headers: {},
          metadata: {
            message: "no deleting",
            mcp_kind: "tools",
            name: mcp.name,
            mcp_rule: "delete_*",
            tenant: "acme",
          },
        };
      if (mcp?.name === "publish" && !mcp.approval_id)
        return {
          allow: false,
          status: 403,
          reason: "approval_required",
          headers: {},
          metadata: { message: "waits for a person", mcp_kind: "tools", name: "publish" },
        };
      return { ...ALLOWED, metadata: { ...ALLOWED.metadata, mcp: mcp ? { name: mcp.name } : null } };
    },
  };
}

function deps(policy: Policy): AuthorizerDeps {
  return {
    policy: () => policy,
    directory: EMPTY_DIRECTORY,
    delegations: REFUSE_ALL_DELEGATIONS,
    nowNs: () => 1_700_000_000_000_000_000,
    newDecisionId: () => "d-1",
  };
}

const call = (name: string, id: number | string = 1, args: unknown = { path: "/tmp/x" }) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

function answer(response: ICheckResponse): { status: number; body: unknown } {
  const denied = response.deniedResponse;
  if (!denied) throw new Error("expected a refusal");
  return { status: Number(denied.status?.code), body: JSON.parse(denied.body ?? "null") as unknown };
}

function policyMetadata(response: ICheckResponse): Record<string, unknown> {
  const metadata = fromStruct(response.dynamicMetadata ?? {}) as { policy?: Record<string, unknown> };
  return metadata.policy ?? {};
}

describe("MCP requests at authz-server", () => {
  test("an allowed tool call passes with the call's facts in the policy input", () => {
    const policy = toolPolicy();
    const { response, record } = authorize(mcpCheck(call("read_file")), deps(policy));
    expect(response.okResponse).toBeTruthy();
    expect(record).toMatchObject({ allow: true, status: 200 });
    expect(policy.inputs[0]!.mcp).toMatchObject({
      kind: "request",
      method: "tools/call",
      name: "read_file",
      arguments_digest: argumentsDigest({ path: "/tmp/x" }),
      upstream: "server",
    });
  });

  test("a refused tool call is an HTTP 200 JSON-RPC error -32050 echoing the id; the record keeps 403", () => {
    const { response, record } = authorize(mcpCheck(call("delete_all", "abc")), deps(toolPolicy()));
    expect(answer(response)).toEqual({
      status: 200,
      body: {
        jsonrpc: "2.0",
        id: "abc",
        error: {
          code: JSONRPC_ERRORS.WARDEN_DENIED,
          message: "no deleting",
          data: {
            reason: "mcp_denied",
            decision_id: "d-1",
            mcp_kind: "tools",
            name: "delete_all",
            mcp_rule: "delete_*",
          },
        },
      },
    });
    expect(record).toMatchObject({ allow: false, status: 403, reason: "mcp_denied" });
  });

  test("a refused notification keeps its HTTP status, with id null", () => {
    const policy: Policy = {
      revision: "r",
      evaluate: () => ({ ...ALLOWED, allow: false, status: 403, reason: "capability_not_attested" }),
    };
    const { response } = authorize(
      mcpCheck({ jsonrpc: "2.0", method: "notifications/initialized" }),
      deps(policy),
    );
    expect(answer(response)).toMatchObject({ status: 403, body: { id: null, error: { code: -32050 } } });
  });

  test("a header that disagrees with the body is refused with 400 -32020 before the policy runs, and recorded", () => {
    const policy = toolPolicy();
    const { response, record } = authorize(
      mcpCheck(call("delete_all", 5), { headers: { "mcp-method": "tools/call", "mcp-name": "read_file" } }),
      deps(policy),
    );
    expect(policy.inputs).toHaveLength(0);
    expect(answer(response)).toMatchObject({
      status: 400,
      body: {
        id: 5,
        error: {
          code: JSONRPC_ERRORS.HEADER_MISMATCH,
          data: { reason: "mcp_header_mismatch", decision_id: "d-1" },
        },
      },
    });
    expect(record).toMatchObject({
      status: 400,
      reason: "mcp_header_mismatch",
      agent_spiffe_id: "spiffe://warden.local/agent/code-helper",
    });
  });

  test("a POST that is not JSON-RPC is a 400 invalid request", () => {
    const { response } = authorize(mcpCheck({ method: "tools/call" }), deps(toolPolicy()));
    expect(answer(response)).toMatchObject({
      status: 400,
      body: { error: { code: JSONRPC_ERRORS.INVALID_REQUEST } },
    });
  });

  test("GET (the event stream) is decided with no method", () => {
    const policy = toolPolicy();
    const { response } = authorize(mcpCheck(undefined, { method: "GET" }), deps(policy));
    expect(response.okResponse).toBeTruthy();
    expect(policy.inputs[0]!.mcp).toMatchObject({ kind: "none", method: null, name: null });
  });

  test("the route's context extension says when the upstream is a Warden inbound sidecar", () => {
    const policy = toolPolicy();
    const check = mcpCheck(call("read_file"));
    check.attributes!.contextExtensions = { ...MCP_ROUTE, mcp_upstream: "warden" };
    authorize(check, deps(policy));
    expect(policy.inputs[0]!.mcp?.upstream).toBe("warden");
  });

  test("the delegation goes on only to a Warden inbound sidecar, which verifies it again", () => {
    const headers = { "x-warden-delegation": "opaque-token" };
    const direct = authorize(mcpCheck(call("read_file"), { headers }), deps(toolPolicy()));
    expect(direct.response.okResponse?.headersToRemove).toContain("x-warden-delegation");
    const check = mcpCheck(call("read_file"), { headers });
    check.attributes!.contextExtensions = { ...MCP_ROUTE, mcp_upstream: "warden" };
    const towardsWarden = authorize(check, deps(toolPolicy()));
    expect(towardsWarden.response.okResponse).toBeTruthy();
    expect(towardsWarden.response.okResponse?.headersToRemove ?? []).not.toContain("x-warden-delegation");
  });
});

describe("batches", () => {
  test("a batch is decided as a whole and per request; it passes when every decision allows", () => {
    const policy = toolPolicy();
    const { response } = authorize(
      mcpCheck([
        call("read_file", 1),
        { jsonrpc: "2.0", method: "notifications/progress" },
        call("list_dir", 2),
      ]),
      deps(policy),
    );
    expect(response.okResponse).toBeTruthy();
    expect(policy.inputs.map((input) => [input.mcp?.kind, input.mcp?.name])).toEqual([
      ["batch", null],
      ["request", "read_file"],
      ["request", "list_dir"],
    ]);
    expect(policy.inputs[0]!.mcp?.messages).toHaveLength(3);
  });

  test("one refused request refuses the batch: an error per request, each with its reason", () => {
    const { response, record } = authorize(
      mcpCheck([call("read_file", 1), call("delete_all", 2)]),
      deps(toolPolicy()),
    );
    const { status, body } = answer(response);
    expect(status).toBe(200);
    expect(body).toEqual([
      expect.objectContaining({
        id: 1,
        error: expect.objectContaining({ data: expect.objectContaining({ reason: "mcp_batch_refused" }) }),
      }),
      expect.objectContaining({
        id: 2,
        error: expect.objectContaining({ data: expect.objectContaining({ reason: "mcp_denied" }) }),
      }),
    ]);
    expect(record).toMatchObject({ allow: false, status: 403, reason: "mcp_denied" });
  });

  test("a call needing approval inside a batch refuses the batch (approvals bind single calls)", () => {
    const outcome = authorize(mcpCheck([call("publish", 1)]), deps(toolPolicy()));
    expect(outcome.approval).toBeUndefined();
    expect(answer(outcome.response).body).toEqual([
      expect.objectContaining({
        error: expect.objectContaining({ data: expect.objectContaining({ reason: "approval_required" }) }),
      }),
    ]);
  });
});

describe("calls held for approval", () => {
  test("carry a PendingApproval bound to the exact call; without a gate the response refuses", () => {
    const outcome = authorize(mcpCheck(call("publish", 9, { channel: "all" })), deps(toolPolicy()));
    expect(outcome.approval?.binding).toEqual({
      agentSpiffeId: "spiffe://warden.local/agent/code-helper",
      agentId: null,
      tenant: null,
      delegationId: null,
      userId: null,
      server: "files-mcp",
      method: "tools/call",
      name: "publish",
      argumentsDigest: argumentsDigest({ channel: "all" }),
      decisionId: "d-1",
    });
    expect(answer(outcome.response)).toMatchObject({ status: 200, body: { id: 9, error: { code: -32050 } } });
    expect(outcome.record).toMatchObject({ status: 403, reason: "approval_required" });
  });

  test("held: HTTP 200, -32051 with the approval's id, URL and expiry", () => {
    const outcome = authorize(mcpCheck(call("publish", 9)), deps(toolPolicy()));
    const held = outcome.approval!.held({
      approvalId: "apr-1",
      url: "https://warden/approvals/apr-1",
      expiresAt: "2026-12-07T21:00:00Z",
    });
    expect(answer(held.response)).toEqual({
      status: 200,
      body: {
        jsonrpc: "2.0",
        id: 9,
        error: {
          code: JSONRPC_ERRORS.APPROVAL_REQUIRED,
          message: "waits for a person",
          data: {
            reason: "approval_required",
            decision_id: "d-1",
            approval_id: "apr-1",
            approval_url: "https://warden/approvals/apr-1",
            expires_at: "2026-12-07T21:00:00Z",
          },
        },
      },
    });
    expect(held.record).toMatchObject({ status: 403, reason: "approval_required" });
  });

  test("approved: decided again with the approval, the allow hand-off carries approval_id", () => {
    const policy = toolPolicy();
    const outcome = authorize(mcpCheck(call("publish", 9)), deps(policy));
    const approved = outcome.approval!.approved("apr-1");
    expect(approved.response.okResponse).toBeTruthy();
    expect(policyMetadata(approved.response)).toMatchObject({
      approval_id: "apr-1",
      mcp: { name: "publish" },
    });
    expect(approved.record).toMatchObject({ allow: true, status: 200, decision_id: "d-1" });
    expect(policy.inputs[1]!.mcp).toMatchObject({ name: "publish", approval_id: "apr-1" });
  });

  test("approved, but refused when decided again (something changed since the hold): the call is refused", () => {
    let evaluations = 0;
    const policy: Policy = {
      revision: "r",
      evaluate: () =>
        ++evaluations === 1
          ? { allow: false, status: 403, reason: "approval_required", headers: {}, metadata: {} }
          : { allow: false, status: 403, reason: "delegation_revoked", headers: {}, metadata: {} },
    };
    const outcome = authorize(mcpCheck(call("publish", 9)), deps(policy));
    const approved = outcome.approval!.approved("apr-1");
    expect(approved.response.okResponse).toBeFalsy();
    expect(answer(approved.response)).toMatchObject({
      status: 200,
      body: { id: 9, error: { code: -32050, data: { reason: "delegation_revoked" } } },
    });
    expect(approved.record).toMatchObject({ allow: false, reason: "delegation_revoked" });
  });

  test("unavailable: a 503 JSON-RPC error (fail closed)", () => {
    const outcome = authorize(mcpCheck(call("publish", 9)), deps(toolPolicy()));
    const unavailable = outcome.approval!.unavailable("connection refused");
    expect(answer(unavailable.response)).toMatchObject({
      status: 503,
      body: { id: 9, error: { code: -32050, data: { reason: "approval_unavailable" } } },
    });
    expect(JSON.stringify(unavailable.response)).not.toContain("connection refused");
    expect(unavailable.record).toMatchObject({ status: 503, reason: "approval_unavailable" });
  });
});
