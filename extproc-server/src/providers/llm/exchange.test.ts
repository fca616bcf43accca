import { WardenError } from "../../../../lib/src/errors.js";
import type { IProcessingResponse } from "../../../../lib/src/envoy/services.js";
import type { LlmKeySource } from "../../credentials/key-source.js";
import { SecretScrubber } from "../../credentials/scrub.js";
import { BODY_BUFFERED, BODY_STREAMED } from "../../processing-responses.js";
import {
  authzMetadata,
  readImmediate,
  readMutation,
  SAMPLE_HANDOFF,
  wire,
} from "../../testing/envoy-messages.js";
import { envoyReply as reply, processorWith } from "../../testing/processor.js";
import type { BudgetGuard } from "../../budgets/budget-guard.js";
import type { BudgetReservations, ReservationCall } from "../../budgets/budget-reserver.js";
import type { ReservationHandle } from "../../../../lib/src/llm/budget-reservations.js";
import type { UsageRecord } from "../../usage/record.js";
import { LlmProvider } from "./provider.js";

const TENANT_KEY = "sk-vault-held-acme-openai-0123456789";

class StubKeys implements LlmKeySource {
  failure: WardenError | null = null;
  invalidated: string[] = [];
  async = false;
  keyFor(tenant: string, provider: string): string | Promise<string> {
    if (this.failure) throw this.failure;
    const key = provider === "openai" && tenant === "acme" ? TENANT_KEY : `sk-${tenant}-${provider}-key`;
    return this.async ? Promise.resolve(key) : key;
  }
  invalidate(tenant: string, provider: string): void {
    this.invalidated.push(`${tenant}/${provider}`);
  }
  scrubber(): SecretScrubber {
    return new SecretScrubber([TENANT_KEY]);
  }
}

function setup(
  options: { defaultTenant?: string | null; budgets?: BudgetGuard; reservations?: BudgetReservations } = {},
) {
  const keys = new StubKeys();
  const records: UsageRecord[] = [];
  let clock = 0;
  const provider = new LlmProvider({
    keys,
    usage: { record: (record) => records.push(record) },
    defaultTenant: options.defaultTenant ?? null,
    budgets: options.budgets ?? null,
    reservations: options.reservations ?? null,
    monotonicMs: () => (clock += 5),
    wallClock: () => new Date("2025-01-01T00:00:00Z"),
    // One token per word: enough to see that an estimate counts the request and what was delivered.
    tokenCounter: () => Promise.resolve({ count: (words) => words.split(/\s+/).filter(Boolean).length }),
  });
  const stream = processorWith([provider]);
  return { keys, records, stream };
}

const CHAT_HEADERS = {
  ":method": "POST",
  ":path": "/openai/v1/chat/completions",
  "content-type": "application/json",
  "content-length": "80",
  authorization: "Bearer placeholder-from-the-agent",
};

