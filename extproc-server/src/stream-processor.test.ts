import type { IProcessingResponse } from "../../lib/src/envoy/services.js";
import { WardenError } from "../../lib/src/errors.js";
import { UndecodableMessage, decodeProcessingRequest } from "./incoming.js";
import { BODY_BUFFERED, BODY_STREAMED, CONTINUE } from "./processing-responses.js";
import type { ExchangeHooks, Provider } from "./providers.js";
import { ProtocolViolation, type Reply } from "./stream-processor.js";
import {
  asEnvoyReads,
  authzMetadata,
  readImmediate,
  readMutation,
  SAMPLE_HANDOFF,
  wire,
} from "./testing/envoy-messages.js";
import { processorWith } from "./testing/processor.js";

const processor = (providers: Provider[] = []) => processorWith(providers, "dec-generated");

/** The processor's answer when no provider is async: a plain value, no promise. */
function now(reply: Reply | Promise<Reply>): IProcessingResponse {
  if (reply instanceof Promise) throw new Error("expected a synchronous reply");
  if (!reply) throw new Error("expected a reply");
  if (reply instanceof ProtocolViolation) throw new Error(`protocol violation: ${reply.detail}`);
  return reply;
}

const AGENT_REQUEST = {
  ":method": "POST",
  ":path": "/openai/v1/chat/completions",
  "content-type": "application/json",
  authorization: "Bearer sk-agent-key",
  cookie: "session=abc",
  "x-warden-agent": "spiffe://warden.local/agent/forged",
};

const provider = (name: string, hooks: ExchangeHooks | null): Provider => ({ name, attach: () => hooks });

describe("request headers", () => {
  test("credentials are stripped and the ext_authz decision stamped on, synchronously", () => {
    const reply = asEnvoyReads(now(processor().process(wire.requestHeaders(AGENT_REQUEST))));
    const mutation = readMutation(reply.requestHeaders?.response?.headerMutation);
    expect(mutation.remove.sort()).toEqual(["authorization", "cookie"]);
    expect(mutation.set).toEqual({
      "x-warden-decision-id": "dec-0001",
      "x-warden-agent": "spiffe://warden.local/agent/researcher",
    });
    expect(mutation.plainValues).toEqual([]);
    expect(reply.modeOverride).toBeNull();
  });

  test("without the ext_authz decision the request is refused with a JSON 403 (fail closed)", () => {
    const stream = processor();
    const refusal = readImmediate(
      now(stream.process(wire.requestHeaders(AGENT_REQUEST, { metadata: null }))),
    );
    expect(refusal).toEqual({
      status: 403,
      headers: { "content-type": "application/json", "x-warden-decision-id": "dec-generated" },
      body: { error: { code: "forbidden", message: expect.any(String), decision_id: "dec-generated" } },
      details: "warden_forbidden",
    });
    // The exchange is over: Envoy gets nothing more on this stream.
    expect(stream.process(wire.responseHeaders({ ":status": "200" }))).toBeNull();
  });

  test("a malformed decision refuses the request with a 500 carrying the decision's id", () => {
    const reply = now(
      processor().process(
        wire.requestHeaders(AGENT_REQUEST, {
          metadata: authzMetadata({ ...SAMPLE_HANDOFF, agent_spiffe_id: "admin" }),
        }),
      ),
    );
    expect(readImmediate(reply)).toMatchObject({
      status: 500,
      body: { error: { code: "internal", decision_id: "dec-0001" } },
    });
  });

  test("a request body before any request headers ends the stream as a protocol violation", () => {
    expect(processor().process(wire.requestBody("{}"))).toBeInstanceOf(ProtocolViolation);
  });
});

