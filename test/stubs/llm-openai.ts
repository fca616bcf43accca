import { gzipSync } from "node:zlib";
import {
  bearerOrKey,
  messageCount,
  providerStub,
  startProviderStub,
  type LlmStub,
  type ProviderCall,
  type ProviderStubOptions,
  type ReportedUsage,
  type StubEvent,
} from "./llm-stub-server.js";

/**
 * An OpenAI-like provider: `POST /v1/chat/completions` (JSON, or SSE when `stream: true`, with the
 * final usage chunk only when `stream_options.include_usage` is set, as OpenAI does), and
 * `GET /v1/models`. A request without `Authorization: Bearer <valid key>` gets OpenAI's 401.
 * Usage is deterministic: prompt tokens = 10 + message count (or `x-stub-input-tokens`), completion
 * tokens = content events.
 *
 * The same stub plays Azure OpenAI (`startAzureOpenAiStub`): the key in `api-key`, chat completions
 * at `/openai/deployments/{deployment}/chat/completions` (the model is the deployment's) or
 * `/openai/v1/chat/completions` (the model is in the body).
 */
export interface AzureOpenAiStubOptions extends ProviderStubOptions {
  /** Deployment name → the model it serves. */
  deployments: Record<string, string>;
}

const UNAUTHORIZED = {
  status: 401,
  body: {
    error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" },
  },
};
const notFound = (path: string) => ({
  error: { message: `unknown path ${path}`, type: "invalid_request_error" },
});

export const startOpenAiStub = providerStub({
  credential: (request) => bearerOrKey(request.headers, "authorization"),
  unauthorized: UNAUTHORIZED,
  notFound,
  route(method, path) {
    if (method === "GET" && path === "/v1/models") return listModels;
    if (method === "POST" && path === "/v1/chat/completions")
      return (call) => chatCompletion(call, String(call.body.model));
    if (method === "POST" && path === "/v1/embeddings") return embeddings;
    return null;
  },
});

const DEPLOYMENT_CHAT = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/;

export function startAzureOpenAiStub(options: AzureOpenAiStubOptions): Promise<LlmStub> {
  return startProviderStub(
    {
      credential: (request) => String(request.headers["api-key"] ?? ""),
      unauthorized: UNAUTHORIZED,
      notFound,
      route(method, path) {
        if (method !== "POST") return null;
        if (path === "/openai/v1/chat/completions")
          return (call) => chatCompletion(call, String(call.body.model));
        const deployment = DEPLOYMENT_CHAT.exec(path)?.[1];
        const model =
          deployment === undefined ? undefined : options.deployments[decodeURIComponent(deployment)];
        return model === undefined ? null : (call) => chatCompletion(call, model);
      },
    },
    options,
  );
}

/**
 * Embeddings of about `x-stub-bytes` bytes of JSON (default 1 KiB), written in 64 KiB pieces with a
 * content-length, usage at the end as OpenAI puts it; `x-stub-echo-key: 1` puts the key in the
 * middle of the body, split across two pieces. Prompt tokens = `x-stub-input-tokens` or 8.
 */
function embeddings(call: ProviderCall): void {
  const { control, key, request } = call;
  const size = Math.min(
    Number.parseInt(String(request.headers["x-stub-bytes"] ?? "1024"), 10) || 1024,
    256 << 20,
  );
  const promptTokens = control.inputTokens ?? 8;
  const head =
    '{"object":"list","model":"text-embedding-3-small","data":[{"object":"embedding","index":0,"embedding":[';
  const tail = `0.5]}],"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens}}}`;
  const echo = control.echoKey ? `0.25,"${key}",` : "";
  const fillerBytes = Math.max(0, size - head.length - tail.length - echo.length);
  const unit = "0.0123456789,";
  const filler = unit
    .repeat(Math.ceil(fillerBytes / unit.length))
    .slice(0, fillerBytes - (fillerBytes % unit.length));
  const middle = Math.floor(filler.length / unit.length / 2) * unit.length;
  const body = Buffer.from(head + filler.slice(0, middle) + echo + filler.slice(middle) + tail);
  request.reported = { input: promptTokens, cached: 0, cacheWrite: 0, output: 0 };
  call.res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  const piece = 64 * 1024;
  // The key straddles a piece boundary: the sidecar must catch a secret split across chunks.
  const keyAt = echo ? body.indexOf(key) + Math.floor(key.length / 2) : -1;
  let offset = 0;
  const writeMore = (): void => {
    while (offset < body.length) {
      let end = Math.min(body.length, offset + piece);
      if (keyAt > offset && keyAt < end) end = keyAt;
      const ok = call.res.write(body.subarray(offset, end));
      offset = end;
      if (!ok) return void call.res.once("drain", writeMore);
    }
    call.res.end();
  };
  writeMore();
}

