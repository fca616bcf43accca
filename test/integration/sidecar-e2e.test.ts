import { Agent as HttpAgent, get as httpGet } from "node:http";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { steadyLoad } from "../harness/policy-rollout.js";
import { STUB_SET_COOKIE } from "../stubs/upstream.js";

/**
 * The walking skeleton, end to end: agent → real Envoy → real authz-server (the skeleton policy
 * compiled by the real opa) and real extproc-server → stub provider. The policy allows GET/POST to
 * the openai destination unless the request carries `x-test-deny: 1`.
 */
const AGENT_SECRET = "sk-agent-held-secret-0123456789";

interface ErrorBody {
  error: { code: string; message: string; decision_id: string | null };
}

async function expectJsonError(response: Response, status: number): Promise<ErrorBody["error"]> {
  const text = await response.text();
  expect({ status: response.status, body: text }).toEqual({ status, body: expect.any(String) });
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(body).toEqual({
    error: { code: expect.any(String), message: expect.any(String), decision_id: body.error.decision_id },
  });
  expect(body.error.decision_id === null || typeof body.error.decision_id === "string").toBe(true);
  return body.error;
}

/** GET through a keep-alive pool; resolves with the status once the body is read. */
function getStatus(url: string, agent: HttpAgent): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", reject);
    }).on("error", reject);
  });
}

/** Sends bytes as they are (fetch would re-encode them) and reads the HTTP/1.1 response. */
function rawRequest(port: number, request: Buffer): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    // write, not end: Envoy treats a half-closed HTTP/1 connection as gone and answers nothing.
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    let received = Buffer.alloc(0);
    const finish = () => {
      socket.destroy();
      const text = received.toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const head = split === -1 ? text : text.slice(0, split);
      const body = split === -1 ? "" : text.slice(split + 4);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body });
    };
    socket.setTimeout(5_000, () => socket.destroy(new Error("no response within 5 s")));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, split))?.[1];
      if (split !== -1 && length !== undefined && received.length >= split + 4 + Number(length)) finish();
    });
    socket.on("error", reject);
    socket.on("close", finish);
  });
}

interface ReceivedEvent {
  id: string;
  data: string;
  receivedAt: number;
}

/** Reads an SSE response, timestamping each event the moment its last byte arrives. */
async function readEvents(response: Response): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const raw = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        raw
          .split("\n")
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2) ?? "";
      events.push({ id: field("id"), data: field("data"), receivedAt: performance.now() });
    }
  }
  return events;
}

