import { request as httpsRequest, type Agent } from "node:https";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";

/**
 * A WHATWG `fetch` over node:https with a given connection pool (the mTLS pool of the current SVID),
 * so official clients that accept a `fetch` (OpenAI, Anthropic, MCP) talk mTLS without knowing it.
 * The response body streams (SSE arrives event by event); the request body is read whole first, so
 * a retry can send it again. Connection failures reject with TypeError("fetch failed", {cause}), as
 * Node's own fetch does, which the official clients know as a connection error.
 */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function httpsFetch(pool: () => Agent): FetchLike {
  return async (input, init) => {
    const request = new Request(
      input,
      init?.body instanceof ReadableStream ? { ...init, duplex: "half" } : init,
    );
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    return send(request, body, pool());
  };
}

function send(request: Request, body: Buffer | undefined, agent: Agent): Promise<Response> {
  const signal = request.signal;
  if (signal.aborted) return Promise.reject(abortError(signal));
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => (headers[name] = value));
  if (body) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(request.url, { method: request.method, headers, agent }, (res) => {
      signal.removeEventListener("abort", onAbort);
      resolve(toResponse(res, request.method, signal));
    });
    const onAbort = () => req.destroy(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(signal.aborted ? abortError(signal) : new TypeError("fetch failed", { cause: error }));
    });
    req.end(body);
  });
}

function toResponse(res: IncomingMessage, method: string, signal: AbortSignal): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
    headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const status = res.statusCode ?? 502;
  const empty = NULL_BODY_STATUSES.has(status) || method === "HEAD";
  if (empty) res.resume();
  const onAbort = () => res.destroy(abortError(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  res.on("close", () => signal.removeEventListener("abort", onAbort));
  const stream = empty
    ? null
    : (Readable.toWeb(res) as NodeReadableStream<Uint8Array> as ReadableStream<Uint8Array>);
  return new Response(stream, { status, statusText: res.statusMessage ?? "", headers });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new DOMException("This operation was aborted", "AbortError");
}