/** Estimated usage is recorded once the tokenizer has loaded (a promise). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

const text = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString("utf8");

describe("request", () => {
  test("the agent's credential is replaced by the tenant's key, and the body is asked for (BUFFERED)", async () => {
    const { stream } = setup();
    const answer = await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    const mutation = readMutation(answer.requestHeaders?.response?.headerMutation);
    expect(mutation.set.authorization).toBe(`Bearer ${TENANT_KEY}`);
    expect(mutation.set["accept-encoding"]).toBe("identity");
    expect(mutation.remove).not.toContain("authorization");
    expect(mutation.plainValues).toEqual([]);
    expect(answer.modeOverride?.requestBodyMode).toBe(BODY_BUFFERED);
  });

  test("an async key lookup gives the same result", async () => {
    const { stream, keys } = setup();
    keys.async = true;
    const answer = await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    expect(readMutation(answer.requestHeaders?.response?.headerMutation).set.authorization).toBe(
      `Bearer ${TENANT_KEY}`,
    );
  });

  test("a streaming chat body is rewritten to ask for usage, with a matching content-length", async () => {
    const { stream } = setup();
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    const body = JSON.stringify({
      model: "gpt-4o-mini",
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    const answer = await reply(stream.process(wire.requestBody(body)));
    const sent = text(answer.requestBody?.response?.bodyMutation?.body);
    expect(JSON.parse(sent)).toMatchObject({ model: "gpt-4o-mini", stream_options: { include_usage: true } });
    expect(readMutation(answer.requestBody?.response?.headerMutation).set).toEqual({
      "content-length": String(Buffer.byteLength(sent)),
    });
  });

  test("a non-streaming body goes on unchanged", async () => {
    const { stream } = setup();
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    const answer = await reply(stream.process(wire.requestBody('{"model":"gpt-4o","messages":[]}')));
    expect(answer.requestBody?.response).toBeNull();
  });

  test("the key store unavailable: JSON 503, nothing goes upstream", async () => {
    const { stream, keys, records } = setup();
    keys.failure = new WardenError(
      "unavailable",
      "the LLM key store is unavailable; no request was sent upstream",
    );
    const refusal = readImmediate(await stream.process(wire.requestHeaders(CHAT_HEADERS)));
    expect(refusal).toMatchObject({
      status: 503,
      body: { error: { code: "unavailable", decision_id: "dec-0001" } },
    });
    expect(records).toMatchObject([{ outcome: "not_forwarded", status: 503, errorCode: "unavailable" }]);
  });

  test("a decision without a tenant is refused unless the sidecar has a default tenant", async () => {
    const noTenant = authzMetadata({ ...SAMPLE_HANDOFF, tenant: null });
    const refused = setup();
    expect(
      readImmediate(await refused.stream.process(wire.requestHeaders(CHAT_HEADERS, { metadata: noTenant })))
        ?.status,
    ).toBe(403);
    const single = setup({ defaultTenant: "solo" });
    const answer = await reply(
      single.stream.process(wire.requestHeaders(CHAT_HEADERS, { metadata: noTenant })),
    );
    expect(readMutation(answer.requestHeaders?.response?.headerMutation).set.authorization).toBe(
      "Bearer sk-solo-openai-key",
    );
  });

  test("a used-up budget: 402 naming it, checked before the key is even read; recorded as not forwarded", async () => {
    const checked: unknown[] = [];
    const budgets: BudgetGuard = {
      check(spender) {
        checked.push(spender);
        throw new WardenError("budget_exceeded", "the daily budget of team support (tenant acme) is used up");
      },
    };
    const { stream, keys, records } = setup({ budgets });
    keys.failure = new WardenError("unavailable", "must not be asked");
    const metadata = authzMetadata({ ...SAMPLE_HANDOFF, policy: { team: "support" } });
    const refusal = readImmediate(await stream.process(wire.requestHeaders(CHAT_HEADERS, { metadata })));
    expect(refusal).toMatchObject({
      status: 402,
      body: {
        error: {
          code: "budget_exceeded",
          message: "the daily budget of team support (tenant acme) is used up",
          decision_id: "dec-0001",
        },
      },
    });
    expect(checked).toEqual([
      {
        tenant: "acme",
        team: "support",
        agentId: "agt-1",
        agentSpiffeId: SAMPLE_HANDOFF.agent_spiffe_id,
        userId: "user-9",
      },
    ]);
    expect(records).toMatchObject([
      { outcome: "not_forwarded", status: 402, errorCode: "budget_exceeded", team: "support" },
    ]);
  });

  test("an alias the policy resolved: the resolved model goes upstream, both are recorded", async () => {
    const { stream, records } = setup();
    const metadata = authzMetadata({ ...SAMPLE_HANDOFF, policy: { model: "gpt-4o-mini" } });
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS, { metadata })));
    const answer = await reply(
      stream.process(wire.requestBody('{"model":"fast","stream":true,"messages":[]}')),
    );
    const sent = JSON.parse(text(answer.requestBody?.response?.bodyMutation?.body)) as Record<
      string,
      unknown
    >;
    expect(sent).toEqual({
      model: "gpt-4o-mini",
      stream: true,
      messages: [],
      stream_options: { include_usage: true },
    });
    stream.end();
    await settled();
    expect(records[0]).toMatchObject({ requestedModel: "fast", model: "gpt-4o-mini" });
  });

  test("Google names the model in the path: an alias is replaced there", async () => {
    const { stream, records } = setup();
    const metadata = authzMetadata({
      ...SAMPLE_HANDOFF,
      service: "google-ai",
      policy: { model: "gemini-2.0-flash" },
    });
    const answer = await reply(
      stream.process(
        wire.requestHeaders(
          { ":method": "POST", ":path": "/google-ai/v1beta/models/fast:streamGenerateContent?alt=sse" },
          { metadata },
        ),
      ),
    );
    expect(readMutation(answer.requestHeaders?.response?.headerMutation).set[":path"]).toBe(
      "/google-ai/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    );
    stream.end();
    await settled();
    expect(records[0]).toMatchObject({ requestedModel: "fast", model: "gemini-2.0-flash", stream: true });
  });

  test("routes that are not LLM routes are not touched", async () => {
    const { stream } = setup();
    const saas = authzMetadata({ ...SAMPLE_HANDOFF, service: "github", kind: "saas" });
    const answer = await reply(stream.process(wire.requestHeaders(CHAT_HEADERS, { metadata: saas })));
    expect(readMutation(answer.requestHeaders?.response?.headerMutation).set.authorization).toBeUndefined();
    expect(answer.modeOverride).toBeNull();
  });
});

/** Reservations as the exchange sees them: what it asked to reserve and what it settled, and at what. */
class RecordedReservations implements BudgetReservations {
  readonly asked: ReservationCall[] = [];
  readonly settled: { handle: ReservationHandle; record: UsageRecord | null }[] = [];
  refusal: WardenError | null = null;
  reserve(call: ReservationCall): Promise<ReservationHandle | null> {
    this.asked.push(call);
    if (this.refusal) return Promise.reject(this.refusal);
    return Promise.resolve({ tenant: "acme", ids: ["r-1"], budgets: [], amountPico: 42n });
  }
  settle(handle: ReservationHandle, record: UsageRecord | null): void {
    this.settled.push({ handle, record });
  }
}

