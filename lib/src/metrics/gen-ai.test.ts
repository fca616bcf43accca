import { recordGenAiCall, type GenAiCall } from "./gen-ai.js";
import { recordMcpOperation } from "./mcp.js";
import { openBaoOperation, recordOpenBaoRequest } from "./openbao.js";
import { metricsRegistry } from "./registry.js";

const call: GenAiCall = {
  provider: "google-ai",
  operation: "generate",
  requestedModel: "gemini-2.5-flash",
  responseModel: "gemini-2.5-flash-001",
  agent: "billing-bot",
  team: "finance",
  tenant: "acme",
  userId: "alice@example.com",
  stream: true,
  inputTokens: 120,
  outputTokens: 30,
  errorType: null,
  durationSeconds: 1.5,
  firstTokenSeconds: 0.2,
  costUsd: 0.0042,
};

test("an LLM call is recorded under the GenAI semantic-convention names, labels and values", async () => {
  recordGenAiCall(call);
  const text = await metricsRegistry.metrics();
  const labels =
    'gen_ai_operation_name="generate_content",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash",gen_ai_response_model="gemini-2.5-flash-001",agent="billing-bot",team="finance",tenant="acme"';
  expect(text).toContain(`gen_ai_client_token_usage_sum{${labels},gen_ai_token_type="input"} 120`);
  expect(text).toContain(`gen_ai_client_token_usage_sum{${labels},gen_ai_token_type="output"} 30`);
  expect(text).toContain(`gen_ai_client_operation_duration_seconds_count{${labels},error_type="none"} 1`);
  expect(text).toContain(`gen_ai_server_time_to_first_token_seconds_sum{${labels}} 0.2`);
  expect(text).toMatch(/warden_llm_cost_usd_total\{[^}]*user="[0-9a-f]{16}"[^}]*\} 0\.0042/);
  // The user id itself never appears in any label.
  expect(text).not.toContain("alice@example.com");
});

test("an MCP tool call is recorded as mcp.client.operation.duration with the tool name", async () => {
  recordMcpOperation({
    method: "tools/call",
    name: "create_issue",
    server: "github",
    agent: "triage",
    tenant: "acme",
    errorType: null,
    durationSeconds: 0.3,
  });
  recordMcpOperation({
    method: "resources/read",
    name: "file:///secret/path",
    server: "github",
    agent: "triage",
    tenant: "acme",
    errorType: "refused",
    durationSeconds: 0.01,
  });
  const text = await metricsRegistry.metrics();
  expect(text).toContain(
    'mcp_client_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="create_issue",error_type="none",mcp_server="github",agent="triage",tenant="acme"} 1',
  );
  // Only tools are named: a resource URI is request data and stays out of the labels.
  expect(text).not.toContain("file:///secret/path");
});

test("OpenBao calls are labelled by method and mount only, never the secret's path", async () => {
  expect(openBaoOperation("GET", "warden/data/llm/acme/openai")).toBe("GET warden");
  expect(openBaoOperation("POST", "/transit/sign/warden-signing")).toBe("POST transit");
  recordOpenBaoRequest(openBaoOperation("GET", "warden/data/llm/acme/openai"), 503, 0.02);
  recordOpenBaoRequest(openBaoOperation("GET", "warden/data/llm/acme/openai"), 0, 5);
  const text = await metricsRegistry.metrics();
  expect(text).toContain('warden_openbao_errors_total{operation="GET warden",kind="unavailable"} 2');
  expect(text).not.toContain("acme/openai");
});
