import { argumentsDigest } from "./digest.js";
import { JSONRPC_ERRORS } from "./protocol.js";
import {
  decodeHeaderValue,
  MAX_BATCH_MESSAGES,
  PROTOCOL_VERSION_META_KEY,
  readMcpRequest,
  requestIdOf,
  type McpRequest,
  type McpRequestError,
} from "./request.js";

const MODERN = "2026-07-28";

function ok(method: string, headers: Record<string, string>, body: unknown): McpRequest {
  const result = readMcpRequest(method, headers, body);
  if (!result.ok) throw new Error(`refused: ${result.error.message}`);
  return result.request;
}

function refused(method: string, headers: Record<string, string>, body: unknown): McpRequestError {
  const result = readMcpRequest(method, headers, body);
  if (result.ok) throw new Error("expected a refusal");
  return result.error;
}

const b64 = (text: string) => `=?base64?${Buffer.from(text, "utf8").toString("base64")}?=`;

function call(name: string, args: unknown = { q: "x" }, id: unknown = 7, meta?: Record<string, unknown>) {
  return {
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
  };
}

const envelope = { [PROTOCOL_VERSION_META_KEY]: MODERN, "io.modelcontextprotocol/clientCapabilities": {} };
const modernHeaders = (name: string, method = "tools/call") => ({
  "mcp-protocol-version": MODERN,
  "mcp-method": method,
  "mcp-name": name,
});

describe("reading one MCP message", () => {
  test("a tools/call names its tool and the digest of its arguments", () => {
    const request = ok("POST", {}, call("search", { q: "cats", n: 3 }));
    expect(request.kind).toBe("request");
    expect(request.message).toEqual({
      kind: "request",
      method: "tools/call",
      id: 7,
      name: "search",
      argumentsDigest: argumentsDigest({ n: 3, q: "cats" }),
      bodyVersion: null,
    });
    expect(request.protocolVersion).toBeNull();
    expect(request.modern).toBe(false);
  });

  test("prompts/get names the prompt and digests its arguments; resources/read names the URI", () => {
    const prompt = ok(
      "POST",
      {},
      { jsonrpc: "2.0", id: "p", method: "prompts/get", params: { name: "greet" } },
    );
    expect(prompt.message).toMatchObject({ name: "greet", argumentsDigest: argumentsDigest({}) });
    const resource = ok(
      "POST",
      {},
      {
        jsonrpc: "2.0",
        id: 1,
        method: "resources/read",
        params: { uri: "file:///etc/motd" },
      },
    );
    expect(resource.message).toMatchObject({ name: "file:///etc/motd", argumentsDigest: null });
  });

  test("a message without an id is a notification; one without a method but with a result is a response", () => {
    expect(ok("POST", {}, { jsonrpc: "2.0", method: "notifications/initialized" }).kind).toBe("notification");
    const response = ok("POST", {}, { jsonrpc: "2.0", id: 4, result: {} });
    expect(response.kind).toBe("response");
    expect(response.message).toMatchObject({ method: null, id: 4 });
  });

  test("initialize reports the revision it asks for; the header wins when both are given", () => {
    const init = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18" } };
    expect(ok("POST", {}, init).protocolVersion).toBe("2025-06-18");
    expect(
      ok("POST", { "mcp-protocol-version": "2025-11-25" }, { jsonrpc: "2.0", id: 1, method: "ping" })
        .protocolVersion,
    ).toBe("2025-11-25");
  });

  test.each([
    ["no body", null],
    ["a string", "tools/call"],
    ["no jsonrpc member", { id: 1, method: "ping" }],
    ["a null id", { jsonrpc: "2.0", id: null, method: "ping" }],
    ["an object id", { jsonrpc: "2.0", id: { a: 1 }, method: "ping" }],
    ["a numeric method", { jsonrpc: "2.0", id: 1, method: 5 }],
    ["an array as params", { jsonrpc: "2.0", id: 1, method: "tools/call", params: ["search"] }],
    ["a string as params", { jsonrpc: "2.0", id: 1, method: "tools/call", params: "search" }],
    ["a tools/call without a name", { jsonrpc: "2.0", id: 1, method: "tools/call", params: {} }],
    ["a tools/call whose name is not a string", call(["search"] as unknown as string)],
    ["arguments that are not an object", call("search", ["a"])],
    ["neither method nor result", { jsonrpc: "2.0", id: 1 }],
  ])("%s is an invalid request (400, -32600)", (_what, body) => {
    const error = refused("POST", {}, body);
    expect(error.reason).toBe("mcp_request_invalid");
    expect(error.jsonRpcCode).toBe(JSONRPC_ERRORS.INVALID_REQUEST);
  });

  test("an invalid request still echoes the id it could read", () => {
    expect(refused("POST", {}, { jsonrpc: "2.0", id: 9, method: "tools/call", params: {} }).id).toBe(9);
  });
});

