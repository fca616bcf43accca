import { argumentsDigest } from "./digest.js";
import {
  JSONRPC_ERRORS,
  MCP_METHOD_HEADER,
  MCP_NAME_HEADER,
  MCP_PROTOCOL_VERSION_HEADER,
  MODERN_REVISIONS,
  NAME_BEARING_METHODS,
} from "./protocol.js";

/**
 * What an MCP Streamable HTTP request asks for, read from its JSON-RPC body and its mirrored headers
 * (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`). Pure: authz-server turns the result into the
 * policy input (`input.mcp`) or into a 400 before any policy runs.
 *
 * The headers exist so that load balancers and gateways can route without reading the body; a header
 * that disagrees with the body is an attack on exactly those components (the router sees one tool,
 * the server runs another), so it is refused on every revision. On the stateless revision
 * (2026-07-28) a request must also carry them: `MCP-Protocol-Version` equal to the body's envelope
 * version (`params._meta["io.modelcontextprotocol/protocolVersion"]`), `Mcp-Method` equal to
 * `method`, and, for tools/call, prompts/get and resources/read, `Mcp-Name` equal to the name (the
 * Python SDK's mcp/shared/inbound.py classify_inbound_request, which also reads a missing header as
 * a mismatch). `Mcp-Name` may carry its value as `=?base64?<canonical base64 of UTF-8>?=`.
 */
export const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";

/** More messages than any client batches; a bigger batch is refused before the policy runs. */
export const MAX_BATCH_MESSAGES = 64;

export type McpMessageKind = "request" | "notification" | "response";
/** `none`: GET (the server-to-client event stream) and DELETE (end of session) carry no message. */
export type McpRequestKind = McpMessageKind | "batch" | "none";

export interface McpMessage {
  readonly kind: McpMessageKind;
  /** null for a response (the client answering a server's request). */
  readonly method: string | null;
  /** null for a notification. */
  readonly id: string | number | null;
  /** params.name (tools/call, prompts/get) or params.uri (resources/read); else null. */
  readonly name: string | null;
  /** argumentsDigest(params.arguments) for tools/call and prompts/get; else null. */
  readonly argumentsDigest: string | null;
  /** The body's protocol revision: the envelope's (2026-07-28), or initialize's protocolVersion. */
  readonly bodyVersion: string | null;
}

export interface McpRequest {
  readonly kind: McpRequestKind;
  /** The one message of a non-batch POST (null for a batch or GET/DELETE). */
  readonly message: McpMessage | null;
  /** Every message of a batch, in order (the one message otherwise; empty for GET/DELETE). */
  readonly messages: readonly McpMessage[];
  /** `MCP-Protocol-Version`, else the body's version, else null (before initialize). */
  readonly protocolVersion: string | null;
  /** True when the request follows a stateless revision (header or envelope says so). */
  readonly modern: boolean;
}

export type McpRequestProblem = "mcp_header_mismatch" | "mcp_request_invalid";

/** Why a request is refused before any policy runs: always HTTP 400 with a JSON-RPC error. */
export interface McpRequestError {
  readonly reason: McpRequestProblem;
  readonly jsonRpcCode: number;
  readonly message: string;
  /** The request's id when one could be read (the error echoes it), else null. */
  readonly id: string | number | null;
}

export type McpRequestResult =
  | { readonly ok: true; readonly request: McpRequest }
  | { readonly ok: false; readonly error: McpRequestError };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const BASE64_SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * An `Mcp-Name` header value as the client meant it: verbatim, or the payload of the
 * `=?base64?...?=` sentinel. A malformed sentinel (not canonical base64, not UTF-8) is null, so it
 * never equals a body value by accident.
 */
export function decodeHeaderValue(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!value.startsWith("=?base64?")) return value;
  const match = BASE64_SENTINEL.exec(value);
  if (!match) return null;
  const payload = match[1]!;
  if (payload.length % 4 !== 0) return null;
  const bytes = Buffer.from(payload, "base64");
  if (bytes.toString("base64") !== payload) return null;
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return null;
  }
}

class Refusal extends Error {
  constructor(
    readonly reason: McpRequestProblem,
    message: string,
    readonly id: string | number | null = null,
  ) {
    super(message);
  }
}

const invalid = (message: string, id: string | number | null = null) =>
  new Refusal("mcp_request_invalid", message, id);
const mismatch = (message: string, id: string | number | null = null) =>
  new Refusal("mcp_header_mismatch", message, id);

