import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { listen, recordingStub, sendJson, type RecordingStub } from "./stub-http.js";

/**
 * The common part of the LLM provider stubs (llm-openai.ts, llm-anthropic.ts, llm-google.ts): a
 * loopback HTTP server that records every request exactly as it arrived (so tests assert which key
 * reached the provider), checks the key where the provider expects it, writes SSE events one write
 * per event, timestamped (so tests measure what the sidecar adds per event), and remembers the token
 * usage it reported to each request (so tests compute the exact expected cost, cut streams included).
 * A provider module only says where its key goes and what its answers look like.
 */

/** Token counts in Warden's normalised classes (extproc-server/src/usage/record.ts). */
export interface ReportedUsage {
  input: number;
  cached: number;
  cacheWrite: number;
  output: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The usage this request was told so far (the last value of each class); null if none. */
  reported: ReportedUsage | null;
}

export interface SentStream {
  path: string;
  /** performance.now() right after each event was written. */
  sentAt: number[];
  finished: boolean;
}

export type LlmStub = RecordingStub<RecordedRequest, SentStream>;

/** Stub behaviour chosen by the test through request headers (the SDKs pass extra headers through). */
export interface StreamControl {
  /** Content events to send (default 3). */
  events: number;
  /** Milliseconds between events; 0 writes them back to back. */
  intervalMs: number;
  /** Echo the key the stub received (header, JSON field, SSE event split over two writes). */
  echoKey: boolean;
  /** Prompt tokens to report (cache reads included, as providers count them); default per provider. */
  inputTokens: number | null;
  /** Of those, read from the provider's cache. */
  cachedTokens: number;
  /** The upstream cuts the stream (socket destroyed) after this many events; null: it ends normally. */
  cutAfter: number | null;
  /** Where the echoed key is cut between two writes: this many of its characters in the first. */
  splitKeyAt: number | null;
}

export function streamControl(headers: IncomingHttpHeaders): StreamControl {
  const int = (name: string, max: number): number | null => {
    const value = Number.parseInt(String(headers[name] ?? ""), 10);
    return Number.isFinite(value) && value >= 0 ? Math.min(value, max) : null;
  };
  return {
    events: int("x-stub-events", 100_000) ?? 3,
    intervalMs: int("x-stub-interval-ms", 10_000) ?? 0,
    echoKey: headers["x-stub-echo-key"] === "1",
    inputTokens: int("x-stub-input-tokens", 10_000_000),
    cachedTokens: int("x-stub-cached-tokens", 10_000_000) ?? 0,
    cutAfter: int("x-stub-cut-after", 100_000),
    splitKeyAt: int("x-stub-split-key-at", 1_000),
  };
}

/** One SSE event as written, and the usage it reports (merged into the request's `reported`). */
export interface StubEvent {
  text: string;
  usage?: Partial<ReportedUsage>;
  /** Wait this long before writing the event (a provider slow to send its usage chunk). */
  delayMs?: number;
  /** Where a split event is cut (default: in the middle). */
  splitAt?: number;
}

/** What a provider module gets for one authenticated request. */
export interface ProviderCall {
  readonly request: RecordedRequest;
  readonly res: ServerResponse;
  readonly stub: LlmStub;
  /** The key the request carried (already checked). */
  readonly key: string;
  /** The path without its query string. */
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly control: StreamControl;
  /** Answers with JSON, recording the usage it reports. */
  json(status: number, body: unknown, usage?: ReportedUsage, headers?: Record<string, string>): void;
  /**
   * Writes SSE events (`split` ones in two halves, 5 ms apart, to cut an event across chunks),
   * honouring `cutAfter` and stopping when the client goes away.
   */
  sse(
    events: readonly StubEvent[],
    options?: { headers?: Record<string, string>; split?: ReadonlySet<number>; holdOpenMs?: number },
  ): void;
}

export interface ProviderSpec {
  /** The key as the provider reads it from the request. */
  credential(request: RecordedRequest): string;
  /** The provider's answer to a missing or wrong key. */
  unauthorized: { status: number; body: unknown };
  /** The provider's answer to an unknown path. */
  notFound(path: string): unknown;
  /** The handler of a known operation, or null. */
  route(method: string, path: string): ((call: ProviderCall) => void) | null;
}

export interface ProviderStubOptions {
  /** The keys the stub accepts (the Vault-held ones). */
  validKeys: () => readonly string[];
  /** Sees every request as it arrives, with its response (e.g. provider-spans.ts). */
  observe?: (request: RecordedRequest, res: ServerResponse) => void;
}

