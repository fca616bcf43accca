import type { McpCallRecord } from "../../../lib/src/audit/mcp-call.js";
import { mcpCallAuditEvent } from "../../../lib/src/audit/mcp-call.js";
import { WardenError } from "../../../lib/src/errors.js";
import { loadSaasCatalogue, type SaasService } from "../../../lib/src/saas/catalogue.js";
import { SecretScrubber } from "../credentials/scrub.js";
import type { OAuthEvent, RequestIdentity } from "../oauth/events.js";
import type { UserTokens } from "../oauth/user-tokens.js";
import {
  authzMetadata,
  handOffFields,
  readImmediate,
  readMutation,
  wire,
} from "../testing/envoy-messages.js";
import { envoyReply as reply, processorWith } from "../testing/processor.js";
import { McpProvider } from "./provider.js";

const USER_TOKEN = "gho_user-token-held-in-vault-0123456789";
const VISIBILITY = {
  tools: { rules: [{ pattern: "read_*", visible: true }], default_visible: false },
  prompts: { rules: [], default_visible: false },
  resources: { rules: [], default_visible: false },
  capabilities: ["read_*"],
};

class StubTokens {
  connected = true;
  unauthorizedCalls: string[] = [];
  async unauthorized(_service: SaasService, _identity: RequestIdentity, token: string): Promise<void> {
    this.unauthorizedCalls.push(token);
  }
  tokenFor(_service: SaasService, _identity: RequestIdentity): string {
    if (!this.connected)
      throw new WardenError("account_not_connected", "the user has not connected a GitHub account");
    return USER_TOKEN;
  }
  scrubber(): SecretScrubber {
    return new SecretScrubber([USER_TOKEN]);
  }
}

function setup(policy: Record<string, unknown>, changes: Record<string, unknown> = {}) {
  const tokens = new StubTokens();
  const events: OAuthEvent[] = [];
  const calls: McpCallRecord[] = [];
  let clock = 1_000;
  const provider = new McpProvider({
    catalogue: loadSaasCatalogue(),
    tokens: tokens as unknown as UserTokens,
    events: { record: (event) => events.push(event) },
    calls: { record: (call) => calls.push(call) },
    now: () => (clock += 5),
  });
  const stream = processorWith([provider]);
  const metadata = authzMetadata(handOffFields({ service: "docs", kind: "mcp", policy, ...changes }));
  return { tokens, events, calls, stream, metadata };
}

const POST = {
  ":method": "POST",
  ":path": "/mcp/docs/",
  authorization: "Bearer agent-made-up",
  "x-api-key": "k",
};
const call = (method: string, name: string | null, extra: Record<string, unknown> = {}) => ({
  server: "docs",
  method,
  name,
  arguments_digest: "sha256:00",
  protocol_version: "2025-06-18",
  audit_arguments: false,
  ...extra,
});

async function deliver(stream: ReturnType<typeof setup>["stream"], parts: string[]): Promise<string> {
  const out: string[] = [];
  for (const [index, part] of parts.entries()) {
    const answer = await reply(stream.process(wire.responseBody(part, index === parts.length - 1)));
    const mutation = answer.responseBody?.response?.bodyMutation;
    out.push(mutation ? Buffer.from(mutation.body ?? new Uint8Array()).toString("utf8") : part);
  }
  return out.join("");
}

test("the agent's credentials never go upstream; the user's token for the named service does", async () => {
  const plain = setup({ mcp: call("tools/call", "read_file") });
  const passed = await reply(plain.stream.process(wire.requestHeaders(POST, { metadata: plain.metadata })));
  const removed = readMutation(passed.requestHeaders?.response?.headerMutation);
  expect(removed.remove).toEqual(expect.arrayContaining(["authorization", "x-api-key"]));
  expect(removed.set.authorization).toBeUndefined();

  const { stream, metadata, events } = setup({
    mcp: call("tools/call", "read_file"),
    mcp_upstream_credentials: { service: "github" },
  });
  const injected = await reply(stream.process(wire.requestHeaders(POST, { metadata })));
  expect(readMutation(injected.requestHeaders?.response?.headerMutation).set.authorization).toBe(
    `Bearer ${USER_TOKEN}`,
  );
  expect(events.map((event) => [event.kind, event.service])).toEqual([["token_injected", "github"]]);
});

