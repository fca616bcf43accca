/**
 * MCP Streamable HTTP facts every Warden component agrees on: header names, protocol revisions and
 * the JSON-RPC error codes Warden answers with. Read from the specification's text (revisions
 * 2025-06-18, 2025-11-25 and 2026-07-28); nothing here does I/O.
 */
export const MCP_PROTOCOL_VERSION_HEADER = "mcp-protocol-version";
export const MCP_METHOD_HEADER = "mcp-method";
export const MCP_NAME_HEADER = "mcp-name";
export const MCP_SESSION_ID_HEADER = "mcp-session-id";

/** Revisions reached through the `initialize` handshake: sessions, no mirrored headers (read the body). */
export const HANDSHAKE_REVISIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] as const;
/** Stateless revisions: every request mirrors its method (and name) in headers, checked against the body. */
export const MODERN_REVISIONS = ["2026-07-28"] as const;

/** The `params` key a name-bearing method's `Mcp-Name` header mirrors. */
export const NAME_BEARING_METHODS: Readonly<Record<string, "name" | "uri">> = Object.freeze({
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
});

/** List methods whose answers Warden filters to what the caller may use. */
export const LIST_METHODS: Readonly<Record<string, McpItemKind>> = Object.freeze({
  "tools/list": "tools",
  "prompts/list": "prompts",
  "resources/list": "resources",
});

export type McpItemKind = "tools" | "prompts" | "resources";

export const JSONRPC_ERRORS = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  /** 2026-07-28: a mirrored header (`Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version`) disagrees with the body. */
  HEADER_MISMATCH: -32020,
  /** Warden's own (implementation-defined server error range): the policy refused this message. */
  WARDEN_DENIED: -32050,
  /** Warden's own: the call is held until a person approves it; `data` carries the approval id and URL. */
  APPROVAL_REQUIRED: -32051,
});
