import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import { listen, readRequestBody, recordingStub, sendJson, type RecordingStub } from "./stub-http.js";

/**
 * A third-party MCP server speaking raw Streamable HTTP JSON-RPC (no SDK), on loopback, for tests of
 * what Warden does to MCP traffic. It records every request that reached it (method, path, headers,
 * body), so tests prove what a sidecar let through and what it kept back (a client's Authorization).
 *
 * POST: one JSON-RPC message or a batch; notifications and responses get 202, a body that is not
 * JSON a 400 with code -32700. How a request is answered is chosen by the test through the
 * `x-stub-answer` header (the sidecar passes it on): `json` (default), `sse` (the response as an SSE
 * event after a progress notification), `sse-slow` (three progress events 200 ms apart, then the
 * result), `sse-big` (progress events of `x-stub-bytes` in all, then the result). Results:
 * - `initialize`: a 2025-06-18 server with tools;
 * - `tools/list`: `x-stub-tools` tools (default 6): `read_0`…, `write_0`…, alternating;
 * - `tools/call` `read_list`: a result holding `x-stub-tools` tools (not a list answer);
 *   `echo_auth`: the Authorization header it received as its text content; `fail`: `isError: true`;
 *   any other name: a short text, with `echo: { method, params }`;
 * - any other method: `{ echo: { method, params } }`.
 * GET opens an SSE listen stream that sends one `notifications/tools/list_changed` and stays open.
 */
export interface SeenMcpRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface McpRawStub extends RecordingStub<SeenMcpRequest, never> {
  /** performance.now() at each write of the last `sse-slow` answer, in order. */
  readonly slowWrites: number[];
}

const MAX_BODY = 1024 * 1024;

function toolList(count: number): { name: string; description: string; inputSchema: unknown }[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${i % 2 === 0 ? "read" : "write"}_${i}`,
    description: `tool number ${i}, which does ${i % 2 === 0 ? "reading" : "writing"}`,
    inputSchema: { type: "object", properties: { path: { type: "string" } } },
  }));
}

function resultFor(message: Record<string, unknown>, headers: IncomingHttpHeaders): unknown {
  const params = (message.params ?? {}) as Record<string, unknown>;
  const echo = { method: message.method, params: message.params ?? null };
  switch (message.method) {
    case "initialize":
      return {
        protocolVersion: "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "stub-files", version: "1.0.0" },
      };
    case "tools/list":
      return { tools: toolList(Number(headers["x-stub-tools"] ?? 6)), nextCursor: "next-page" };
    case "tools/call":
      if (params.name === "echo_auth")
        return {
          content: [{ type: "text", text: `I was called with ${headers.authorization ?? "nothing"}` }],
        };
      // A tool whose result happens to hold a list: not a list answer, so nothing is filtered.
      if (params.name === "read_list")
        return { content: [], tools: toolList(Number(headers["x-stub-tools"] ?? 6)) };
      if (params.name === "fail") return { content: [{ type: "text", text: "it broke" }], isError: true };
      return { content: [{ type: "text", text: `called ${String(params.name)}` }], echo };
    default:
      return { echo };
  }
}

const isRequest = (message: unknown): message is Record<string, unknown> =>
  typeof message === "object" &&
  message !== null &&
  !Array.isArray(message) &&
  typeof (message as Record<string, unknown>).method === "string" &&
  "id" in message;

const sseEvent = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;
const progress = (n: number, pad = "") =>
  sseEvent({
    jsonrpc: "2.0",
    method: "notifications/progress",
    params: { progressToken: "p", progress: n, message: pad },
  });

export async function startMcpRawStub(): Promise<McpRawStub> {
  const requests: SeenMcpRequest[] = [];
  const slowWrites: number[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readRequestBody(req, MAX_BODY);
      const seen = { method: req.method ?? "", path: req.url ?? "", headers: req.headers };
      if (req.method === "GET") {
        requests.push({ ...seen, body: null });
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write(sseEvent({ jsonrpc: "2.0", method: "notifications/tools/list_changed" }));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw?.toString("utf8") ?? "");
      } catch {
        return sendJson(res, 400, {
          jsonrpc: "2.0",
          id: null,
          error: { code: -32700, message: "parse error" },
        });
      }
      requests.push({ ...seen, body: parsed });
      if (Array.isArray(parsed)) {
        // A batch: one answer per request in it.
        const inBatch = parsed.filter(isRequest);
        if (inBatch.length === 0) return void res.writeHead(202).end();
        return sendJson(
          res,
          200,
          inBatch.map((m) => ({ jsonrpc: "2.0", id: m.id, result: resultFor(m, req.headers) })),
        );
      }
      if (!isRequest(parsed)) return void res.writeHead(202).end();
      const response = { jsonrpc: "2.0", id: parsed.id, result: resultFor(parsed, req.headers) };
      const answer = String(req.headers["x-stub-answer"] ?? "json");
      if (answer === "json") return sendJson(res, 200, response);
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      if (answer === "sse") {
        res.write(progress(1));
        res.end(sseEvent(response));
      } else if (answer === "sse-slow") await slowly(res, response, slowWrites);
      else if (answer === "sse-big") await big(res, response, Number(req.headers["x-stub-bytes"] ?? 1 << 20));
    })().catch(() => res.destroy());
  });
  const host = "127.0.0.1";
  const port = await listen(server, host);
  return { ...recordingStub(server, { host, port }, { requests, streams: [] }), slowWrites };
}

async function slowly(res: ServerResponse, response: unknown, writes: number[]): Promise<void> {
  writes.length = 0;
  for (let n = 1; n <= 3; n++) {
    res.write(progress(n));
    writes.push(performance.now());
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  writes.push(performance.now());
  res.end(sseEvent(response));
}

async function big(res: ServerResponse, response: unknown, bytes: number): Promise<void> {
  const event = progress(0, "x".repeat(16 * 1024));
  for (let sent = 0; sent < bytes; sent += event.length) {
    // Respect back-pressure: the stream is as large as the test says, never buffered here whole.
    if (!res.write(event)) await new Promise((resolve) => res.once("drain", resolve));
  }
  res.end(sseEvent(response));
}
