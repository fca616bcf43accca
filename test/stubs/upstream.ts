import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { listen, readRequestBody, recordingStub, sendJson, type RecordingStub } from "./stub-http.js";

/**
 * A stand-in for a third-party provider (OpenAI-like), on loopback, plain HTTP. It records every
 * request it sees, so tests assert what actually reached the upstream, and the moment each SSE event
 * was written, so tests can prove nothing in between buffers a stream.
 *
 *   POST /v1/chat/completions   JSON completion; SSE chunks when the body says "stream": true
 *   GET  /v1/models             a model list
 *   GET  /v1/sse?events=5&interval=300   numbered SSE events, `interval` ms apart
 *   anything else               404 JSON
 *
 * Every response carries `set-cookie`, so tests can check the sidecar strips it.
 */
export interface SeenRequest {
  method: string;
  /** Path and query exactly as received. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SseStream {
  path: string;
  /** performance.now() at the moment each event was written to the socket. */
  sentAt: number[];
  finished: boolean;
}

export type StubUpstream = RecordingStub<SeenRequest, SseStream>;

export const STUB_SET_COOKIE = "stub_session=upstream-session-secret; Path=/; HttpOnly";
const MAX_BODY_BYTES = 1024 * 1024;

export async function startStubUpstream(
  options: { host?: string; port?: number } = {},
): Promise<StubUpstream> {
  const requests: SeenRequest[] = [];
  const streams: SseStream[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    const tooLarge = () => sendJsonWithCookie(res, 413, openAiError("request body too large"));
    void readRequestBody(req, MAX_BODY_BYTES).then((bytes) => {
      if (bytes === null) return tooLarge();
      const body = bytes.toString("utf8");
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      route(req, res, body, streams, timers);
    }, tooLarge);
  });
  const host = options.host ?? "127.0.0.1";
  const port = await listen(server, host, options.port);
  return recordingStub(server, { host, port }, { requests, streams }, () => {
    for (const timer of timers) clearInterval(timer);
  });
}

function route(
  req: IncomingMessage,
  res: ServerResponse,
  body: string,
  streams: SseStream[],
  timers: Set<NodeJS.Timeout>,
): void {
  const url = new URL(req.url ?? "/", "http://stub");
  if (req.method === "POST" && url.pathname === "/v1/chat/completions")
    return chatCompletion(body, res, streams, timers);
  if (req.method === "GET" && url.pathname === "/v1/models") {
    return sendJsonWithCookie(res, 200, {
      object: "list",
      data: [{ id: "gpt-4o-mini", object: "model", owned_by: "stub" }],
    });
  }
  if (req.method === "GET" && url.pathname === "/v1/sse") {
    const events = boundedInt(url.searchParams.get("events"), 5, 1, 100);
    const interval = boundedInt(url.searchParams.get("interval"), 300, 0, 10_000);
    const payloads = Array.from({ length: events }, (_, i) => ({ event: i + 1, of: events }));
    return streamEvents(req.url ?? "", res, payloads, interval, streams, timers);
  }
  sendJsonWithCookie(res, 404, openAiError(`unknown path ${url.pathname}`));
}

function chatCompletion(
  body: string,
  res: ServerResponse,
  streams: SseStream[],
  timers: Set<NodeJS.Timeout>,
): void {
  let request: { model?: unknown; stream?: unknown };
  try {
    request = JSON.parse(body) as typeof request;
  } catch {
    return sendJsonWithCookie(res, 400, openAiError("We could not parse the JSON body of your request."));
  }
  const model = typeof request.model === "string" ? request.model : "gpt-4o-mini";
  const id = "chatcmpl-stub";
  if (request.stream === true) {
    const words = ["Hello", " from", " the", " stub", "."];
    const chunks: unknown[] = words.map((content) => ({
      id,
      object: "chat.completion.chunk",
      model,
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    }));
    return streamEvents("/v1/chat/completions", res, chunks, 20, streams, timers, true);
  }
  sendJsonWithCookie(res, 200, {
    id,
    object: "chat.completion",
    model,
    choices: [
      { index: 0, message: { role: "assistant", content: "Hello from the stub." }, finish_reason: "stop" },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
  });
}

function streamEvents(
  path: string,
  res: ServerResponse,
  payloads: unknown[],
  intervalMs: number,
  streams: SseStream[],
  timers: Set<NodeJS.Timeout>,
  openAiDone = false,
): void {
  const stream: SseStream = { path, sentAt: [], finished: false };
  streams.push(stream);
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "set-cookie": STUB_SET_COOKIE,
  });
  res.flushHeaders();
  let next = 0;
  const send = () => {
    const payload = payloads[next];
    if (payload === undefined || res.destroyed) {
      clearInterval(timer);
      timers.delete(timer);
      if (openAiDone && !res.destroyed) res.write("data: [DONE]\n\n");
      stream.finished = !res.destroyed;
      res.end();
      return;
    }
    next += 1;
    res.write(`id: ${next}\ndata: ${JSON.stringify(payload)}\n\n`);
    stream.sentAt.push(performance.now());
  };
  const timer = setInterval(send, intervalMs);
  timers.add(timer);
  send();
}

function sendJsonWithCookie(res: ServerResponse, status: number, body: unknown): void {
  sendJson(res, status, body, { "set-cookie": STUB_SET_COOKIE });
}

function openAiError(message: string): unknown {
  return { error: { message, type: "invalid_request_error", param: null, code: null } };
}

function boundedInt(text: string | null, fallback: number, min: number, max: number): number {
  const value = text === null ? fallback : Number.parseInt(text, 10);
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
}
