import { mcpCallAuditEvent } from "../../../lib/src/audit/mcp-call.js";
import type { AuditWriter } from "../../../lib/src/audit/writer.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { McpCalls } from "./exchange.js";

/** Every MCP call into the audit log through the shared writer (database, or its spool while unreachable). */
export function auditMcpCalls(writer: Pick<AuditWriter, "append">, logger: Logger): McpCalls {
  return {
    record(call) {
      const event = mcpCallAuditEvent(call);
      writer.append(event).catch((error: unknown) => {
        logger.error(
          { err: error, decision_id: call.decisionId },
          "mcp.call audit event could not be stored",
        );
      });
    },
  };
}

/** Without a database: one log line per call (the same fields). */
export function logMcpCalls(logger: Logger): McpCalls {
  return {
    record(call) {
      logger.info({ mcp_call: mcpCallAuditEvent(call), decision_id: call.decisionId }, "mcp.call");
    },
  };
}