describe("responses", () => {
  test("an SSE response switches the body to STREAMED and loses its cookies", () => {
    const stream = processor();
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    const reply = asEnvoyReads(
      now(
        stream.process(
          wire.responseHeaders({
            ":status": "200",
            "content-type": "text/event-stream",
            "set-cookie": "tracking=1",
          }),
        ),
      ),
    );
    expect(reply.modeOverride?.responseBodyMode).toBe(BODY_STREAMED);
    expect(readMutation(reply.responseHeaders?.response?.headerMutation).remove).toEqual(["set-cookie"]);
  });

  test("an SSE response sent with a content-length loses it: its events may be rewritten", () => {
    const stream = processor();
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    const reply = asEnvoyReads(
      now(
        stream.process(
          wire.responseHeaders({
            ":status": "200",
            "content-type": "text/event-stream",
            "content-length": "512",
          }),
        ),
      ),
    );
    expect(reply.modeOverride?.responseBodyMode).toBe(BODY_STREAMED);
    expect(readMutation(reply.responseHeaders?.response?.headerMutation).remove).toContain("content-length");
  });

  test("a plain JSON response pays no body phase: no mode override, nothing to change", () => {
    const stream = processor();
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    const reply = now(
      stream.process(wire.responseHeaders({ ":status": "200", "content-type": "application/json" })),
    );
    expect(reply).toBe(CONTINUE.responseHeaders);
    expect(asEnvoyReads(reply).modeOverride).toBeNull();
  });

  test("an SSE response without a body (end of stream on headers) asks for no body phase", () => {
    const reply = now(
      processor().process(wire.responseHeaders({ "content-type": "text/event-stream" }, true)),
    );
    expect(reply.modeOverride).toBeUndefined();
  });

  test("every streamed chunk is passed on at once, unchanged, with no allocation", () => {
    const stream = processor();
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    stream.process(wire.responseHeaders({ "content-type": "text/event-stream" }));
    for (const chunk of ['data: {"delta":"Hel"}\n\n', 'data: {"delta":"lo"}\n\n', "data: [DONE]\n\n"]) {
      const reply = now(stream.process(wire.responseBody(chunk)));
      expect(reply).toBe(CONTINUE.responseBody);
      expect(asEnvoyReads(reply).responseBody?.response).toBeNull();
    }
  });

  test("response headers are processed even when the stream never saw the request (a local reply)", () => {
    const reply = now(processor().process(wire.responseHeaders({ ":status": "403", "set-cookie": "a=1" })));
    expect(readMutation(reply.responseHeaders?.response?.headerMutation).remove).toEqual(["set-cookie"]);
  });
});

