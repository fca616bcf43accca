import { llmRequestFacts } from "../../lib/src/handoff/llm-route.js";
import type { McpMessage, McpRequest, McpRequestKind } from "../../lib/src/mcp/request.js";
import type { RequestFacts } from "./request-facts.js";

/** Step 2: where the request goes and what it asks for, from the Envoy route and the body. */
export type DestinationKind = "llm" | "saas" | "tool" | "mcp";

export interface Destination {
  service: string;
  kind: DestinationKind | "";
}

export interface LlmFacts {
  provider: string;
  model: string | null;
  stream: boolean;
}

/**
 * `input.mcp`: what an MCP request asks for (lib/src/mcp/request.ts). A batch is decided once as a
 * whole (kind "batch", method null: server-level access) and once per request message.
 */
export interface McpFacts {
  kind: McpRequestKind;
  method: string | null;
  /** Tool (tools/call), prompt (prompts/get) or resource URI (resources/read); else null. */
  name: string | null;
  arguments_digest: string | null;
  protocol_version: string | null;
  /** "warden": the route's upstream is a Warden inbound sidecar, which injects credentials itself. */
  upstream: "server" | "warden";
  /** Set by authz-server only, when a person approved this exact call: the approval stage passes. */
  approval_id?: string;
  /** Every message of a batch (kind, method, name, id); absent otherwise. */
  messages?: { kind: string; method: string | null; name: string | null; id: string | number | null }[];
}

const KINDS: ReadonlySet<string> = new Set(["llm", "saas", "tool", "mcp"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function destinationOf(facts: RequestFacts): Destination {
  return {
    service: facts.route.service,
    kind: KINDS.has(facts.route.kind) ? (facts.route.kind as DestinationKind) : "",
  };
}

/** The model the request names, read by the same code extproc-server meters it with (lib/src/handoff). */
export function llmFactsOf(facts: RequestFacts, destination: Destination, body: unknown): LlmFacts | null {
  if (destination.kind !== "llm") return null;
  const { model, stream } = llmRequestFacts(
    destination.service,
    facts.method,
    facts.path,
    isRecord(body) ? body : {},
  );
  return { provider: destination.service, model, stream };
}

/** The policy input of a whole MCP request (a batch as one: server-level access). */
export function mcpFactsOf(request: McpRequest, upstream: McpFacts["upstream"]): McpFacts {
  if (request.message) return mcpMessageFacts(request, request.message, upstream);
  const facts: McpFacts = {
    kind: request.kind,
    method: null,
    name: null,
    arguments_digest: null,
    protocol_version: request.protocolVersion,
    upstream,
  };
  if (request.kind === "batch")
    facts.messages = request.messages.map(({ kind, method, name, id }) => ({ kind, method, name, id }));
  return facts;
}

/** The policy input of one message (a single request, or one request of a batch). */
export function mcpMessageFacts(
  request: McpRequest,
  message: McpMessage,
  upstream: McpFacts["upstream"],
): McpFacts {
  return {
    kind: message.kind,
    method: message.method,
    name: message.name,
    arguments_digest: message.argumentsDigest,
    protocol_version: request.protocolVersion,
    upstream,
  };
}