test("no connected account: a JSON-RPC error echoing the request id, with a clear reason, nothing upstream", async () => {
  const { stream, tokens, metadata, calls } = setup({
    mcp: call("tools/call", "read_file"),
    mcp_upstream_credentials: { service: "github" },
  });
  tokens.connected = false;
  const headers = await reply(stream.process(wire.requestHeaders(POST, { metadata })));
  expect(headers.requestHeaders).toBeTruthy(); // the refusal waits for the id in the body
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 41,
    method: "tools/call",
    params: { name: "read_file" },
  });
  const refusal = readImmediate(await stream.process(wire.requestBody(body)));
  expect(refusal).toMatchObject({
    status: 409,
    body: {
      jsonrpc: "2.0",
      id: 41,
      error: {
        code: -32050,
        data: { reason: "account_not_connected", decision_id: "dec-0001", service: "github" },
      },
    },
  });
  stream.end();
  expect(calls[0]?.outcome).toEqual({ kind: "refused", reason: "account_not_connected" });
});

test("no delegation: HTTP 200 with WARDEN_DENIED, as the SDKs expect for a refusal", async () => {
  const { stream, metadata } = setup(
    { mcp: call("tools/call", "read_file"), mcp_upstream_credentials: { service: "github" } },
    { delegation_id: null, user_id: null },
  );
  await reply(stream.process(wire.requestHeaders(POST, { metadata })));
  const refusal = readImmediate(
    await stream.process(wire.requestBody('{"jsonrpc":"2.0","id":"a","method":"tools/call"}')),
  );
  expect(refusal).toMatchObject({
    status: 200,
    body: { id: "a", error: { code: -32050, data: { reason: "delegation_required" } } },
  });
});

test.each(["application/json", "text/event-stream", "text/plain", "application/octet-stream", ""])(
  "a tool result echoing the injected token never reaches the agent (%s), split across chunks",
  async (contentType) => {
    const { stream, metadata } = setup({
      mcp: call("tools/call", "read_file"),
      mcp_upstream_credentials: { service: "github" },
    });
    await reply(stream.process(wire.requestHeaders(POST, { metadata })));
    const headers: Record<string, string> = { ":status": "200" };
    if (contentType) headers["content-type"] = contentType;
    await reply(stream.process(wire.responseHeaders(headers)));
    const json = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      result: { content: [{ type: "text", text: `token ${USER_TOKEN}` }] },
    });
    const body = contentType === "text/event-stream" ? `event: message\ndata: ${json}\n\n` : json;
    const cut = body.indexOf(USER_TOKEN) + 9;
    const delivered = await deliver(stream, [body.slice(0, cut), body.slice(cut)]);
    expect(delivered).not.toContain(USER_TOKEN);
    expect(delivered).toContain("token [REDACTED]");
  },
);

test("a tools/list answer keeps only visible tools; missing visibility shows none", async () => {
  const list = JSON.stringify({
    jsonrpc: "2.0",
    id: 2,
    result: { tools: [{ name: "read_a" }, { name: "drop_db" }] },
  });
  for (const [policy, expected] of [
    [{ mcp: call("tools/list", null), mcp_visibility: VISIBILITY }, [{ name: "read_a" }]],
    [{ mcp: call("tools/list", null) }, []],
    [{ mcp: call("tools/list", null), mcp_visibility: { tools: "everything" } }, []],
  ] as const) {
    const { stream, metadata } = setup(policy);
    await reply(stream.process(wire.requestHeaders(POST, { metadata })));
    const headers = await reply(
      stream.process(
        wire.responseHeaders({
          ":status": "200",
          "content-type": "application/json",
          "content-length": "99",
        }),
      ),
    );
    expect(headers.modeOverride?.responseBodyMode).toBe(1); // STREAMED, never BUFFERED
    expect(readMutation(headers.responseHeaders?.response?.headerMutation).remove).toContain(
      "content-length",
    );
    const delivered = await deliver(stream, [list.slice(0, 30), list.slice(30)]);
    expect(JSON.parse(delivered)).toEqual({ jsonrpc: "2.0", id: 2, result: { tools: expected } });
  }
});