describe("messages that are not what Envoy sends", () => {
  test("a frame that does not decode is answered with a JSON 500, not a crash", () => {
    const message = decodeProcessingRequest(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(message).toBeInstanceOf(UndecodableMessage);
    expect(readImmediate(now(processor().process(message)))).toMatchObject({
      status: 500,
      body: { error: { code: "internal" } },
    });
  });

  test("a message without a phase is answered with a JSON 500", () => {
    expect(readImmediate(now(processor().process(decodeProcessingRequest(Buffer.alloc(0)))))?.status).toBe(
      500,
    );
  });
});

describe("providers", () => {
  test("a provider's key replaces the agent's, in the same synchronous answer", () => {
    const stream = processor([
      provider("openai", {
        onRequestHeaders: (_headers, edits) => void edits.set("authorization", "Bearer vault-key"),
      }),
    ]);
    const reply = now(stream.process(wire.requestHeaders(AGENT_REQUEST)));
    const mutation = readMutation(reply.requestHeaders?.response?.headerMutation);
    expect(mutation.set.authorization).toBe("Bearer vault-key");
    expect(mutation.remove).toEqual(["cookie"]);
  });

  test("providers see the decision and the agent's headers, and may decline an exchange", () => {
    const seen: string[] = [];
    const stream = processor([
      {
        name: "llm-only",
        attach: ({ handOff, requestHeaders }) => {
          seen.push(`${handOff.service}:${handOff.kind}:${requestHeaders.get(":path")}`);
          return handOff.kind === "saas" ? {} : null;
        },
      },
    ]);
    const reply = now(stream.process(wire.requestHeaders(AGENT_REQUEST)));
    expect(seen).toEqual(["openai:llm:/openai/v1/chat/completions"]);
    expect(readMutation(reply.requestHeaders?.response?.headerMutation).set["x-warden-decision-id"]).toBe(
      "dec-0001",
    );
  });

  test("an async provider (a Vault lookup) delays only its own exchange's answer", async () => {
    const stream = processor([
      provider("vault", {
        onRequestHeaders: async (_headers, edits) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          edits.set("x-api-key", "from-vault");
        },
      }),
    ]);
    const reply = stream.process(wire.requestHeaders(AGENT_REQUEST));
    expect(reply).toBeInstanceOf(Promise);
    expect(readMutation(now(await reply).requestHeaders?.response?.headerMutation).set["x-api-key"]).toBe(
      "from-vault",
    );
  });

  test("a provider's WardenError reaches the agent with its own status and code", async () => {
    const stream = processor([
      provider("vault", {
        onRequestHeaders: async () => {
          throw new WardenError("unavailable", "credential store unavailable");
        },
      }),
    ]);
    expect(readImmediate(await stream.process(wire.requestHeaders(AGENT_REQUEST)))).toMatchObject({
      status: 503,
      body: {
        error: { code: "unavailable", message: "credential store unavailable", decision_id: "dec-0001" },
      },
    });
  });

  test("any other provider failure is a 500 that reveals nothing of the error", () => {
    const stream = processor([
      provider("buggy", {
        onResponseHeaders: () => {
          throw new Error("secret path /var/lib/vault/token");
        },
      }),
    ]);
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    const refusal = readImmediate(now(stream.process(wire.responseHeaders({ ":status": "200" }))));
    expect(refusal?.status).toBe(500);
    expect(JSON.stringify(refusal)).not.toContain("vault");
  });

  test("a response body is never asked for BUFFERED (Envoy would stall above its buffer limit): always STREAMED, length dropped", () => {
    const wantsBody: ExchangeHooks = { wantsResponseBody: () => true };
    const plain = processor([provider("usage", wantsBody)]);
    plain.process(wire.requestHeaders(AGENT_REQUEST));
    const answer = now(
      plain.process(
        wire.responseHeaders({ "content-type": "application/json", "content-length": "3000000" }),
      ),
    );
    expect(answer.modeOverride).toEqual({ responseBodyMode: BODY_STREAMED });
    expect(readMutation(answer.responseHeaders?.response?.headerMutation).remove).toContain("content-length");
    const streaming = processor([provider("usage", wantsBody)]);
    streaming.process(wire.requestHeaders(AGENT_REQUEST));
    expect(
      now(streaming.process(wire.responseHeaders({ "content-type": "text/event-stream" }))).modeOverride,
    ).toEqual({
      responseBodyMode: BODY_STREAMED,
    });
  });

  test("a provider can ask for the request body, but not for a request that has none", () => {
    const hooks: ExchangeHooks = { wantsRequestBody: () => true };
    expect(
      now(processor([provider("model", hooks)]).process(wire.requestHeaders(AGENT_REQUEST))).modeOverride,
    ).toEqual({
      requestBodyMode: BODY_BUFFERED,
    });
    const bodiless = wire.requestHeaders({ ":method": "GET" }, { endOfStream: true });
    expect(now(processor([provider("model", hooks)]).process(bodiless)).modeOverride).toBeUndefined();
  });

  test("body hooks see every chunk in order and can rewrite it; each sees the previous one's output", () => {
    const seen: string[] = [];
    const stream = processor([
      provider("usage", { onResponseBody: (chunk) => void seen.push(Buffer.from(chunk).toString()) }),
      provider("scrub", {
        onResponseBody: (chunk) => Buffer.from(Buffer.from(chunk).toString().replace("sk-1", "[x]")),
      }),
      provider("after", {
        onResponseBody: (chunk) => void seen.push(`after:${Buffer.from(chunk).toString()}`),
      }),
    ]);
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    stream.process(wire.responseHeaders({ "content-type": "text/event-stream" }));
    const reply = asEnvoyReads(now(stream.process(wire.responseBody("data: sk-1\n\n"))));
    expect(Buffer.from(reply.responseBody?.response?.bodyMutation?.body ?? []).toString()).toBe(
      "data: [x]\n\n",
    );
    expect(seen).toEqual(["data: sk-1\n\n", "after:data: [x]\n\n"]);
    expect(now(stream.process(wire.responseBody("data: clean\n\n", true)))).toEqual({
      responseBody: { response: { bodyMutation: { body: Buffer.from("data: clean\n\n") } } },
    });
  });

  test("providers are told once that the exchange ended, also when it was refused", () => {
    let ends = 0;
    const stream = processor([
      provider("usage", {
        onEnd: () => void ends++,
        onResponseHeaders: () => {
          throw new WardenError("payment_required", "budget exhausted");
        },
      }),
    ]);
    stream.process(wire.requestHeaders(AGENT_REQUEST));
    expect(readImmediate(now(stream.process(wire.responseHeaders({ ":status": "200" }))))?.status).toBe(402);
    stream.end();
    expect(ends).toBe(1);
  });
});

describe("protocol order", () => {
  const allowed = () => wire.requestHeaders(AGENT_REQUEST);

  test("a second request_headers on the same stream (another tenant) is a violation, and the stream stays refused", () => {
    const stream = processor();
    expect(now(stream.process(allowed())).requestHeaders).toBeDefined();
    expect(stream.process(allowed())).toBeInstanceOf(ProtocolViolation);
    expect(stream.process(wire.responseHeaders({ ":status": "200" }))).toBeNull();
  });

  test("a response body before the response headers is a violation", () => {
    const stream = processor();
    stream.process(allowed());
    expect(stream.process(wire.responseBody("data"))).toBeInstanceOf(ProtocolViolation);
  });

  test("a request phase after the response began is a violation", () => {
    const stream = processor();
    stream.process(allowed());
    now(stream.process(wire.responseHeaders({ ":status": "200" })));
    expect(stream.process(wire.requestBody("{}"))).toBeInstanceOf(ProtocolViolation);
  });

  test("a local reply (response headers first) is stripped and nothing else", () => {
    const stream = processor();
    const reply = now(stream.process(wire.responseHeaders({ ":status": "403", "set-cookie": "a=b" })));
    expect(readMutation(reply.responseHeaders?.response?.headerMutation).remove).toContain("set-cookie");
    expect(stream.process(allowed())).toBeInstanceOf(ProtocolViolation);
  });
});