describe("mirrored headers on the stateless revision (2026-07-28)", () => {
  test("a request whose headers agree with its body and envelope is read as modern", () => {
    const request = ok("POST", modernHeaders("search"), call("search", {}, 1, envelope));
    expect(request.modern).toBe(true);
    expect(request.protocolVersion).toBe(MODERN);
    expect(request.message?.bodyVersion).toBe(MODERN);
  });

  test.each([
    ["Mcp-Name names another tool", modernHeaders("read_file")],
    ["Mcp-Method names another method", modernHeaders("search", "tools/list")],
    ["Mcp-Name is missing", { "mcp-protocol-version": MODERN, "mcp-method": "tools/call" }],
    ["Mcp-Method is missing", { "mcp-protocol-version": MODERN, "mcp-name": "search" }],
    ["MCP-Protocol-Version is missing", { "mcp-method": "tools/call", "mcp-name": "search" }],
    [
      "MCP-Protocol-Version differs from the envelope",
      { ...modernHeaders("search"), "mcp-protocol-version": "2025-11-25" },
    ],
    [
      "Mcp-Method was sent twice (Envoy joins with a comma)",
      { ...modernHeaders("search"), "mcp-method": "tools/call,tools/call" },
    ],
    ["Mcp-Name is a Cyrillic look-alike", modernHeaders("sеarch")],
    ["Mcp-Name has trailing space", modernHeaders("search ")],
    ["Mcp-Name is a malformed base64 sentinel", modernHeaders("=?base64?c2VhcmNo?=x")],
    ["Mcp-Name is base64 of a near-miss name", modernHeaders("=?base64?c2VhcmNp?=")],
  ])("%s: header mismatch (-32020), echoing the id", (_what, headers) => {
    const error = refused("POST", headers, call("search", {}, 3, envelope));
    expect(error).toMatchObject({
      reason: "mcp_header_mismatch",
      jsonRpcCode: JSONRPC_ERRORS.HEADER_MISMATCH,
      id: 3,
    });
  });

  test("a modern header without the body envelope is a mismatch", () => {
    expect(refused("POST", modernHeaders("search"), call("search")).reason).toBe("mcp_header_mismatch");
  });

  test("a non-string envelope version never matches the header", () => {
    const meta = { [PROTOCOL_VERSION_META_KEY]: 20260728 };
    expect(refused("POST", modernHeaders("search"), call("search", {}, 1, meta)).reason).toBe(
      "mcp_header_mismatch",
    );
  });

  test("Mcp-Name may carry a non-ASCII tool name base64-encoded", () => {
    const name = "résumé_ツール";
    const request = ok("POST", modernHeaders(b64(name)), call(name, {}, 1, envelope));
    expect(request.message?.name).toBe(name);
  });

  test("a base64 header that decodes to another name is a mismatch", () => {
    expect(refused("POST", modernHeaders(b64("delete_all")), call("search", {}, 1, envelope)).reason).toBe(
      "mcp_header_mismatch",
    );
  });

  test("resources/read is mirrored by its URI", () => {
    const body = {
      jsonrpc: "2.0",
      id: 1,
      method: "resources/read",
      params: { uri: "db://x", _meta: envelope },
    };
    expect(ok("POST", modernHeaders("db://x", "resources/read"), body).message?.name).toBe("db://x");
    expect(refused("POST", modernHeaders("db://y", "resources/read"), body).reason).toBe(
      "mcp_header_mismatch",
    );
  });

  test("methods that name nothing need no Mcp-Name, and must not carry one", () => {
    const list = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: envelope } };
    const headers = { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" };
    expect(ok("POST", headers, list).message?.method).toBe("tools/list");
    expect(refused("POST", { ...headers, "mcp-name": "search" }, list).reason).toBe("mcp_header_mismatch");
  });
});

