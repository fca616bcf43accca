import { createServer, type Server } from "node:http";
import { renderMetrics } from "./metrics/registry.js";

/**
 * A tiny loopback HTTP server for operators: /healthz (process alive), /readyz (ready to decide),
 * /status (component-specific JSON), /metrics (Prometheus text: lib/src/metrics/registry.ts). Kept
 * off the gRPC port so probes and scrapes never compete with traffic.
 */
export interface StatusHandlers {
  ready: () => boolean;
  status: () => unknown;
}

export function startStatusServer(address: string, handlers: StatusHandlers): Promise<Server> {
  const [host, portText] = splitHostPort(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET")
      return send(405, { error: { code: "method_not_allowed", message: "GET only" } });
    if (path === "/healthz") return send(200, { status: "ok" });
    if (path === "/readyz")
      return handlers.ready() ? send(200, { status: "ready" }) : send(503, { status: "not ready" });
    if (path === "/status") return send(200, handlers.status());
    if (path === "/metrics") {
      renderMetrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
          res.end(body);
        },
        () => send(500, { error: { code: "metrics_failed", message: "metrics could not be collected" } }),
      );
      return;
    }
    return send(404, { error: { code: "not_found", message: `no such path ${path}` } });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portText), host, () => resolve(server));
  });
}

export function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(":");
  return [address.slice(0, i).replace(/^\[|\]$/g, ""), address.slice(i + 1)];
}
