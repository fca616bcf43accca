import { agentErrorBody, errorDialectOf } from "./error-shapes.js";

describe("denials in the provider's own error shape", () => {
  test("the route picks the dialect; non-LLM routes keep Warden's shape", () => {
    expect(errorDialectOf("openai", "llm")).toBe("openai");
    expect(errorDialectOf("azure-openai", "llm")).toBe("openai");
    expect(errorDialectOf("anthropic", "llm")).toBe("anthropic");
    expect(errorDialectOf("google-ai", "llm")).toBe("google");
    expect(errorDialectOf("github", "saas")).toBe("warden");
    expect(errorDialectOf(undefined, undefined)).toBe("warden");
    expect(errorDialectOf("files-mcp", "mcp")).toBe("jsonrpc");
  });

  test("MCP: a JSON-RPC error with Warden's reason and decision id in data", () => {
    expect(agentErrorBody("jsonrpc", 429, "rate_limited", "slow down", "d-9")).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32050, message: "slow down", data: { reason: "rate_limited", decision_id: "d-9" } },
    });
    expect(agentErrorBody("jsonrpc", 400, "bad_request", "no", null)).toMatchObject({
      error: { code: -32600 },
    });
  });

  test("OpenAI: message, type, param, code (+ decision id)", () => {
    expect(agentErrorBody("openai", 403, "model_not_allowed", "no", "d-1")).toEqual({
      error: {
        message: "no",
        type: "permission_error",
        param: null,
        code: "model_not_allowed",
        decision_id: "d-1",
      },
    });
  });

  test("Anthropic: type error, error.type and message", () => {
    expect(agentErrorBody("anthropic", 429, "rate_limited", "slow down", "d-2")).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "slow down", code: "rate_limited", decision_id: "d-2" },
    });
  });

  test("Google: numeric code, status name, reason in ErrorInfo", () => {
    expect(agentErrorBody("google", 400, "body_too_deep", "too deep", "d-3")).toEqual({
      error: {
        code: 400,
        message: "too deep",
        status: "INVALID_ARGUMENT",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "body_too_deep",
            domain: "agent-warden",
            metadata: { decision_id: "d-3" },
          },
        ],
      },
    });
  });

  test("Warden's own shape elsewhere", () => {
    expect(agentErrorBody("warden", 403, "forbidden", "no", null)).toEqual({
      error: { code: "forbidden", message: "no", decision_id: null },
    });
  });
});
