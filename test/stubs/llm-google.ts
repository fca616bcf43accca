import { providerStub, type ProviderCall, type StubEvent } from "./llm-stub-server.js";

const GENERATE = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

/**
 * A Google AI (Gemini API) like provider: `POST /v1beta/models/{model}:generateContent` (JSON) and
 * `:streamGenerateContent?alt=sse` (SSE, events ending in CRLF CRLF as Google sends them). Every
 * answer, and every streamed event, carries `usageMetadata` with running totals. The key goes in
 * `x-goog-api-key`. Usage: prompt = 30 + content count (or `x-stub-input-tokens`, of which
 * `x-stub-cached-tokens` are cached), candidates = content events (5 for JSON).
 */
export const startGoogleAiStub = providerStub({
  credential: (request) => String(request.headers["x-goog-api-key"] ?? ""),
  unauthorized: {
    status: 400,
    body: {
      error: {
        code: 400,
        message: "API key not valid. Please pass a valid API key.",
        status: "INVALID_ARGUMENT",
      },
    },
  },
  notFound: (path) => ({ error: { code: 404, message: `unknown path ${path}`, status: "NOT_FOUND" } }),
  route(method, path) {
    const match = GENERATE.exec(path);
    if (method !== "POST" || !match) return null;
    const model = decodeURIComponent(match[1]!);
    return (call) => generate(call, model, match[2] === "streamGenerateContent");
  },
});

function generate(call: ProviderCall, model: string, stream: boolean): void {
  const { control, body } = call;
  const contents = Array.isArray(body.contents) ? body.contents.length : 0;
  const prompt = control.inputTokens ?? 30 + contents;
  const cached = Math.min(control.cachedTokens, prompt);
  const metadata = (candidates: number) => ({
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates,
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
  });
  const reported = (candidates: number) => ({
    input: prompt - cached,
    cached,
    cacheWrite: 0,
    output: candidates,
  });
  const candidate = (text: string, finish: string | null) => ({
    content: { role: "model", parts: [{ text }] },
    ...(finish ? { finishReason: finish } : {}),
    index: 0,
  });
  const modelVersion = `${model}-001`;
  if (!stream) {
    return call.json(
      200,
      { candidates: [candidate("Hello from the stub.", "STOP")], usageMetadata: metadata(5), modelVersion },
      reported(5),
    );
  }
  const events: StubEvent[] = [];
  for (let i = 0; i < control.events; i++) {
    const last = i === control.events - 1;
    events.push({
      text: `data: ${JSON.stringify({ candidates: [candidate(`w${i} `, last ? "STOP" : null)], usageMetadata: metadata(i + 1), modelVersion })}\r\n\r\n`,
      usage: reported(i + 1),
    });
  }
  call.sse(events);
}
