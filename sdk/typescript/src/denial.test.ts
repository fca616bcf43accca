import { jsonRpcErrorBody, agentErrorBody } from "../../../lib/src/llm/error-shapes.js";
import { errorFromHttp, retryAfterSeconds, toWardenError } from "./denial.js";
import {
  AgentStatusError,
  ApprovalRequiredError,
  BudgetError,
  IdentityError,
  KyaError,
  PolicyDeniedError,
  RateLimitedError,
  RequestError,
  UnavailableError,
  WardenError,
} from "./errors.js";

const DECISION = "dec_0123456789";
const noHeaders = new Headers();

describe("a refusal in every shape Warden answers with is one typed error", () => {
  // The bodies come from the servers' own builder (lib/src/llm/error-shapes.ts), not written by hand.
  test.each(["warden", "openai", "anthropic", "google", "jsonrpc"] as const)("%s shape", (dialect) => {
    const body = JSON.stringify(
      agentErrorBody(dialect, 403, "kya_expired", "the attestation expired", DECISION),
    );
    const error = errorFromHttp(403, noHeaders, body);
    expect(error).toBeInstanceOf(KyaError);
    expect(error).toBeInstanceOf(WardenError);
    expect(error).toMatchObject({ status: 403, reason: "kya_expired", decisionId: DECISION });
    expect(error.message).toBe("the attestation expired");
  });
});

test.each([
  ["agent_unregistered", 401, IdentityError],
  ["certificate_expired", 401, IdentityError],
  ["agent_suspended", 403, AgentStatusError],
  ["model_not_allowed", 403, PolicyDeniedError],
  ["budget_exceeded", 402, BudgetError],
  ["rate_limited", 429, RateLimitedError],
  ["policy_not_loaded", 503, UnavailableError],
  ["body_too_deep", 400, RequestError],
] as const)("reason %s (%i) raises %p", (reason, status, family) => {
  const error = errorFromHttp(
    status,
    noHeaders,
    JSON.stringify(agentErrorBody("warden", status, reason, "x", DECISION)),
  );
  expect(error).toBeInstanceOf(family);
  expect(error.name).toBe(family.name);
});

test("an unknown reason falls back on the status; a body that is not JSON keeps the status and header decision id", () => {
  const unknown = errorFromHttp(
    403,
    noHeaders,
    JSON.stringify(agentErrorBody("warden", 403, "brand_new", "x", null)),
  );
  expect(unknown).toBeInstanceOf(PolicyDeniedError);
  expect(unknown.reason).toBe("brand_new");
  const plain = errorFromHttp(
    503,
    new Headers({ "x-warden-decision-id": DECISION }),
    "upstream connect error",
  );
  expect(plain).toBeInstanceOf(UnavailableError);
  expect(plain).toMatchObject({ reason: null, decisionId: DECISION, message: "upstream connect error" });
});

test("an approval hold (JSON-RPC -32051) carries the approval's id, URL and expiry", () => {
  const body = jsonRpcErrorBody(7, -32051, "this call waits for approval", {
    reason: "approval_required",
    decision_id: DECISION,
    approval_id: "apr_1",
    approval_url: "https://warden.example/approvals/apr_1",
    expires_at: "2026-12-07T22:00:00Z",
  });
  const error = errorFromHttp(200, noHeaders, JSON.stringify(body));
  expect(error).toBeInstanceOf(ApprovalRequiredError);
  expect(error).toMatchObject({
    approvalId: "apr_1",
    approvalUrl: "https://warden.example/approvals/apr_1",
    expiresAt: "2026-12-07T22:00:00Z",
    decisionId: DECISION,
  });
});

test("errors raised by official clients convert: OpenAI/Anthropic APIError shapes and the MCP SDK's McpError shape", () => {
  const openAiLike = {
    status: 429,
    error: { message: "slow down", type: "rate_limit_error", code: "rate_limited", decision_id: DECISION },
    headers: new Headers({ "retry-after": "2" }),
  };
  expect(toWardenError(openAiLike)).toMatchObject({
    constructor: RateLimitedError,
    retryAfterS: 2,
    decisionId: DECISION,
  });
  const anthropicLike = {
    status: 403,
    error: agentErrorBody("anthropic", 403, "tier_denied", "no", DECISION),
    headers: {},
  };
  expect(toWardenError(anthropicLike)).toBeInstanceOf(PolicyDeniedError);
  const mcpLike = { code: -32050, message: "refused", data: { reason: "mcp_denied", decision_id: DECISION } };
  expect(toWardenError(mcpLike)).toMatchObject({ constructor: PolicyDeniedError, reason: "mcp_denied" });
  expect(toWardenError(new Error("socket hang up"))).toBeNull();
});

test("Retry-After: delta-seconds, an HTTP date, or nothing usable", () => {
  expect(retryAfterSeconds("3")).toBe(3);
  expect(retryAfterSeconds(new Date(10_000).toUTCString(), 5_000)).toBe(5);
  expect(retryAfterSeconds("soon")).toBeNull();
  expect(retryAfterSeconds(null)).toBeNull();
});
