import { Histogram } from "prom-client";
import { MCP_DURATION_BUCKETS } from "./buckets.js";
import { BoundedLabel } from "./labels.js";
import { metricsRegistry } from "./registry.js";

/**
 * MCP calls under the OpenTelemetry MCP semantic-convention name `mcp.client.operation.duration`
 * (Prometheus: `mcp_client_operation_duration_seconds`), with `mcp.method.name` and, for
 * `tools/call`, `gen_ai.tool.name`; `error_type` is set when the call failed. Plus Warden's labels:
 * the MCP server and the calling agent and tenant.
 */
const duration = new Histogram({
  name: "mcp_client_operation_duration_seconds",
  help: "MCP request duration through the sidecar (mcp.client.operation.duration).",
  labelNames: ["mcp_method_name", "gen_ai_tool_name", "error_type", "mcp_server", "agent", "tenant"],
  buckets: MCP_DURATION_BUCKETS,
  registers: [metricsRegistry],
});

export interface McpOperation {
  method: string | null;
  /** The tool, resource or prompt name; only tools go into `gen_ai_tool_name`. */
  name: string | null;
  server: string;
  agent: string | null;
  tenant: string | null;
  errorType: string | null;
  durationSeconds: number;
}

const methods = new BoundedLabel(50);
const tools = new BoundedLabel(500);
const servers = new BoundedLabel(200);
const agents = new BoundedLabel(1000);
const tenants = new BoundedLabel(200);
const errorTypes = new BoundedLabel(50);

export function recordMcpOperation(op: McpOperation): void {
  duration.observe(
    {
      mcp_method_name: methods.of(op.method),
      gen_ai_tool_name: op.method === "tools/call" ? tools.of(op.name) : "none",
      error_type: errorTypes.of(op.errorType),
      mcp_server: servers.of(op.server),
      agent: agents.of(op.agent),
      tenant: tenants.of(op.tenant),
    },
    op.durationSeconds,
  );
}