function listModels(call: ProviderCall): void {
  call.json(200, { object: "list", data: [{ id: "gpt-4o-mini", object: "model", owned_by: "stub" }] });
}

function chatCompletion(call: ProviderCall, requestedModel: string): void {
  const { control, key, body } = call;
  const echo: Record<string, string> = control.echoKey ? { "x-upstream-debug": `key=${key}` } : {};
  const promptTokens = control.inputTokens ?? 10 + messageCount(body);
  const cached = Math.min(control.cachedTokens, promptTokens);
  const id = "chatcmpl-stub";
  const created = 1_700_000_000;
  const model = `${requestedModel}-2024-07-18`;
  const usageOf = (completion: number) => ({
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    ...(cached > 0 ? { prompt_tokens_details: { cached_tokens: cached } } : {}),
  });
  const reported = (completion: number) => ({
    input: promptTokens - cached,
    cached,
    cacheWrite: 0,
    output: completion,
  });
  const shape = String(call.request.headers["x-stub-shape"] ?? "");
  if (shape !== "") return shapedAnswer(call, shape, model, usageOf(5), reported(5));
  if (body.stream !== true) {
    return call.json(
      200,
      {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "Hello from the stub." },
            finish_reason: "stop",
          },
        ],
        usage: usageOf(5),
        ...(control.echoKey ? { system_fingerprint: `fp_${key}` } : {}),
      },
      reported(5),
      echo,
    );
  }
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  const events: StubEvent[] = [{ text: chunk({ role: "assistant", content: "" }, null) }];
  for (let i = 0; i < control.events; i++) events.push({ text: chunk({ content: `w${i} ` }, null) });
  const split = new Set<number>();
  if (control.echoKey) {
    split.add(events.length);
    const text = chunk({ content: `your key is ${key}` }, null);
    const at = control.splitKeyAt;
    events.push({ text, ...(at === null ? {} : { splitAt: text.indexOf(key) + Math.min(at, key.length) }) });
  }
  events.push({ text: chunk({}, "stop") });
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
  const usageDelayMs = Number.parseInt(String(call.request.headers["x-stub-usage-delay-ms"] ?? "0"), 10) || 0;
  if (streamOptions?.include_usage === true) {
    events.push({
      text: `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usageOf(control.events) })}\n\n`,
      usage: reported(control.events),
      delayMs: usageDelayMs,
    });
  }
  events.push({ text: "data: [DONE]\n\n" });
  const holdOpenMs = Number.parseInt(String(call.request.headers["x-stub-hold-open-ms"] ?? "0"), 10) || 0;
  call.sse(events, { headers: echo, split, holdOpenMs });
}

/**
 * Answers that are not the usual JSON (`x-stub-shape`), each carrying the key: `json` (JSON, also
 * for a `stream: true` request), `ndjson`, `octet`, `none` (no content type), `gzip` (a compressed
 * body although the request asked for identity), `urls` (the key in the query of Location,
 * Content-Location, Refresh and Link).
 */
function shapedAnswer(
  call: ProviderCall,
  shape: string,
  model: string,
  usage: Record<string, unknown>,
  reported: ReportedUsage,
): void {
  const { key, res, request } = call;
  const json = JSON.stringify({
    id: "chatcmpl-stub",
    object: "chat.completion",
    model,
    choices: [{ index: 0, message: { role: "assistant", content: `echo ${key}` }, finish_reason: "stop" }],
    usage,
  });
  request.reported = reported;
  const send = (headers: Record<string, string>, bytes: Buffer) => {
    res.writeHead(200, { ...headers, "content-length": String(bytes.length) });
    res.end(bytes);
  };
  switch (shape) {
    case "json":
      return send({ "content-type": "application/json" }, Buffer.from(json));
    case "ndjson":
      return send({ "content-type": "application/x-ndjson" }, Buffer.from(`${json}\n{"key":"${key}"}\n`));
    case "octet":
      return send(
        { "content-type": "application/octet-stream" },
        Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(key), Buffer.from([255])]),
      );
    case "none":
      return send({}, Buffer.from(`plain ${key}`));
    case "gzip":
      return send({ "content-type": "application/json", "content-encoding": "gzip" }, gzipSync(json));
    case "urls": {
      const url = `https://files.example.com/out?key=${key}&page=2`;
      return send(
        {
          "content-type": "application/json",
          location: url,
          "content-location": `/v1/files/1?access_token=${key}`,
          refresh: `5; url=${url}`,
          link: `<${url}>; rel="next", <https://files.example.com/out?sig=${key}>; rel="last"`,
        },
        Buffer.from(json),
      );
    }
    default:
      return send({ "content-type": "application/json" }, Buffer.from(json));
  }
}