describe("budget reservations", () => {
  const BODY = '{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}';

  test("the worst case is reserved with the request body before it goes upstream, and settled with the usage row", async () => {
    const reservations = new RecordedReservations();
    const { stream, records } = setup({ reservations });
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    await reply(stream.process(wire.requestBody(BODY)));
    expect(reservations.asked).toMatchObject([
      {
        provider: "openai",
        models: [null, "gpt-4o-mini"],
        body: { max_tokens: 64 },
        spender: { tenant: "acme" },
      },
    ]);
    expect(reservations.settled).toEqual([]);
    await reply(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "application/json" })),
    );
    const usage = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 };
    await reply(stream.process(wire.responseBody(JSON.stringify({ model: "gpt-4o-mini", usage }), true)));
    stream.end();
    await settled();
    expect(records).toHaveLength(1);
    expect(reservations.settled).toEqual([
      { handle: expect.objectContaining({ ids: ["r-1"] }), record: records[0] },
    ]);
    expect(records[0]!.usage).toMatchObject({ inputTokens: 10, outputTokens: 3 });
  });

  test("no room: the agent's 402 from the body phase, nothing forwarded, recorded as today's refusals are", async () => {
    const reservations = new RecordedReservations();
    reservations.refusal = new WardenError(
      "budget_exceeded",
      "the daily budget of tenant acme has no room for this call",
    );
    const { stream, records } = setup({ reservations });
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    const refusal = readImmediate(await stream.process(wire.requestBody(BODY)));
    expect(refusal).toMatchObject({
      status: 402,
      body: {
        error: {
          code: "budget_exceeded",
          message: "the daily budget of tenant acme has no room for this call",
        },
      },
    });
    stream.end();
    await settled();
    expect(records).toMatchObject([{ outcome: "not_forwarded", status: 402, errorCode: "budget_exceeded" }]);
    expect(reservations.settled).toEqual([]);
  });

  test("the budget store unreachable: 503 with the reason, nothing forwarded (fail closed)", async () => {
    const reservations = new RecordedReservations();
    reservations.refusal = new WardenError(
      "unavailable",
      "the shared budget store (PostgreSQL) cannot be reached",
    );
    const { stream, records } = setup({ reservations });
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    const refusal = readImmediate(await stream.process(wire.requestBody(BODY)));
    expect(refusal).toMatchObject({ status: 503, body: { error: { code: "unavailable" } } });
    stream.end();
    await settled();
    expect(records).toMatchObject([{ outcome: "not_forwarded", status: 503 }]);
  });

  test("the upstream fails before any answer: settled at the estimate the usage row is charged", async () => {
    const reservations = new RecordedReservations();
    const { stream, records } = setup({ reservations });
    await reply(stream.process(wire.requestHeaders(CHAT_HEADERS)));
    await reply(stream.process(wire.requestBody(BODY)));
    stream.end();
    await settled();
    expect(records).toMatchObject([{ outcome: "cut", usageSource: "estimated" }]);
    expect(reservations.settled).toEqual([
      { handle: expect.objectContaining({ ids: ["r-1"] }), record: records[0] },
    ]);
  });
});