function readId(raw: Record<string, unknown>): string | number | null | undefined {
  if (!Object.hasOwn(raw, "id")) return undefined;
  const id = raw.id;
  if (typeof id === "string" || (typeof id === "number" && Number.isFinite(id))) return id;
  return null;
}

/**
 * The id a refusal must echo, read before (or without) the whole request: a single request's id,
 * else null (a notification, a response, a batch, no body).
 */
export function requestIdOf(body: unknown): string | number | null {
  if (!isRecord(body) || typeof body.method !== "string") return null;
  return readId(body) ?? null;
}

function envelopeVersion(params: Record<string, unknown> | null): string | null | undefined {
  const meta = params?._meta;
  if (!isRecord(meta) || !Object.hasOwn(meta, PROTOCOL_VERSION_META_KEY)) return undefined;
  const version = meta[PROTOCOL_VERSION_META_KEY];
  // A non-string version can never equal the header: kept as null, which the header check refuses.
  return typeof version === "string" ? version : null;
}

interface ParsedMessage extends McpMessage {
  /** Whether the body carries the stateless envelope (`params._meta` protocol version). */
  readonly hasEnvelope: boolean;
}

function parseMessage(raw: unknown): ParsedMessage {
  if (!isRecord(raw)) throw invalid("a JSON-RPC message must be an object");
  const id = readId(raw);
  const echoId = id ?? null;
  if (raw.jsonrpc !== "2.0") throw invalid('a JSON-RPC message must have "jsonrpc": "2.0"', echoId);
  if (id === null) throw invalid("a JSON-RPC id must be a string or a number");

  if (!Object.hasOwn(raw, "method")) {
    if (id === undefined || (!Object.hasOwn(raw, "result") && !Object.hasOwn(raw, "error")))
      throw invalid("a JSON-RPC message needs a method, or an id with a result or an error");
    return {
      kind: "response",
      method: null,
      id,
      name: null,
      argumentsDigest: null,
      bodyVersion: null,
      hasEnvelope: false,
    };
  }
  const method = raw.method;
  if (typeof method !== "string" || method.length === 0)
    throw invalid("a JSON-RPC method must be a non-empty string", echoId);
  if (Object.hasOwn(raw, "params") && !isRecord(raw.params))
    throw invalid("MCP params must be an object", echoId);
  const params = isRecord(raw.params) ? raw.params : null;

  let name: string | null = null;
  let digest: string | null = null;
  const nameKey = NAME_BEARING_METHODS[method];
  if (nameKey !== undefined) {
    const value = params?.[nameKey];
    if (typeof value !== "string" || value.length === 0)
      throw invalid(`${method} needs params.${nameKey} as a non-empty string`, echoId);
    name = value;
    if (method !== "resources/read") {
      const args = params?.arguments;
      if (args !== undefined && args !== null && !isRecord(args))
        throw invalid(`${method} params.arguments must be an object`, echoId);
      digest = argumentsDigest(args);
    }
  }

  const envelope = envelopeVersion(params);
  const initializeVersion =
    method === "initialize" && typeof params?.protocolVersion === "string" ? params.protocolVersion : null;
  return {
    kind: id === undefined ? "notification" : "request",
    method,
    id: id ?? null,
    name,
    argumentsDigest: digest,
    bodyVersion: envelope ?? initializeVersion,
    hasEnvelope: envelope !== undefined,
  };
}

interface MirroredHeaders {
  readonly version: string | undefined;
  readonly method: string | undefined;
  readonly name: string | undefined;
}

function mirroredHeaders(headers: Readonly<Record<string, string>>): MirroredHeaders {
  const get = (name: string) => (Object.hasOwn(headers, name) ? headers[name] : undefined);
  return {
    version: get(MCP_PROTOCOL_VERSION_HEADER),
    method: get(MCP_METHOD_HEADER),
    name: get(MCP_NAME_HEADER),
  };
}

const isModernRevision = (version: string | null | undefined): boolean =>
  typeof version === "string" && (MODERN_REVISIONS as readonly string[]).includes(version);

/**
 * Header–body consistency of one message. Any revision: a mirrored header that is present must
 * agree with the body. Stateless revision, requests: the headers must also be present.
 */
