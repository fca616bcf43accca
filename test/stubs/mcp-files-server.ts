import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";
import { closeServer, listen } from "./stub-http.js";

/**
 * A third-party MCP server for the acceptance tests, built with the official TypeScript SDK
 * (@modelcontextprotocol/sdk 1.32.2: Streamable HTTP, revision 2025-11-25, sessions). It serves a
 * small in-memory file store:
 *   read_file     returns a file's text
 *   create_file   stores a file (the tests' tool rule asks for a delegation scope)
 *   delete_file   removes a file (the tests' tool rule forbids it)
 *   share_file    shares a file with someone (the tests' tool rule asks a person to approve each call)
 *   slow_report   sends `steps` progress notifications over the call's SSE stream, then its result
 *   echo_secret   answers text that contains a credential (scrubbing)
 * plus a prompt (summarize) and a resource (file:///readme.md). It counts every tool call by name,
 * so a test can show that a refused call never reached it, and records each HTTP request's headers.
 */
export const ECHOED_SECRET = "sk-live-mcpstub-0123456789abcdefghijklmnop";

export interface McpFilesServer {
  readonly port: number;
  /** The MCP endpoint (`http://127.0.0.1:<port>/mcp`). */
  readonly url: string;
  /** Tool calls that reached the server, by tool name. */
  readonly calls: Map<string, number>;
  /** Headers of every HTTP request, in order. */
  readonly requests: IncomingHttpHeaders[];
  callsOf(tool: string): number;
  reset(): void;
  close(): Promise<void>;
}

function text(value: string) {
  return { content: [{ type: "text" as const, text: value }] };
}

function buildServer(files: Map<string, string>, count: (tool: string) => void): McpServer {
  const server = new McpServer({ name: "files", version: "1.0.0" });
  server.registerTool(
    "read_file",
    { description: "Read a file", inputSchema: { path: z.string() } },
    ({ path }) => {
      count("read_file");
      return text(files.get(path) ?? "");
    },
  );
  server.registerTool(
    "create_file",
    { description: "Create a file", inputSchema: { path: z.string(), content: z.string() } },
    ({ path, content }) => {
      count("create_file");
      files.set(path, content);
      return text(`created ${path}`);
    },
  );
  server.registerTool(
    "delete_file",
    { description: "Delete a file", inputSchema: { path: z.string() } },
    ({ path }) => {
      count("delete_file");
      files.delete(path);
      return text(`deleted ${path}`);
    },
  );
  server.registerTool(
    "share_file",
    { description: "Share a file", inputSchema: { path: z.string(), recipient: z.string() } },
    ({ path, recipient }) => {
      count("share_file");
      return text(`shared ${path} with ${recipient}`);
    },
  );
  server.registerTool(
    "slow_report",
    {
      description: "A report that takes a while, with progress",
      inputSchema: { steps: z.number().int().min(1).max(20), delay_ms: z.number().int().min(0).max(2000) },
    },
    async ({ steps, delay_ms }, extra) => {
      count("slow_report");
      const token = extra._meta?.progressToken;
      for (let step = 1; step <= steps; step += 1) {
        await new Promise((resolve) => setTimeout(resolve, delay_ms));
        if (token !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: step, total: steps, message: `step ${step}` },
          });
        }
      }
      return text(`report done after ${steps} steps`);
    },
  );
  server.registerTool("echo_secret", { description: "Echo a configuration value" }, () => {
    count("echo_secret");
    return text(`the key is ${ECHOED_SECRET}`);
  });
  server.registerPrompt(
    "summarize",
    { description: "Summarize a file", argsSchema: { path: z.string() } },
    ({ path }) => ({
      messages: [{ role: "user", content: { type: "text", text: `Summarize ${path}` } }],
    }),
  );
  server.registerResource(
    "readme",
    "file:///readme.md",
    { description: "The readme", mimeType: "text/markdown" },
    (uri) => ({ contents: [{ uri: uri.href, text: files.get("readme.md") ?? "# files" }] }),
  );
  return server;
}

/** Starts the server on a free loopback port. One SDK server + transport per session, as the SDK's examples do. */
export async function startMcpFilesServer(): Promise<McpFilesServer> {
  const files = new Map<string, string>([["readme.md", "# files\nA test store."]]);
  const calls = new Map<string, number>();
  const requests: IncomingHttpHeaders[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const count = (tool: string) => calls.set(tool, (calls.get(tool) ?? 0) + 1);

  const http: Server = createServer((req, res) => {
    requests.push(req.headers);
    void (async () => {
      const sessionId = req.headers["mcp-session-id"];
      let transport = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
      if (!transport) {
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, transport!),
        });
        transport.onclose = () => {
          if (transport?.sessionId) sessions.delete(transport.sessionId);
        };
        await buildServer(files, count).connect(transport);
      }
      await transport.handleRequest(req, res);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const port = await listen(http, "127.0.0.1");
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    requests,
    callsOf: (tool) => calls.get(tool) ?? 0,
    reset() {
      calls.clear();
      requests.length = 0;
    },
    async close() {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      await closeServer(http);
    },
  };
}
