import {
  bearerOrKey,
  messageCount,
  startProviderStub,
  type LlmStub,
  type ProviderCall,
  type ProviderStubOptions,
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
export type OpenAiStubOptions = ProviderStubOptions;

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

export function startOpenAiStub(options: OpenAiStubOptions): Promise<LlmStub> {
  return startProviderStub(
    {
      credential: (request) => bearerOrKey(request.headers, "authorization"),
      unauthorized: UNAUTHORIZED,
      notFound,
      route(method, path) {
        if (method === "GET" && path === "/v1/models") return listModels;
        if (method === "POST" && path === "/v1/chat/completions")
          return (call) => chatCompletion(call, String(call.body.model));
        return null;
      },
    },
    options,
  );
}

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
    events.push({ text: chunk({ content: `your key is ${key}` }, null) });
  }
  events.push({ text: chunk({}, "stop") });
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
  if (streamOptions?.include_usage === true) {
    events.push({
      text: `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usageOf(control.events) })}\n\n`,
      usage: reported(control.events),
    });
  }
  events.push({ text: "data: [DONE]\n\n" });
  call.sse(events, { headers: echo, split });
}