function checkHeaders(message: ParsedMessage, mirrored: MirroredHeaders, modern: boolean): void {
  const id = message.id;
  const nameKey = message.method === null ? undefined : NAME_BEARING_METHODS[message.method];
  if (modern && message.kind === "request") {
    if (mirrored.version === undefined || mirrored.version !== message.bodyVersion)
      throw mismatch(`${MCP_PROTOCOL_VERSION_HEADER} does not match the body's protocol version`, id);
    if (mirrored.method === undefined)
      throw mismatch(`${MCP_METHOD_HEADER} is required and does not match the body's method`, id);
    if (nameKey !== undefined && mirrored.name === undefined)
      throw mismatch(`${MCP_NAME_HEADER} is required and does not match the body's params.${nameKey}`, id);
  }
  if (mirrored.version !== undefined && message.hasEnvelope && mirrored.version !== message.bodyVersion)
    throw mismatch(`${MCP_PROTOCOL_VERSION_HEADER} does not match the body's protocol version`, id);
  if (mirrored.method !== undefined && mirrored.method !== message.method)
    throw mismatch(`${MCP_METHOD_HEADER} does not match the body's method`, id);
  if (mirrored.name !== undefined) {
    if (nameKey === undefined)
      throw mismatch(`${MCP_NAME_HEADER} is set but ${message.method ?? "a response"} names nothing`, id);
    if (decodeHeaderValue(mirrored.name) !== message.name)
      throw mismatch(`${MCP_NAME_HEADER} does not match the body's params.${nameKey}`, id);
  }
}

function publicMessage(message: ParsedMessage): McpMessage {
  const { hasEnvelope: _envelope, ...rest } = message;
  return rest;
}

function read(httpMethod: string, headers: Readonly<Record<string, string>>, body: unknown): McpRequest {
  const mirrored = mirroredHeaders(headers);
  if (httpMethod !== "POST") {
    // GET (listen for server messages) and DELETE (end the session) carry no message to mirror.
    if (mirrored.method !== undefined || mirrored.name !== undefined)
      throw mismatch(
        `${httpMethod} carries no JSON-RPC message for ${MCP_METHOD_HEADER} or ${MCP_NAME_HEADER} to mirror`,
      );
    return {
      kind: "none",
      message: null,
      messages: [],
      protocolVersion: mirrored.version ?? null,
      modern: isModernRevision(mirrored.version),
    };
  }
  if (Array.isArray(body)) {
    if (body.length === 0) throw invalid("an empty JSON-RPC batch");
    if (body.length > MAX_BATCH_MESSAGES)
      throw invalid(`a JSON-RPC batch of more than ${MAX_BATCH_MESSAGES} messages`);
    const messages = body.map(parseMessage);
    if (isModernRevision(mirrored.version) || messages.some((m) => m.hasEnvelope))
      throw invalid("JSON-RPC batches are not part of the stateless MCP revision");
    // One header cannot mirror several messages: a router reading it would see only one of them.
    if (mirrored.method !== undefined || mirrored.name !== undefined)
      throw mismatch(`a batch cannot be mirrored in ${MCP_METHOD_HEADER} or ${MCP_NAME_HEADER}`);
    return {
      kind: "batch",
      message: null,
      messages: messages.map(publicMessage),
      protocolVersion: mirrored.version ?? null,
      modern: false,
    };
  }
  if (body === null || body === undefined) throw invalid("an MCP POST must carry a JSON-RPC message");
  const message = parseMessage(body);
  const modern = isModernRevision(mirrored.version) || message.hasEnvelope;
  checkHeaders(message, mirrored, modern);
  return {
    kind: message.kind,
    message: publicMessage(message),
    messages: [publicMessage(message)],
    protocolVersion: mirrored.version ?? message.bodyVersion,
    modern,
  };
}

/**
 * Reads an MCP request. `headers`: lower-case names, one value each (Envoy joins repeated headers
 * with commas, so a duplicated `Mcp-Method` never equals a method); `body`: the parsed JSON body,
 * null when there is none or it is not JSON.
 */
export function readMcpRequest(
  httpMethod: string,
  headers: Readonly<Record<string, string>>,
  body: unknown,
): McpRequestResult {
  try {
    return { ok: true, request: read(httpMethod.toUpperCase(), headers, body) };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return {
      ok: false,
      error: {
        reason: error.reason,
        jsonRpcCode:
          error.reason === "mcp_header_mismatch"
            ? JSONRPC_ERRORS.HEADER_MISMATCH
            : JSONRPC_ERRORS.INVALID_REQUEST,
        message: error.message,
        id: error.id,
      },
    };
  }
}
