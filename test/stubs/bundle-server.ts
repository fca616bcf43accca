import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { closeServer, listen, readRequestBody } from "./stub-http.js";

/**
 * A stand-in for the object storage (S3, GCS, nginx with WebDAV) that serves policy bundles, on
 * loopback, plain HTTP. It behaves as those do for OPA's bundle service protocol:
 *
 *   GET /<key>   200 with the object and a strong ETag (a digest of its bytes); 304 when the request's
 *                If-None-Match names the current ETag; 404 when there is no such object
 *   HEAD /<key>  the same without the body
 *   PUT /<key>   stores the body (an upload replaces the object in one step, as object storage does);
 *                needs `Authorization: Bearer <uploadToken>` when an upload token is set
 *
 * Reads need `readToken` when one is set. `etags: false` stands in for a plain web server that sends
 * no ETag (so every poll downloads the object). Every request is recorded, so tests see the polling.
 */
export interface BundleServerRequest {
  method: string;
  path: string;
  status: number;
  ifNoneMatch: string | null;
  at: number;
}

export interface BundleServer {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: BundleServerRequest[];
  /** The ETag the object at `key` is served with, or null. */
  etag(key: string): string | null;
  close(): Promise<void>;
}

export interface BundleServerOptions {
  uploadToken?: string;
  readToken?: string;
  maxObjectBytes?: number;
  /** Send ETags and honour If-None-Match (default true). */
  etags?: boolean;
}

interface StoredObject {
  bytes: Buffer;
  etag: string;
  contentType: string;
}

function bearerMatches(req: IncomingMessage, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

function ifNoneMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim().replace(/^W\//, "");
    return trimmed === "*" || trimmed === etag;
  });
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  extra: Record<string, string> = {},
): number {
  res.writeHead(status, { "content-type": "application/json", ...extra });
  res.end(JSON.stringify({ error: { code } }));
  return status;
}

export async function startBundleServer(options: BundleServerOptions = {}): Promise<BundleServer> {
  const objects = new Map<string, StoredObject>();
  const requests: BundleServerRequest[] = [];
  const maxBytes = options.maxObjectBytes ?? 16 * 1024 * 1024;
  const etags = options.etags ?? true;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const key = new URL(req.url ?? "/", "http://stub").pathname;
    switch (req.method) {
      case "GET":
      case "HEAD": {
        if (options.readToken && !bearerMatches(req, options.readToken)) {
          return sendError(res, 401, "unauthorized", { "www-authenticate": "Bearer" });
        }
        const object = objects.get(key);
        if (!object) return sendError(res, 404, "no_such_key");
        if (etags && ifNoneMatches(req.headers["if-none-match"], object.etag)) {
          res.writeHead(304, { etag: object.etag });
          res.end();
          return 304;
        }
        res.writeHead(200, {
          ...(etags ? { etag: object.etag } : {}),
          "content-type": object.contentType,
          "content-length": object.bytes.length,
        });
        res.end(req.method === "GET" ? object.bytes : undefined);
        return 200;
      }
      case "PUT": {
        if (options.uploadToken && !req.headers.authorization) {
          return sendError(res, 401, "unauthorized", { "www-authenticate": "Bearer" });
        }
        if (options.uploadToken && !bearerMatches(req, options.uploadToken))
          return sendError(res, 403, "forbidden");
        const body = await readRequestBody(req, maxBytes);
        if (body === null) return sendError(res, 413, "entity_too_large");
        const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"`;
        objects.set(key, {
          bytes: body,
          etag,
          contentType: req.headers["content-type"] ?? "application/octet-stream",
        });
        res.writeHead(200, { etag });
        res.end();
        return 200;
      }
      default:
        return sendError(res, 405, "method_not_allowed", { allow: "GET, HEAD, PUT" });
    }
  }

  const server = createServer((req, res) => {
    const record: BundleServerRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      status: 0,
      ifNoneMatch: req.headers["if-none-match"] ?? null,
      at: Date.now(),
    };
    requests.push(record);
    handle(req, res).then(
      (status) => {
        record.status = status;
      },
      () => {
        record.status = 500;
        if (!res.headersSent) sendError(res, 500, "internal");
        else res.destroy();
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, "127.0.0.1");

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    etag: (key) => objects.get(key.startsWith("/") ? key : `/${key}`)?.etag ?? null,
    close: () => closeServer(server),
  };
}