test("one mcp.call audit record: identity, method, name, digest, outcome, latency; arguments only when asked, secrets redacted", async () => {
  const { stream, metadata, calls } = setup({
    mcp: call("tools/call", "read_file", { audit_arguments: true }),
    mcp_upstream_credentials: { service: "github" },
  });
  await reply(stream.process(wire.requestHeaders(POST, { metadata })));
  const args = {
    path: "/a",
    password: "hunter2-hunter2",
    note: `use ${USER_TOKEN}`,
    url: "https://x/?token=abcdefgh1234",
  };
  await reply(
    stream.process(
      wire.requestBody(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 5,
          method: "tools/call",
          params: { name: "read_file", arguments: args },
        }),
      ),
    ),
  );
  await reply(stream.process(wire.responseHeaders({ ":status": "200", "content-type": "application/json" })));
  await deliver(stream, [JSON.stringify({ jsonrpc: "2.0", id: 5, result: { isError: true, content: [] } })]);
  stream.end();
  expect(calls).toHaveLength(1);
  const event = mcpCallAuditEvent(calls[0]!);
  expect(event).toMatchObject({
    action: "mcp.call",
    tenant: "acme",
    user_id: "user-9",
    delegation_id: "del-3",
    decision_id: "dec-0001",
    details: {
      server: "docs",
      method: "tools/call",
      name: "read_file",
      arguments_digest: "sha256:00",
      outcome: { kind: "tool_error" },
    },
  });
  expect(event.latency_ms).toBeGreaterThan(0);
  const text = JSON.stringify(event);
  expect(text).not.toContain(USER_TOKEN);
  expect(text).not.toContain("hunter2");
  expect(text).not.toContain("abcdefgh1234");
  expect((event.details as { arguments: { path: string } }).arguments.path).toBe("/a");
});

test("a stream cut before its end is audited as cut; arguments are absent unless the rule asks", async () => {
  const { stream, metadata, calls } = setup({ mcp: call("tools/call", "read_file") });
  await reply(stream.process(wire.requestHeaders(POST, { metadata })));
  await reply(
    stream.process(wire.responseHeaders({ ":status": "200", "content-type": "text/event-stream" })),
  );
  await reply(stream.process(wire.responseBody("event: message\ndata: {}\n\n", false)));
  stream.end();
  expect(calls[0]?.outcome).toEqual({ kind: "cut" });
  expect(calls[0]?.arguments).toBeUndefined();
});

test("the MCP server refusing the user's token (401) refreshes it for the next call", async () => {
  const { stream, metadata, tokens } = setup({
    mcp: call("tools/call", "read_file"),
    mcp_upstream_credentials: { service: "github" },
  });
  await reply(stream.process(wire.requestHeaders(POST, { metadata })));
  const headers = await reply(
    stream.process(wire.responseHeaders({ ":status": "401", "content-type": "application/json" })),
  );
  expect(
    readMutation(headers.responseHeaders?.response?.headerMutation).set["x-warden-token-refreshed"],
  ).toBe("true");
  expect(tokens.unauthorizedCalls).toEqual([USER_TOKEN]);
});

test("a request without a body (a GET stream) is refused at its headers, id null: nothing goes upstream tokenless", async () => {
  const { stream, tokens, metadata } = setup({ mcp: null, mcp_upstream_credentials: { service: "github" } });
  tokens.connected = false;
  const refusal = readImmediate(
    await stream.process(
      wire.requestHeaders({ ...POST, ":method": "POST" }, { metadata, endOfStream: true }),
    ),
  );
  expect(refusal).toMatchObject({
    status: 409,
    body: { id: null, error: { data: { reason: "account_not_connected" } } },
  });
});
