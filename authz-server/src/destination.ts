import { llmRequestFacts } from "../../lib/src/handoff/llm-route.js";
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

export interface McpFacts {
  method: string | null;
  tool: string | null;
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

export function mcpFactsOf(destination: Destination, body: unknown): McpFacts | null {
  if (destination.kind !== "mcp") return null;
  if (!isRecord(body)) return { method: null, tool: null };
  const method = typeof body.method === "string" ? body.method : null;
  const params = isRecord(body.params) ? body.params : {};
  const tool = method === "tools/call" && typeof params.name === "string" ? params.name : null;
  return { method, tool };
}