describe("mirrored headers on handshake revisions", () => {
  test("a body-only request is read from the body", () => {
    const request = ok("POST", { "mcp-protocol-version": "2025-06-18" }, call("search"));
    expect(request).toMatchObject({ modern: false, protocolVersion: "2025-06-18" });
    expect(request.message?.name).toBe("search");
  });

  test("a present header that disagrees with the body is refused on any revision", () => {
    const cases: Record<string, string>[] = [
      { "mcp-method": "tools/list" },
      { "mcp-name": "read_file" },
      { "mcp-protocol-version": "2025-06-18", "mcp-name": "read_file" },
    ];
    for (const headers of cases)
      expect(refused("POST", headers, call("search")).reason).toBe("mcp_header_mismatch");
  });

  test("a response must not be mirrored as a method", () => {
    expect(
      refused("POST", { "mcp-method": "tools/call" }, { jsonrpc: "2.0", id: 1, result: {} }).reason,
    ).toBe("mcp_header_mismatch");
  });
});

describe("batches (2025-03-26)", () => {
  test("every message of a batch is read, in order", () => {
    const request = ok("POST", {}, [
      call("search", {}, 1),
      { jsonrpc: "2.0", method: "notifications/progress", params: {} },
      call("write_file", { path: "/x" }, 2),
    ]);
    expect(request.kind).toBe("batch");
    expect(request.message).toBeNull();
    expect(request.messages.map((m) => [m.kind, m.name, m.id])).toEqual([
      ["request", "search", 1],
      ["notification", null, null],
      ["request", "write_file", 2],
    ]);
  });

  test("an empty batch, a batch over the limit, and a batch with one bad message are invalid", () => {
    expect(refused("POST", {}, []).reason).toBe("mcp_request_invalid");
    const huge = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, i) => call("search", {}, i));
    expect(refused("POST", {}, huge).reason).toBe("mcp_request_invalid");
    expect(refused("POST", {}, [call("search"), "tools/call"]).reason).toBe("mcp_request_invalid");
  });

  test("a batch cannot be mirrored in headers, nor sent on the stateless revision", () => {
    expect(refused("POST", { "mcp-method": "tools/call" }, [call("search")]).reason).toBe(
      "mcp_header_mismatch",
    );
    expect(refused("POST", { "mcp-protocol-version": MODERN }, [call("search")]).reason).toBe(
      "mcp_request_invalid",
    );
  });
});

describe("GET and DELETE", () => {
  test("carry no message: method null, kind none", () => {
    const listen = ok("GET", { "mcp-protocol-version": "2025-06-18" }, null);
    expect(listen).toMatchObject({
      kind: "none",
      message: null,
      messages: [],
      protocolVersion: "2025-06-18",
    });
    expect(ok("DELETE", {}, null).kind).toBe("none");
  });

  test("a mirrored method on a GET is a mismatch", () => {
    expect(refused("GET", { "mcp-method": "tools/call" }, null).reason).toBe("mcp_header_mismatch");
  });
});

describe("decodeHeaderValue", () => {
  test.each([
    ["plain", "search", "search"],
    ["absent", undefined, null],
    ["base64 of UTF-8", b64("naïve"), "naïve"],
    ["base64 with bad padding", "=?base64?c2VhcmNo=?=", null],
    ["base64 of invalid UTF-8", `=?base64?${Buffer.from([0xff, 0xfe]).toString("base64")}?=`, null],
    ["non-canonical base64 (non-zero trailing bits)", "=?base64?cx==?=", null],
    ["base64 with foreign characters", "=?base64?c2Vh*mNo?=", null],
  ])("%s", (_what, value, expected) => {
    expect(decodeHeaderValue(value)).toBe(expected);
  });
});

describe("requestIdOf: the id a refusal echoes before the request is read whole", () => {
  test("a single request's string or number id", () => {
    expect(requestIdOf({ jsonrpc: "2.0", id: 4, method: "tools/call" })).toBe(4);
    expect(requestIdOf({ jsonrpc: "2.0", id: "a", method: "ping" })).toBe("a");
  });
  test("null for a notification, a response, a batch, a bad id or no body", () => {
    expect(requestIdOf({ jsonrpc: "2.0", method: "notifications/initialized" })).toBeNull();
    expect(requestIdOf({ jsonrpc: "2.0", id: 4, result: {} })).toBeNull();
    expect(requestIdOf([{ jsonrpc: "2.0", id: 4, method: "ping" }])).toBeNull();
    expect(requestIdOf({ jsonrpc: "2.0", id: { x: 1 }, method: "ping" })).toBeNull();
    expect(requestIdOf(undefined)).toBeNull();
  });
});
