import { recordMcpOperation } from "../../../lib/src/metrics/mcp.js";
import type { McpCallRecord } from "../../../lib/src/audit/mcp-call.js";
import type { McpCalls } from "../mcp/exchange.js";
import { agentName } from "./usage-metrics.js";

/** mcp.client.operation.duration for every MCP call (lib/src/metrics/mcp.ts), then the call on. */
export function meteredMcpCalls(calls: McpCalls): McpCalls {
  return {
    record(call) {
      // A metric must never cost a record: one that cannot be recorded is dropped.
      try {
        recordMcpOperation({
          method: call.method,
          name: call.name,
          server: call.server,
          agent: agentName(call.agentSpiffeId),
          tenant: call.tenant,
          errorType: errorTypeOf(call.outcome),
          durationSeconds: call.latencyMs / 1000,
        });
      } catch {
        // dropped
      }
      calls.record(call);
    },
  };
}

function errorTypeOf(outcome: McpCallRecord["outcome"]): string | null {
  switch (outcome.kind) {
    case "ok":
      return null;
    case "jsonrpc_error":
      return outcome.code === null ? "jsonrpc_error" : String(outcome.code);
    case "upstream_status":
      return String(outcome.status);
    case "refused":
      return "refused";
    default:
      return outcome.kind;
  }
}
