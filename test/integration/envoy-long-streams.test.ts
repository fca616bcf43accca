import { SseDecoder } from "../../extproc-server/src/sse/decoder.js";
import { sleep, waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import type { Stack } from "../harness/stack.js";
import { startOpenAiSidecar, type OpenAiSidecar } from "./openai-sidecar-fixture.js";

/**
 * Envoy 1.40 with `ext_proc_graceful_grpc_close` (which the sidecar needs,
 * see lib/src/envoy/bootstrap.ts) segfaults when the ext_proc server closes a stream that has lived
 * about 50 s or more, whether the exchange ended normally, was stalled until the idle timeout, or was
 * left by the client (docs/response-path.md has the minimal reproduction). extproc-server no longer
 * closes such streams. This proves it with the shipped bootstrap: a 70 s stream that ends normally and
 * a stream stalled until the idle timeout (60 s here, to keep the test short) leave Envoy running.
 * Both run at once, so the file takes about 75 s.
 */
const PLACEHOLDER = "sk-placeholder-the-agent-holds-nothing";
const OPENAI_KEY = "sk-vault-acme-openai-long-streams-0f1e2d";
const IDLE_S = 60;

let sidecar: OpenAiSidecar | undefined;
let stack: Stack;

beforeAll(async () => {
  sidecar = await startOpenAiSidecar("envoy-long-streams", OPENAI_KEY, {
    sidecar: { timeouts: { streamIdleS: IDLE_S } },
  });
  ({ stack } = sidecar);
}, 180_000);

afterAll(() => sidecar?.close(), TEARDOWN_TIMEOUT_MS);

/** A streaming chat call read to its end; the events' data and how it ended. */
async function stream(headers: Record<string, string>): Promise<{ data: string[]; error: string | null }> {
  const response = await fetch(`${stack.agentUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${PLACEHOLDER}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }),
  });
  const decoder = new SseDecoder();
  const data: string[] = [];
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { data, error: null };
      decoder.push(value, (event) => data.push(event.data));
    }
  } catch (error) {
    return { data, error: String(error) };
  }
}

test("a 70 s stream that ends normally and one stalled until the idle timeout leave Envoy running", async () => {
  const [long, stalled] = await Promise.all([
    // Eight writes 10 s apart (role, four words, finish, usage, [DONE]): about 70 s.
    stream({ "x-stub-events": "4", "x-stub-interval-ms": "10000" }),
    // Content, then the provider goes silent before its usage chunk: Envoy's idle timeout ends it.
    stream({ "x-stub-events": "2", "x-stub-usage-delay-ms": "600000" }),
  ]);
  expect(long.error).toBeNull();
  expect(long.data.at(-1)).toBe("[DONE]");
  expect(stalled.data.at(-1)).not.toBe("[DONE]");
  // The crash came right after the processor closed the old stream; give it the time it took.
  await sleep(2_000);
  expect(stack.envoy.process.running).toBe(true);
  expect((await fetch(`${stack.envoy.adminUrl}/ready`)).status).toBe(200);
  // ...and the sidecar still serves.
  const after = await stream({ "x-stub-events": "1" });
  expect(after.data.at(-1)).toBe("[DONE]");
  await waitFor(
    "the stalled stream's usage record (cut, estimated)",
    () =>
      stack.extproc
        .process()
        .log()
        .split("\n")
        .some((line) => line.includes('"llm usage"') && line.includes('"usageSource":"estimated"')),
    10_000,
  );
}, 150_000);
