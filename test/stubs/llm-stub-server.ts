import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";

/**
 * The common part of the LLM provider stubs (llm-openai.ts, llm-anthropic.ts): a loopback HTTP
 * server that records every request exactly as it arrived (so tests assert which key reached the
 * provider) and writes SSE events one write per event, timestamped (so tests measure what the
 * sidecar adds per event).
 */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SentStream {
  path: string;
  /** performance.now() right after each event was written. */
  sentAt: number[];
  finished: boolean;
}

export interface LlmStub {
  readonly port: number;
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly streams: SentStream[];
  reset(): void;
  close(): Promise<void>;
}

export type StubHandler = (request: RecordedRequest, res: ServerResponse, stub: LlmStub) => void;

export async function startLlmStub(handle: StubHandler): Promise<LlmStub> {
  const requests: RecordedRequest[] = [];
  const streams: SentStream[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(parts).toString("utf8"),
      };
      requests.push(recorded);
      handle(recorded, res, stub);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const stub: LlmStub = {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    streams,
    reset() {
      requests.length = 0;
      streams.length = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Stub behaviour chosen by the test through request headers (the SDKs pass extra headers through). */
export interface StreamControl {
  /** Content events to send (default 3). */
  events: number;
  /** Milliseconds between events; 0 writes them back to back. */
  intervalMs: number;
  /** Echo the key the stub received (header, JSON field, SSE event split over two writes). */
  echoKey: boolean;
}

export function streamControl(headers: IncomingHttpHeaders): StreamControl {
  const int = (name: string, fallback: number, max: number) => {
    const value = Number.parseInt(String(headers[name] ?? ""), 10);
    return Number.isFinite(value) && value >= 0 ? Math.min(value, max) : fallback;
  };
  return {
    events: int("x-stub-events", 3, 100_000),
    intervalMs: int("x-stub-interval-ms", 0, 10_000),
    echoKey: headers["x-stub-echo-key"] === "1",
  };
}

/**
 * Writes `events` (raw SSE text, one write each) `intervalMs` apart, recording when each left.
 * `split` events are written in two halves, 5 ms apart, to cut an event across chunks.
 */
export function writeSse(
  res: ServerResponse,
  stream: SentStream,
  events: readonly string[],
  intervalMs: number,
  headers: Record<string, string> = {},
  split: ReadonlySet<number> = new Set(),
): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers });
  res.flushHeaders();
  let next = 0;
  const finish = () => {
    stream.finished = !res.destroyed;
    res.end();
  };
  const send = () => {
    if (res.destroyed) return finish();
    const event = events[next];
    if (event === undefined) return finish();
    const index = next;
    next += 1;
    if (split.has(index)) {
      const half = Math.floor(event.length / 2);
      res.write(event.slice(0, half));
      setTimeout(() => {
        res.write(event.slice(half));
        stream.sentAt.push(performance.now());
        setTimeout(send, intervalMs);
      }, 5);
      return;
    }
    res.write(event);
    stream.sentAt.push(performance.now());
    if (intervalMs === 0) setImmediate(send);
    else setTimeout(send, intervalMs);
  };
  send();
}

export function bearerOrKey(headers: IncomingHttpHeaders, header: string): string {
  const value = String(headers[header] ?? "");
  return value.startsWith("Bearer ") ? value.slice("Bearer ".length) : value;
}
