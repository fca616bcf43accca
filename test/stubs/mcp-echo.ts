import { createServer, type IncomingHttpHeaders } from "node:http";
import { listen, readRequestBody, recordingStub, sendJson, type RecordingStub } from "./stub-http.js";

/**
 * A third-party MCP server stand-in: raw Streamable HTTP, JSON-RPC over POST, on loopback. Every
 * request answers `{ result: { echo: { method, params } } }` echoing its id; notifications and
 * responses get 202. It records what reached it, so tests prove what the sidecar let through.
 */
export interface SeenMcpRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export type McpEchoStub = RecordingStub<SeenMcpRequest, never>;

const MAX_BODY_BYTES = 1024 * 1024;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function answer(message: unknown): unknown {
  if (!isRecord(message) || typeof message.method !== "string" || message.id === undefined) return undefined;
  return {
    jsonrpc: "2.0",
    id: message.id,
    result: { echo: { method: message.method, params: message.params ?? null } },
  };
}

export async function startMcpEcho(): Promise<McpEchoStub> {
  const requests: SeenMcpRequest[] = [];
  const server = createServer((req, res) => {
    void readRequestBody(req, MAX_BODY_BYTES).then((bytes) => {
      let body: unknown = null;
      try {
        body = bytes && bytes.length > 0 ? (JSON.parse(bytes.toString("utf8")) as unknown) : null;
      } catch {
        return sendJson(res, 400, {
          jsonrpc: "2.0",
          id: null,
          error: { code: -32700, message: "parse error" },
        });
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      if (req.method !== "POST") return sendJson(res, 405, { error: "only POST" });
      const answers = Array.isArray(body) ? body.map(answer).filter((a) => a !== undefined) : answer(body);
      if (answers === undefined || (Array.isArray(answers) && answers.length === 0)) {
        res.writeHead(202).end();
        return;
      }
      sendJson(res, 200, answers);
    });
  });
  const host = "127.0.0.1";
  const port = await listen(server, host);
  return recordingStub(server, { host, port }, { requests, streams: [] });
}