export async function startProviderStub(spec: ProviderSpec, options: ProviderStubOptions): Promise<LlmStub> {
  const requests: RecordedRequest[] = [];
  const streams: SentStream[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const request: RecordedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(parts).toString("utf8"),
        reported: null,
      };
      requests.push(request);
      options.observe?.(request, res);
      const key = spec.credential(request);
      if (!options.validKeys().includes(key))
        return sendJson(res, spec.unauthorized.status, spec.unauthorized.body);
      const path = request.path.split("?")[0] ?? "";
      const handler = spec.route(request.method, path);
      if (!handler) return sendJson(res, 404, spec.notFound(path));
      handler(providerCall(request, res, stub, key, path));
    });
  });
  const port = await listen(server, "127.0.0.1");
  const stub: LlmStub = recordingStub(server, { host: "127.0.0.1", port }, { requests, streams });
  return stub;
}

/** A provider's start function: its spec fixed, the accepted keys chosen by each test. */
export function providerStub(spec: ProviderSpec): (options: ProviderStubOptions) => Promise<LlmStub> {
  return (options) => startProviderStub(spec, options);
}

function providerCall(
  request: RecordedRequest,
  res: ServerResponse,
  stub: LlmStub,
  key: string,
  path: string,
): ProviderCall {
  const report = (usage: Partial<ReportedUsage> | undefined) => {
    if (!usage) return;
    request.reported = {
      ...(request.reported ?? { input: 0, cached: 0, cacheWrite: 0, output: 0 }),
      ...usage,
    };
  };
  return {
    request,
    res,
    stub,
    key,
    path,
    body: parseBody(request.body),
    control: streamControl(request.headers),
    json(status, body, usage, headers = {}) {
      report(usage);
      sendJson(res, status, body, headers);
    },
    sse(events, options = {}) {
      const stream: SentStream = { path, sentAt: [], finished: false };
      stub.streams.push(stream);
      writeSse(
        res,
        stream,
        events,
        streamControl(request.headers),
        report,
        options.headers,
        options.split,
        options.holdOpenMs ?? 0,
      );
    },
  };
}

function parseBody(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function writeSse(
  res: ServerResponse,
  stream: SentStream,
  events: readonly StubEvent[],
  control: StreamControl,
  report: (usage: Partial<ReportedUsage> | undefined) => void,
  headers: Record<string, string> = {},
  split: ReadonlySet<number> = new Set(),
  holdOpenMs = 0,
): void {
  const { intervalMs, cutAfter } = control;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers });
  res.flushHeaders();
  let next = 0;
  const end = () => {
    stream.finished = !res.destroyed;
    res.end();
  };
  // A provider that keeps the connection open a while after its last event.
  const finish = () => (holdOpenMs > 0 && !res.destroyed ? void setTimeout(end, holdOpenMs).unref() : end());
  const later = (then: () => void) => (intervalMs === 0 ? setImmediate(then) : setTimeout(then, intervalMs));
  const send = () => {
    if (res.destroyed) return finish();
    if (cutAfter !== null && next >= cutAfter) {
      // The provider goes away mid-stream: no terminating chunk, the connection is dropped.
      res.socket?.destroy();
      return;
    }
    const event = events[next];
    if (event === undefined) return finish();
    if (event.delayMs) {
      const delayed = { ...event, delayMs: 0 };
      const rest = events.slice();
      rest[next] = delayed;
      events = rest;
      setTimeout(send, event.delayMs).unref();
      return;
    }
    const index = next;
    next += 1;
    if (split.has(index)) {
      const half = event.splitAt ?? Math.floor(event.text.length / 2);
      res.write(event.text.slice(0, half));
      setTimeout(() => {
        res.write(event.text.slice(half));
        report(event.usage);
        stream.sentAt.push(performance.now());
        later(send);
      }, 5);
      return;
    }
    res.write(event.text);
    report(event.usage);
    stream.sentAt.push(performance.now());
    later(send);
  };
  send();
}

export function bearerOrKey(headers: IncomingHttpHeaders, header: string): string {
  const value = String(headers[header] ?? "");
  return value.startsWith("Bearer ") ? value.slice("Bearer ".length) : value;
}

export function messageCount(body: Record<string, unknown>, field = "messages"): number {
  const list = body[field];
  return Array.isArray(list) ? list.length : 0;
}
