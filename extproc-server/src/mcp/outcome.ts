import type { McpCallOutcome } from "../../../lib/src/audit/mcp-call.js";
import { BoundedBody, lastObjectField } from "../usage/bounded-body.js";

/**
 * How an MCP call ended, read from the answer on its way to the agent (never held back for it):
 * a JSON-RPC error's code, a tool result's `isError`, or the HTTP status when there is no
 * JSON-RPC answer to read.
 */
export function outcomeOfMessage(message: unknown): McpCallOutcome | null {
  if (Array.isArray(message)) {
    for (const item of message) {
      const outcome = outcomeOfMessage(item);
      if (outcome && outcome.kind !== "ok") return outcome;
    }
    return message.length > 0 ? { kind: "ok" } : null;
  }
  if (typeof message !== "object" || message === null) return null;
  const record = message as Record<string, unknown>;
  if (!("id" in record)) return null; // a notification or a server request: not the answer
  if (typeof record.error === "object" && record.error !== null) {
    const code = (record.error as Record<string, unknown>).code;
    return { kind: "jsonrpc_error", code: typeof code === "number" ? code : null };
  }
  if (typeof record.result === "object" && record.result !== null) {
    return (record.result as Record<string, unknown>).isError === true
      ? { kind: "tool_error" }
      : { kind: "ok" };
  }
  return null;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Reads the outcome of an SSE answer event by event (the response event carries it). */
export class SseOutcome {
  outcome: McpCallOutcome | null = null;

  event(data: string): void {
    if (this.outcome && this.outcome.kind !== "ok") return;
    // Only a message with an id can be the answer; notifications are skipped without parsing.
    if (!data.includes('"id"')) return;
    this.outcome = outcomeOfMessage(parse(data)) ?? this.outcome;
  }
}

/** Reads the outcome of a JSON answer: whole up to 1 MiB, beyond that from its last 64 KiB. */
export class JsonOutcome {
  private readonly body = new BoundedBody();

  push(bytes: Uint8Array): void {
    this.body.push(bytes);
  }

  get outcome(): McpCallOutcome | null {
    const whole = this.body.wholeText();
    if (whole !== null) return outcomeOfMessage(parse(whole));
    const tail = this.body.tailText();
    const error = lastObjectField(tail, "error");
    if (typeof error === "object" && error !== null) {
      const code = (error as Record<string, unknown>).code;
      return { kind: "jsonrpc_error", code: typeof code === "number" ? code : null };
    }
    return /"isError"\s*:\s*true/.test(tail) ? { kind: "tool_error" } : { kind: "ok" };
  }
}
