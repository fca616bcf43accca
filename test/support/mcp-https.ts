import type { IncomingHttpHeaders } from "node:http";
import { request, type RequestOptions } from "node:https";
import type { X509Svid } from "../../lib/src/spiffe/svid-update.js";

/** One HTTPS request to a Warden sidecar's MCP route, as an MCP client sends it. */
export interface McpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export const TOOL_CALL = JSON.stringify({
  jsonrpc: "2.0",
  id: 7,
  method: "tools/call",
  params: { name: "echo", arguments: { path: "/reports/q3.txt" } },
});

/**
 * POST (a JSON-RPC tools/call by default) or GET, with an SVID as client certificate or none. The
 * sidecar's certificate names a SPIFFE ID, not a host: it is checked against `bundlePem` only.
 */
export function callMcp(
  port: number,
  path: string,
  bundlePem: string,
  options: { svid?: X509Svid; headers?: Record<string, string>; method?: string; body?: string } = {},
): Promise<McpAnswer> {
  const method = options.method ?? "POST";
  const tls: RequestOptions = options.svid
    ? { cert: options.svid.certChainPem, key: options.svid.keyPem }
    : {};
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method,
        ca: bundlePem,
        checkServerIdentity: () => undefined,
        headers: {
          ...(method === "POST"
            ? {
                "content-type": "application/json",
                accept: "application/json, text/event-stream",
                "mcp-protocol-version": "2025-06-18",
              }
            : {}),
          ...options.headers,
        },
        ...tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(method === "POST" ? (options.body ?? TOOL_CALL) : undefined);
  });
}