describe("the sidecar through the real Envoy", () => {
  let stack: Stack;
  const url = (path: string) => `${stack.agentUrl}${path}`;

  beforeAll(async () => {
    stack = await startStack({ name: "sidecar-e2e" });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  }, TEARDOWN_TIMEOUT_MS);
  beforeEach(() => stack.upstream.reset());

  test("an allowed request reaches the upstream with the decision id injected and without the agent's credentials", async () => {
    const response = await fetch(url("/openai/v1/chat/completions?trace=1"), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${AGENT_SECRET}`,
        "x-api-key": AGENT_SECRET,
        cookie: `session=${AGENT_SECRET}`,
        "x-warden-decision-id": "forged-by-the-agent",
      },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });

    expect(response.status).toBe(200);
    expect(((await response.json()) as { object: string }).object).toBe("chat.completion");
    expect(response.headers.get("set-cookie")).toBeNull();

    expect(stack.upstream.requests).toHaveLength(1);
    const seen = stack.upstream.requests[0]!;
    expect(seen.method).toBe("POST");
    expect(seen.path).toBe("/v1/chat/completions?trace=1");
    expect(seen.headers.host).toBe(`127.0.0.1:${stack.upstream.port}`);
    expect(JSON.parse(seen.body)).toEqual({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers["x-api-key"]).toBeUndefined();
    expect(seen.headers.cookie).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(AGENT_SECRET);

    const decisionId = seen.headers["x-warden-decision-id"];
    expect(decisionId).toEqual(expect.stringMatching(/\S/));
    expect(decisionId).not.toBe("forged-by-the-agent");
    // The same decision id went through ext_authz's dynamic metadata: Envoy logs it from there.
    await waitFor(
      "access log line",
      () => stack.envoy.accessLog().some((l) => l.decision_id === decisionId),
      5_000,
    );
    const line = stack.envoy.accessLog().find((l) => l.decision_id === decisionId)!;
    expect(line).toMatchObject({ status: 200, route: "openai", upstream_cluster: "openai", method: "POST" });
    expect(line.path).toBe("/v1/chat/completions");
  });

  test("a denied request gets the policy's status and JSON reason, and the upstream never sees it", async () => {
    const response = await fetch(url("/openai/v1/models"), { headers: { "x-test-deny": "1" } });

    const error = await expectJsonError(response, 403);
    expect(error).toEqual({
      code: "test_rule_denied",
      message: "denied by test rule",
      decision_id: expect.any(String),
    });
    expect(error.decision_id).not.toBe("");
    expect(stack.upstream.requests).toHaveLength(0);
  });

  test("the policy judges the destination the route names, whatever the agent claims", async () => {
    const response = await fetch(url("/anthropic/v1/messages"), {
      method: "POST",
      headers: { "content-type": "application/json", "x-warden-destination": "openai" },
      body: JSON.stringify({ model: "claude-sonnet" }),
    });

    const error = await expectJsonError(response, 403);
    expect(error).toMatchObject({ code: "no_rule_allows", message: "no rule allows this request" });
    expect(stack.upstream.requests).toHaveLength(0);
  });

  test("SSE passes through event by event: the first event arrives before the upstream sends the second", async () => {
    const started = performance.now();
    const response = await fetch(url("/openai/v1/sse?events=5&interval=300"), {
      headers: { accept: "text/event-stream" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("set-cookie")).toBeNull();

    const events = await readEvents(response);

    expect(events.map((e) => [e.id, JSON.parse(e.data) as unknown])).toEqual(
      [1, 2, 3, 4, 5].map((n) => [String(n), { event: n, of: 5 }]),
    );
    const sentAt = stack.upstream.streams[0]!.sentAt;
    expect(sentAt).toHaveLength(5);
    expect(events[0]!.receivedAt).toBeLessThan(sentAt[1]!);
    // No event waits for the next one anywhere on the way.
    for (let i = 0; i < 4; i += 1) expect(events[i]!.receivedAt).toBeLessThan(sentAt[i + 1]!);
    const lags = events.map((e, i) => Math.round(e.receivedAt - sentAt[i]!));
    process.stdout.write(
      `SSE through Envoy: first event ${Math.round(events[0]!.receivedAt - started)} ms after the request, ` +
        `per-event lag behind the upstream write (ms): ${lags.join(", ")}\n`,
    );
  });

  test("a streamed chat completion arrives as SSE chunks ending in [DONE]", async () => {
    const response = await fetch(url("/openai/v1/chat/completions"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", stream: true, messages: [] }),
    });
    expect(response.status).toBe(200);
    const events = await readEvents(response);
    expect(events.at(-1)?.data).toBe("[DONE]");
    const text = events
      .slice(0, -1)
      .map(
        (e) =>
          (JSON.parse(e.data) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content,
      )
      .join("");
    expect(text).toBe("Hello from the stub.");
  });

  describe("bad input gets a clean 4xx and leaves both servers healthy", () => {
    afterAll(async () => {
      expect(stack.authz.process().running).toBe(true);
      expect(stack.extproc.process().running).toBe(true);
      expect(await stack.authz.health()).toBe("SERVING");
      expect(await stack.extproc.health()).toBe("SERVING");
      // And they still serve: an ordinary request goes through.
      const response = await fetch(url("/openai/v1/models"));
      expect(response.status).toBe(200);
    }, TEARDOWN_TIMEOUT_MS);

    test("oversized headers: 431", async () => {
      const response = await fetch(url("/openai/v1/models"), {
        headers: { "x-padding": "a".repeat(70 * 1024) },
      });
      const error = await expectJsonError(response, 431);
      expect(error.code).toBe("bad_request");
      expect(stack.upstream.requests).toHaveLength(0);
    });

    test("a body that is not JSON, sent as JSON to an LLM route: 400 before the upstream", async () => {
      const response = await fetch(url("/openai/v1/chat/completions"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"model": "gpt-4o-mini", "messages": [',
      });
      const error = await expectJsonError(response, 400);
      expect(error.code).toBe("bad_request");
      expect(stack.upstream.requests).toHaveLength(0);
    });

    test("a path with raw bytes that are not UTF-8: 400", async () => {
      const request = Buffer.concat([
        Buffer.from("GET /openai/v1/"),
        Buffer.from([0xff, 0xfe, 0x80]),
        Buffer.from(" HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\n\r\n"),
      ]);
      const response = await rawRequest(stack.agentPort, request);
      expect(response.status).toBe(400);
      expect(response.head).toMatch(/content-type: application\/json/i);
      expect((JSON.parse(response.body) as ErrorBody).error.code).toBe("bad_request");
      expect(stack.upstream.requests).toHaveLength(0);
    });

    test("a percent-encoded path that is not UTF-8: 400", async () => {
      const response = await fetch(url("/openai/v1/models/%FF%FE"));
      const error = await expectJsonError(response, 400);
      expect(error.code).toBe("bad_request");
      expect(stack.upstream.requests).toHaveLength(0);
    });

    test("an unknown route: 404 naming the path, without asking authz-server", async () => {
      const checksBefore = await stack.envoy.stat("cluster.warden_authz.upstream_rq_total");
      const response = await fetch(url("/not-a-destination/v1/models?api_key=secret"));
      const error = await expectJsonError(response, 404);
      expect(error).toEqual({
        code: "not_found",
        message: "no route for /not-a-destination/v1/models",
        decision_id: null,
      });
      expect(await stack.envoy.stat("cluster.warden_authz.upstream_rq_total")).toBe(checksBefore);
      expect(stack.upstream.requests).toHaveLength(0);
    });
  });

  test("the access log is JSON lines without any credential or query string", async () => {
    await fetch(url("/openai/v1/models?key=query-secret"), {
      headers: { authorization: `Bearer ${AGENT_SECRET}` },
    });
    await waitFor("access log", () => stack.envoy.accessLog().some((l) => l.path === "/v1/models"), 5_000);
    const log = JSON.stringify(stack.envoy.accessLog());
    expect(log).not.toContain(AGENT_SECRET);
    expect(log).not.toContain("query-secret");
    expect(log).not.toContain(STUB_SET_COOKIE.split(";")[0]);
  });
});

describe("the sidecar under steady load", () => {
  let stack: Stack;

  beforeAll(async () => {
    // Generous timeouts: this asserts that nothing is refused by the data path itself, not how fast
    // this shared machine is (latency is measured by bench/).
    stack = await startStack({
      name: "sidecar-load",
      sidecar: { timeouts: { authzMs: 5_000, extprocMessageMs: 5_000 } },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  }, TEARDOWN_TIMEOUT_MS);

  test("1,600 requests at 200/s all pass: ext_proc streams end without RST_STREAM, so Node's rapid-reset limit never refuses them", async () => {
    // Before `ext_proc_graceful_grpc_close`, Envoy reset every ext_proc stream; nghttp2 in
    // extproc-server allows ~1,000 resets plus 33/s, then dropped the connection and refused the
    // streams in flight (agents saw 503 after ~1,250 requests at 200/s).
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
    expect(await getStatus(`${stack.agentUrl}/openai/v1/models`, agent)).toBe(200); // connections are up
    const resetsBefore = await stack.envoy.stat("cluster.warden_extproc.upstream_rq_tx_reset");
    const connectionsBefore = await stack.envoy.stat("cluster.warden_extproc.upstream_cx_total");
    // The bounded keep-alive pool: on a busy machine requests queue here instead of opening a
    // connection each until Envoy's downstream connection limit refuses them.
    const outcomes = new Map<string, number>();
    const load = steadyLoad(200, async () => {
      const outcome = await getStatus(`${stack.agentUrl}/openai/v1/models`, agent).then(
        (status) => String(status),
        (error: NodeJS.ErrnoException) => error.code ?? error.message,
      );
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    });
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    const sent = await load.stop();
    agent.destroy();
    expect(sent).toBeGreaterThanOrEqual(1_500);
    expect(Object.fromEntries(outcomes)).toEqual({ 200: sent });
    // A stream whose server has not closed 1 s after Envoy's half-close is still reset (a slow moment
    // on a loaded machine); before the fix every stream was.
    const resets = (await stack.envoy.stat("cluster.warden_extproc.upstream_rq_tx_reset")) - resetsBefore;
    expect(resets).toBeLessThan(sent / 20);
    expect(await stack.envoy.stat("cluster.warden_extproc.upstream_cx_total")).toBe(connectionsBefore);
  }, 90_000);
});

describe("the sidecar fails closed", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ name: "sidecar-fail-closed" });
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  }, TEARDOWN_TIMEOUT_MS);
  beforeEach(() => stack.upstream.reset());

  test("with authz-server stopped, Envoy refuses with 503 and the upstream is not called", async () => {
    await stack.authz.stop();

    const response = await fetch(`${stack.agentUrl}/openai/v1/models`);
    const error = await expectJsonError(response, 503);
    expect(error).toEqual({
      code: "unavailable",
      message: "authorization service unavailable",
      decision_id: null,
    });
    expect(stack.upstream.requests).toHaveLength(0);

    await stack.authz.restart();
    await waitFor(
      "requests pass again",
      async () => (await fetch(`${stack.agentUrl}/openai/v1/models`)).ok,
      10_000,
    );
  }, 60_000);

  test("with extproc-server stopped, the request is refused, not passed through unprocessed", async () => {
    await stack.extproc.stop();

    const response = await fetch(`${stack.agentUrl}/openai/v1/models`, {
      headers: { authorization: `Bearer ${AGENT_SECRET}` },
    });
    const error = await expectJsonError(response, 503);
    expect(error.code).toBe("unavailable");
    expect(error.message).toBe("request processing service unavailable");
    expect(stack.upstream.requests).toHaveLength(0);

    await stack.extproc.restart();
    await waitFor(
      "requests pass again",
      async () => (await fetch(`${stack.agentUrl}/openai/v1/models`)).ok,
      10_000,
    );
  }, 60_000);
});
