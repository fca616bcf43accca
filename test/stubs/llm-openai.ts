import type { ServerResponse } from "node:http";
import {
  bearerOrKey,
  sendJson,
  startLlmStub,
  streamControl,
  writeSse,
  type LlmStub,
  type RecordedRequest,
  type SentStream,
} from "./llm-stub-server.js";

/**
 * An OpenAI-like provider: `POST /v1/chat/completions` (JSON, or SSE when `stream: true`, with the
 * final usage chunk only when `stream_options.include_usage` is set, as OpenAI does), and
 * `GET /v1/models`. A request without `Authorization: Bearer <valid key>` gets OpenAI's 401.
 * Usage is deterministic: prompt tokens = 10 + message count, completion tokens = content events.
 */
export interface OpenAiStubOptions {
  /** The keys the stub accepts (the Vault-held ones). */
  validKeys: () => readonly string[];
}

export function startOpenAiStub(options: OpenAiStubOptions): Promise<LlmStub> {
  return startLlmStub((request, res, stub) => handle(request, res, stub, options));
}

function handle(
  request: RecordedRequest,
  res: ServerResponse,
  stub: LlmStub,
  options: OpenAiStubOptions,
): void {
  const key = bearerOrKey(request.headers, "authorization");
  if (!options.validKeys().includes(key)) {
    return sendJson(res, 401, {
      error: {
        message: "Incorrect API key provided.",
        type: "invalid_request_error",
        code: "invalid_api_key",
      },
    });
  }
  const path = request.path.split("?")[0];
  if (request.method === "GET" && path === "/v1/models") {
    return sendJson(res, 200, {
      object: "list",
      data: [{ id: "gpt-4o-mini", object: "model", owned_by: "stub" }],
    });
  }
  if (request.method !== "POST" || path !== "/v1/chat/completions") {
    return sendJson(res, 404, { error: { message: `unknown path ${path}`, type: "invalid_request_error" } });
  }
  const body = JSON.parse(request.body) as {
    model: string;
    stream?: boolean;
    messages?: unknown[];
    stream_options?: { include_usage?: boolean };
  };
  const control = streamControl(request.headers);
  const echo: Record<string, string> = control.echoKey ? { "x-upstream-debug": `key=${key}` } : {};
  const promptTokens = 10 + (body.messages?.length ?? 0);
  const id = "chatcmpl-stub";
  const created = 1_700_000_000;
  if (body.stream !== true) {
    return sendJson(
      res,
      200,
      {
        id,
        object: "chat.completion",
        created,
        model: `${body.model}-2024-07-18`,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "Hello from the stub." },
            finish_reason: "stop",
          },
        ],
        usage: { prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 },
        ...(control.echoKey ? { system_fingerprint: `fp_${key}` } : {}),
      },
      echo,
    );
  }
  const model = `${body.model}-2024-07-18`;
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null,
    extra: Record<string, unknown> = {},
  ) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  const events = [chunk({ role: "assistant", content: "" }, null)];
  for (let i = 0; i < control.events; i++) events.push(chunk({ content: `w${i} ` }, null));
  const split = new Set<number>();
  if (control.echoKey) {
    split.add(events.length);
    events.push(chunk({ content: `your key is ${key}` }, null));
  }
  events.push(chunk({}, "stop"));
  if (body.stream_options?.include_usage === true) {
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: control.events,
      total_tokens: promptTokens + control.events,
    };
    events.push(
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage })}\n\n`,
    );
  }
  events.push("data: [DONE]\n\n");
  const stream: SentStream = { path, sentAt: [], finished: false };
  stub.streams.push(stream);
  writeSse(res, stream, events, control.intervalMs, echo, split);
}
