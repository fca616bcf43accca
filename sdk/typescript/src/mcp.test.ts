import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { jsonRpcErrorBody } from "../../../lib/src/llm/error-shapes.js";
import { ApprovalRequiredError, IdentityError, PolicyDeniedError } from "./errors.js";
import { mcpError } from "./mcp.js";

test("an HTTP refusal the MCP transport raised (401, JSON-RPC body in its message) is typed by its reason", () => {
  const body = jsonRpcErrorBody(null, -32050, "no SVID", { reason: "identity_missing", decision_id: "d1" });
  const error = mcpError(new StreamableHTTPError(401, `Error POSTing to endpoint: ${JSON.stringify(body)}`));
  expect(error).toBeInstanceOf(IdentityError);
  expect(error).toMatchObject({ status: 401, reason: "identity_missing", decisionId: "d1" });
});

test("the SDK's McpError of a refusal and of an approval hold", () => {
  const denied = mcpError(new McpError(-32050, "refused", { reason: "mcp_denied", decision_id: "d2" }));
  expect(denied).toBeInstanceOf(PolicyDeniedError);
  const held = mcpError(
    new McpError(-32051, "held", {
      reason: "approval_required",
      decision_id: "d3",
      approval_id: "a1",
      approval_url: "https://warden.example/approvals/a1",
      expires_at: "2026-12-07T23:00:00Z",
    }),
  );
  expect(held).toBeInstanceOf(ApprovalRequiredError);
  expect(held).toMatchObject({ approvalId: "a1", decisionId: "d3" });
});

test("an error that is no refusal passes through unchanged", () => {
  const plain = new Error("socket hang up");
  expect(mcpError(plain)).toBe(plain);
});
