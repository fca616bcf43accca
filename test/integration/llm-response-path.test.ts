import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { Stack } from "../harness/stack.js";
import type { LlmStub } from "../stubs/llm-stub-server.js";
import { readSseEvents, sseData } from "../support/sse-reader.js";
import { loggedUsageOf, type LoggedUsage } from "../support/usage-log.js";
import { startOpenAiSidecar, type OpenAiSidecar } from "./openai-sidecar-fixture.js";

/**
 * The response path through real Envoy (the shipped bootstrap, its 300 s stream idle
 * timeout), the real extproc-server with its key from a real OpenBao, and a stub provider: large
 * answers are delivered scrubbed within seconds and Envoy survives; no answer shape carries the
 * key to the agent; URLs in headers lose their credentials; the agent gets exactly the stream it
 * asked for; usage that the provider did not report is estimated and charged.
 */
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";
const OPENAI_KEY = "sk-vault-acme-openai-5d1e0c9b8a7f6e5d";
const MiB = 1024 * 1024;

let sidecar: OpenAiSidecar | undefined;
let stub: LlmStub;
let stack: Stack;

function usageFor(decisionId: string | null): Promise<LoggedUsage> {
  return loggedUsageOf(stack, decisionId, 10_000);
}

function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${stack.agentUrl}/openai/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${PLACEHOLDER}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user", content: "say something short" }] };

async function envoyAlive(): Promise<void> {
  expect(stack.envoy.process.running).toBe(true);
  const ready = await fetch(`${stack.envoy.adminUrl}/ready`);
  expect(ready.status).toBe(200);
}

beforeAll(async () => {
  sidecar = await startOpenAiSidecar("llm-response-path", OPENAI_KEY);
  ({ stub, stack } = sidecar);
}, 180_000);

afterAll(() => sidecar?.close(), TEARDOWN_TIMEOUT_MS);

describe("large JSON answers (finding 1)", () => {
  test.each([1, 10, 100])(
    "a %i MiB embeddings answer is delivered whole and scrubbed within seconds; Envoy stays up",
    async (mib) => {
      const started = performance.now();
      const response = await post(
        "/embeddings",
        { model: "text-embedding-3-small", input: ["a", "b"] },
        { "x-stub-bytes": String(mib * MiB), "x-stub-echo-key": "1", "x-stub-input-tokens": "4242" },
      );
      expect(response.status).toBe(200);
      const body = Buffer.from(await response.arrayBuffer());
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(`embeddings ${mib} MiB through the sidecar: ${seconds.toFixed(2)} s\n`);
      expect(seconds).toBeLessThan(mib === 100 ? 60 : 15);
      expect(body.includes(OPENAI_KEY)).toBe(false);
      expect(body.includes("[REDACTED]")).toBe(true);
      // Valid JSON, whole: the end (with the usage) arrived.
      const parsed = JSON.parse(body.toString("utf8")) as { usage: { prompt_tokens: number } };
      expect(parsed.usage.prompt_tokens).toBe(4242);
      expect(await usageFor(response.headers.get("x-warden-decision-id"))).toMatchObject({
        outcome: "completed",
        usageSource: "body",
        usage: { inputTokens: 4242, outputTokens: 0 },
      });
      await envoyAlive();
    },
    120_000,
  );
});

describe("no answer shape carries the key (finding 2)", () => {
  test.each([
    ["JSON answering a stream: true request", "json", true],
    ["application/x-ndjson", "ndjson", false],
    ["application/octet-stream", "octet", false],
    ["no content type", "none", false],
  ])("%s", async (_name, shape, stream) => {
    const response = await post("/chat/completions", { ...CHAT, stream }, { "x-stub-shape": shape });
    expect(response.status).toBe(200);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.includes(OPENAI_KEY)).toBe(false);
    expect(body.includes("[REDACTED]")).toBe(true);
    await envoyAlive();
  });

  test("a compressed answer (although identity was asked for) is refused: 502 JSON", async () => {
    const response = await post("/chat/completions", CHAT, { "x-stub-shape": "gzip" });
    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { code: string; decision_id: string } };
    expect(body.error).toMatchObject({ code: "upstream_unavailable", decision_id: expect.any(String) });
    expect(stub.requests.at(-1)?.headers["accept-encoding"]).toBe("identity");
  });
});