describe("response", () => {
  async function started(body = '{"model":"gpt-4o","messages":[]}') {
    const context = setup();
    await reply(context.stream.process(wire.requestHeaders(CHAT_HEADERS)));
    await reply(context.stream.process(wire.requestBody(body)));
    return context;
  }

  test("a JSON body is streamed (never buffered by Envoy), read for usage and scrubbed of the key", async () => {
    const { stream, records } = await started();
    const headers = await reply(
      stream.process(
        wire.responseHeaders({
          ":status": "200",
          "content-type": "application/json",
          "content-length": "200",
          "x-debug-auth": `Bearer ${TENANT_KEY}`,
        }),
      ),
    );
    expect(headers.modeOverride?.responseBodyMode).toBe(BODY_STREAMED);
    const headerMutation = readMutation(headers.responseHeaders?.response?.headerMutation);
    expect(headerMutation.set["x-debug-auth"]).toBe("Bearer [REDACTED]");
    // The scrubbed body may differ in length: the agent gets it chunked.
    expect(headerMutation.remove).toContain("content-length");
    const upstream = JSON.stringify({
      model: "gpt-4o-2024-08-06",
      echo: TENANT_KEY,
      usage: { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 },
    });
    const cut = upstream.indexOf(TENANT_KEY) + 5;
    const first = await reply(stream.process(wire.responseBody(upstream.slice(0, cut), false)));
    const last = await reply(stream.process(wire.responseBody(upstream.slice(cut), true)));
    const sent = [first, last]
      .map((answer) => text(answer.responseBody?.response?.bodyMutation?.body))
      .join("");
    expect(sent).not.toContain(TENANT_KEY);
    expect(JSON.parse(sent)).toMatchObject({ echo: "[REDACTED]" });
    stream.end();
    expect(records).toEqual([
      expect.objectContaining({
        decisionId: "dec-0001",
        tenant: "acme",
        agentSpiffeId: SAMPLE_HANDOFF.agent_spiffe_id,
        userId: "user-9",
        provider: "openai",
        operation: "chat",
        requestedModel: "gpt-4o",
        responseModel: "gpt-4o-2024-08-06",
        stream: false,
        status: 200,
        outcome: "completed",
        usageSource: "body",
        usage: {
          inputTokens: 10,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 3,
          reasoningTokens: 0,
        },
      }),
    ]);
  });

  test("an SSE response streams; usage is read as it passes; the record says completed", async () => {
    const { stream, records } = await started('{"model":"gpt-4o-mini","stream":true,"messages":[]}');
    const headers = await reply(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "text/event-stream" })),
    );
    expect(headers.modeOverride?.responseBodyMode).toBe(BODY_STREAMED);
    const chunks = [
      'data: {"model":"gpt-4o-mini-2024-07-18","choices":[{"delta":{"content":"Hi"}}],"usage":null}\n\n',
      'data: {"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}\n\ndata: [DONE]\n\n',
    ];
    const first = await reply(stream.process(wire.responseBody(chunks[0]!, false)));
    expect(first.responseBody?.response).toBeNull();
    // The agent did not ask for usage: the usage-only chunk Warden asked for is kept from it.
    const last = await reply(stream.process(wire.responseBody(chunks[1]!, true)));
    expect(text(last.responseBody?.response?.bodyMutation?.body)).toBe("data: [DONE]\n\n");
    stream.end();
    expect(records[0]).toMatchObject({
      stream: true,
      outcome: "completed",
      usageSource: "stream",
      responseModel: "gpt-4o-mini-2024-07-18",
      usage: { inputTokens: 7, outputTokens: 2 },
    });
  });

  test("a key split across SSE chunks never reaches the agent", async () => {
    const { stream } = await started('{"model":"gpt-4o-mini","stream":true}');
    await reply(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "text/event-stream" })),
    );
    const event = `data: {"leak":"${TENANT_KEY}"}\n\n`;
    const cut = event.indexOf(TENANT_KEY) + 10;
    const first = await reply(stream.process(wire.responseBody(event.slice(0, cut))));
    const second = await reply(stream.process(wire.responseBody(event.slice(cut))));
    const delivered = [first, second]
      .map((answer) => text(answer.responseBody?.response?.bodyMutation?.body))
      .join("");
    expect(delivered).toBe('data: {"leak":"[REDACTED]"}\n\n');
    expect(first.responseBody?.response?.headerMutation).toBeNull();
  });

  test("a stream cut before its end still records the usage it saw, as cut", async () => {
    const { stream, records } = await started('{"model":"claude","stream":true}');
    await reply(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "text/event-stream" })),
    );
    await reply(
      stream.process(
        wire.responseBody('data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}\n\n'),
      ),
    );
    stream.end();
    expect(records[0]).toMatchObject({ outcome: "cut", usage: { inputTokens: 5, outputTokens: 1 } });
  });

  test("an exchange that ends after going upstream but before any answer is cut, and charged an estimate", async () => {
    const { stream, records } = await started(
      '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"four words of prompt"}]}',
    );
    stream.end();
    await settled();
    expect(records[0]).toMatchObject({
      outcome: "cut",
      status: 0,
      usageSource: "estimated",
      // Four words, plus the chat framing of one message (3 + 3).
      usage: { inputTokens: 10, outputTokens: 0 },
    });
  });

  test("a stream the agent read to [DONE] but left before the usage chunk is complete and estimated", async () => {
    const { stream, records } = await started(
      '{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"say two words"}]}',
    );
    await reply(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "text/event-stream" })),
    );
    await reply(
      stream.process(
        wire.responseBody(
          'data: {"model":"gpt-4o","choices":[{"delta":{"content":"hello there"}}],"usage":null}\n\ndata: [DONE]\n\n',
        ),
      ),
    );
    stream.end();
    await settled();
    expect(records[0]).toMatchObject({
      outcome: "completed",
      usageSource: "estimated",
      usage: { inputTokens: 3 + 6, outputTokens: 2 },
    });
  });

  test("a compressed answer cannot be scanned: 502 JSON", async () => {
    const { stream } = await started();
    const answer = await reply(
      stream.process(
        wire.responseHeaders({
          ":status": "200",
          "content-type": "application/json",
          "content-encoding": "gzip",
        }),
      ),
    );
    expect(readImmediate(answer as IProcessingResponse)).toMatchObject({
      status: 502,
      body: { error: { code: "upstream_unavailable" } },
    });
  });

  test("a 401 from the provider drops the cached key", async () => {
    const { stream, keys } = await started();
    await reply(
      stream.process(wire.responseHeaders({ ":status": "401", "content-type": "application/json" })),
    );
    expect(keys.invalidated).toEqual(["acme/openai"]);
  });

  test("a binary response is scanned too (streamed), and not read for usage", async () => {
    const { stream } = await started();
    const answer = await reply(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "audio/mpeg" })),
    );
    expect(answer.modeOverride?.responseBodyMode).toBe(BODY_STREAMED);
    const body = await reply(stream.process(wire.responseBody(`\u0000ID3${TENANT_KEY}\u0001`, true)));
    expect(text(body.responseBody?.response?.bodyMutation?.body)).toBe("\u0000ID3[REDACTED]\u0001");
  });
});
