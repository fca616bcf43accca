import { createServer, type IncomingHttpHeaders } from "node:http";
import { listen, readRequestBody, recordingStub, sendJson, type RecordingStub } from "./stub-http.js";

/**
 * A third-party MCP server as raw JSON-RPC over Streamable HTTP (no SDK): POST answers `initialize`,
 * `tools/list` and `tools/call` (the `echo` tool) with JSON, notifications with 202; GET opens an SSE
 * listen stream that sends one event and stays open. It records every request with its headers, so
 * tests see exactly what reached it (and what did not: a client's Authorization).
 */
export interface McpSeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export type McpStub = RecordingStub<McpSeenRequest, never>;

export async function startMcpStub(): Promise<McpStub> {
  const requests: McpSeenRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readRequestBody(req, 1024 * 1024);
      let body: unknown = null;
      try {
        body = raw && raw.length > 0 ? (JSON.parse(raw.toString("utf8")) as unknown) : null;
      } catch {
        body = raw?.toString("utf8") ?? null;
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n');
        return;
      }
      const message = body as { id?: unknown; method?: string; params?: { arguments?: unknown } } | null;
      if (!message || typeof message.method !== "string")
        return sendJson(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32600, message: "bad" } });
      if (message.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const result =
        message.method === "initialize"
          ? {
              protocolVersion: "2025-06-18",
              capabilities: { tools: {} },
              serverInfo: { name: "stub-files", version: "1.0.0" },
            }
          : message.method === "tools/list"
            ? { tools: [{ name: "echo", inputSchema: { type: "object" } }] }
            : message.method === "tools/call"
              ? { content: [{ type: "text", text: JSON.stringify(message.params?.arguments ?? null) }] }
              : null;
      if (result === null)
        return sendJson(res, 200, {
          jsonrpc: "2.0",
          id: message.id,
          error: { code: -32601, message: "method not found" },
        });
      sendJson(res, 200, { jsonrpc: "2.0", id: message.id, result });
    })();
  });
  const port = await listen(server, "127.0.0.1");
  return recordingStub(server, { host: "127.0.0.1", port }, { requests, streams: [] });
}