test("credentials in URL-valued response headers are redacted (finding 3)", async () => {
  const response = await post("/chat/completions", CHAT, { "x-stub-shape": "urls" });
  await response.arrayBuffer();
  const seen = ["location", "content-location", "refresh", "link"].map((name) => response.headers.get(name));
  for (const value of seen) {
    expect(value).toEqual(expect.any(String));
    expect(value).not.toContain(OPENAI_KEY);
  }
  expect(response.headers.get("location")).toBe("https://files.example.com/out?key=REDACTED&page=2");
  expect(response.headers.get("content-location")).toBe("/v1/files/1?access_token=REDACTED");
});

/** A raw SSE read: every event's data, as the agent's client would dispatch them. */
describe("the agent gets exactly the stream it asked for (finding 4)", () => {
  test.each([
    ["without stream_options", {}],
    ["with include_usage: false", { stream_options: { include_usage: false } }],
  ])("%s: no usage-only chunk, every chunk has a choice; usage still recorded", async (_name, extra) => {
    const response = await post("/chat/completions", { ...CHAT, stream: true, ...extra });
    const data = await sseData(response);
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((text) => JSON.parse(text) as { choices: unknown[] });
    for (const chunk of chunks) expect(chunk.choices.length).toBeGreaterThan(0);
    // Warden asked the provider for usage all the same.
    expect(JSON.parse(stub.requests.at(-1)!.body)).toMatchObject({ stream_options: { include_usage: true } });
    expect(await usageFor(response.headers.get("x-warden-decision-id"))).toMatchObject({
      outcome: "completed",
      usageSource: "stream",
      usage: { outputTokens: 3 },
    });
  });

  test("an agent that asked for usage gets the usage chunk", async () => {
    const response = await post("/chat/completions", {
      ...CHAT,
      stream: true,
      stream_options: { include_usage: true },
    });
    const data = await sseData(response);
    const last = JSON.parse(data.at(-2)!) as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(3);
  });
});

describe("usage that cannot be dodged (finding 5)", () => {
  test("an agent that reads the text and leaves before the usage chunk is charged an estimate", async () => {
    const controller = new AbortController();
    const response = await post(
      "/chat/completions",
      { ...CHAT, stream: true, stream_options: { include_usage: true } },
      { "x-stub-events": "5", "x-stub-usage-delay-ms": "3000" },
      controller.signal,
    );
    const decisionId = response.headers.get("x-warden-decision-id");
    await readSseEvents(response, (event) => event.data.includes('"finish_reason":"stop"'));
    controller.abort();
    const record = await usageFor(decisionId);
    expect(record).toMatchObject({ outcome: "cut", usageSource: "estimated" });
    expect(record.usage.inputTokens).toBeGreaterThan(0);
    // "w0 w1 w2 w3 w4 " is eleven o200k tokens; the request ones are counted too.
    expect(record.usage.outputTokens).toBeGreaterThanOrEqual(5);
  });

  test("a client that closes right after [DONE] (the sync Python client) counts as completed", async () => {
    const controller = new AbortController();
    const response = await post(
      "/chat/completions",
      { ...CHAT, stream: true },
      { "x-stub-hold-open-ms": "3000" },
      controller.signal,
    );
    const decisionId = response.headers.get("x-warden-decision-id");
    await readSseEvents(response, (event) => event.data === "[DONE]");
    controller.abort();
    expect(await usageFor(decisionId)).toMatchObject({ outcome: "completed", usageSource: "stream" });
  });
});

test("Envoy is alive after everything", async () => {
  await envoyAlive();
});
