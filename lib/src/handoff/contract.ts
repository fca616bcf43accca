import type { envoy, google } from "../gen/envoy.js";
import { fromStructValue, toStruct } from "../envoy/struct.js";
import { readMcpVisibility, type McpVisibility } from "../mcp/visibility.js";

/**
 * The contract between authz-server and extproc-server: the decision travels as Envoy dynamic
 * metadata in this namespace (ext_proc gets it because its filter config forwards the namespace in
 * `metadata_options.forwarding_namespaces.untyped`). Keys are snake_case on the wire; both sides
 * encode and decode them here and nowhere else.
 */
export const EXT_AUTHZ_NAMESPACE = "envoy.filters.http.ext_authz";

/**
 * The header an agent sends a user's delegation (or an access token exchanged for one) in. Only
 * authz-server reads it; it is removed before anything goes upstream (docs/delegations.md).
 */
export const DELEGATION_HEADER = "x-warden-delegation";

/** The decision id, upstream and back to the agent. */
export const DECISION_ID_HEADER = "x-warden-decision-id";

/** Only Warden writes headers with this prefix upstream; agent-sent ones are removed. */
export const WARDEN_HEADER_PREFIX = "x-warden-";

/**
 * The ext_authz decision as extproc-server reads it. Only Envoy and authz-server can write it, so it
 * is the one source of identity extproc trusts; headers an agent sends prove nothing.
 */
export interface AuthzHandOff {
  readonly decisionId: string;
  readonly agentSpiffeId: string | null;
  readonly agentId: string | null;
  readonly tenant: string | null;
  readonly userId: string | null;
  readonly delegationId: string | null;
  readonly scopes: readonly string[];
  readonly service: string | null;
  readonly kind: string | null;
  readonly policyRevision: string | null;
  /**
   * `x-warden-*` headers that go upstream: the policy's own, and the delegation towards a Warden
   * inbound sidecar; every other one the agent sent is removed.
   */
  readonly policyHeaders: readonly string[];
  /** From the policy's decision metadata (`policy`): the agent's team, for budgets and reports. */
  readonly team: string | null;
  /** From the policy's decision metadata: the LLM model it allowed, aliases resolved. */
  readonly model: string | null;
  /**
   * From the policy's decision metadata on MCP routes (`mcp`, `mcp_visibility`,
   * `mcp_upstream_credentials`); absent when the policy gave none of them.
   */
  readonly mcp?: McpHandOff;
}

/** The MCP call the policy allowed (policy metadata `mcp`). */
export interface McpCallFacts {
  /** The MCP server's registered name. */
  readonly server: string;
  readonly method: string;
  /** Tool or prompt name, or resource URI; null for methods that name nothing. */
  readonly name: string | null;
  readonly argumentsDigest: string | null;
  readonly protocolVersion: string | null;
  /** The tool rule asks for the call's arguments in the audit row (secrets redacted). */
  readonly auditArguments: boolean;
}

export interface McpHandOff {
  /** null: the route is MCP but the body was not one request (a batch, a notification), or unreadable. */
  readonly call: McpCallFacts | null;
  /** On list methods; null (absent or malformed) means nothing of a list answer may be shown. */
  readonly visibility: McpVisibility | null;
  /** The external service whose user token goes upstream; null: none is injected. */
  readonly upstreamCredentials: { readonly service: string } | null;
}

/** What authz-server decides on its own; `team`, `model` and `mcp` travel inside the policy's metadata. */
export type HandOffFacts = Omit<AuthzHandOff, "team" | "model" | "mcp">;

/** The dynamic metadata authz-server returns in its CheckResponse. */
export function encodeHandOff(
  facts: HandOffFacts,
  policyMetadata: Readonly<Record<string, unknown>>,
): google.protobuf.IStruct {
  return toStruct({
    decision_id: facts.decisionId,
    policy_revision: facts.policyRevision,
    agent_spiffe_id: facts.agentSpiffeId,
    agent_id: facts.agentId,
    tenant: facts.tenant,
    user_id: facts.userId,
    delegation_id: facts.delegationId,
    scopes: facts.scopes,
    service: facts.service,
    kind: facts.kind,
    policy_headers: facts.policyHeaders,
    policy: policyMetadata,
  });
}

export type HandOffReading =
  | { readonly ok: true; readonly handOff: AuthzHandOff }
  /** `absent`: ext_authz did not run for this request. `malformed`: it ran, but we cannot read it. */
  | {
      readonly ok: false;
      readonly problem: "absent" | "malformed";
      readonly detail: string;
      readonly decisionId: string | null;
    };

type Metadata = envoy.config.core.v3.IMetadata | null | undefined;
type Value = google.protobuf.IValue | null | undefined;

class MalformedHandOff extends Error {}

const NO_SCOPES: readonly string[] = Object.freeze([]);

/** Reads the decision from the metadata Envoy forwards to ext_proc. */
export function readAuthzHandOff(metadata: Metadata): HandOffReading {
  const fields = metadata?.filterMetadata?.[EXT_AUTHZ_NAMESPACE]?.fields;
  if (!fields) return { ok: false, problem: "absent", detail: "no ext_authz metadata", decisionId: null };
  const decisionId = optionalString(fields, "decision_id");
  try {
    if (!decisionId) throw new MalformedHandOff("decision_id is missing");
    const agentSpiffeId = optionalString(fields, "agent_spiffe_id");
    if (agentSpiffeId !== null && !agentSpiffeId.startsWith("spiffe://")) {
      throw new MalformedHandOff("agent_spiffe_id is not a SPIFFE ID");
    }
    return {
      ok: true,
      handOff: {
        decisionId,
        agentSpiffeId,
        agentId: optionalString(fields, "agent_id"),
        tenant: optionalString(fields, "tenant"),
        userId: optionalString(fields, "user_id"),
        delegationId: optionalString(fields, "delegation_id"),
        scopes: stringList(fields, "scopes"),
        service: optionalString(fields, "service"),
        kind: optionalString(fields, "kind"),
        policyRevision: optionalString(fields, "policy_revision"),
        policyHeaders: stringList(fields, "policy_headers"),
        ...policyFacts(fields.policy),
      },
    };
  } catch (error) {
    if (!(error instanceof MalformedHandOff)) throw error;
    return { ok: false, problem: "malformed", detail: error.message, decisionId };
  }
}

function isNull(value: Value): boolean {
  // A decoded message carries `nullValue: 0` for JSON null; a missing key is undefined.
  return !value || (value.nullValue !== undefined && value.nullValue !== null);
}

function optionalString(fields: Record<string, google.protobuf.IValue>, key: string): string | null {
  const value = fields[key];
  if (typeof value?.stringValue === "string") return value.stringValue;
  if (isNull(value)) return null;
  throw new MalformedHandOff(`${key} is not a string`);
}

function stringList(fields: Record<string, google.protobuf.IValue>, key: string): readonly string[] {
  const value = fields[key];
  if (!value?.listValue) {
    if (isNull(value)) return NO_SCOPES;
    throw new MalformedHandOff(`${key} is not a list`);
  }
  const items = value.listValue.values ?? [];
  const out: string[] = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i]?.stringValue;
    if (typeof item !== "string") throw new MalformedHandOff(`${key} holds a non-string`);
    out[i] = item;
  }
  return out;
}

/**
 * The policy's own metadata is free-form: a field that is absent or not a string is simply unknown
 * (it never makes the decision unreadable).
 */
function policyFacts(value: Value): { team: string | null; model: string | null; mcp?: McpHandOff } {
  const fields = value?.structValue?.fields;
  const text = (key: string): string | null => {
    const item = fields?.[key]?.stringValue;
    return typeof item === "string" && item !== "" ? item : null;
  };
  const facts = { team: text("team"), model: text("model") };
  if (!fields || !MCP_KEYS.some((key) => key in fields)) return facts;
  return { ...facts, mcp: readMcpHandOff(fromStructValue(value)) };
}

const MCP_KEYS = ["mcp", "mcp_visibility", "mcp_upstream_credentials"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The MCP facts of the policy's decision metadata (plain JSON, as the policy wrote it). Free-form
 * like the rest of it: a malformed part reads as null, which every reader treats as "nothing
 * allowed" (no list item shown, no token injected).
 */
export function readMcpHandOff(policyMetadata: unknown): McpHandOff {
  const policy = isRecord(policyMetadata) ? policyMetadata : {};
  return {
    call: readMcpCall(policy.mcp),
    visibility: readMcpVisibility(policy),
    upstreamCredentials: readUpstreamCredentials(policy.mcp_upstream_credentials),
  };
}

function readMcpCall(value: unknown): McpCallFacts | null {
  if (!isRecord(value) || typeof value.server !== "string" || typeof value.method !== "string") return null;
  const textOrNull = (item: unknown): string | null =>
    typeof item === "string" && item !== "" ? item : null;
  return {
    server: value.server,
    method: value.method,
    name: textOrNull(value.name),
    argumentsDigest: textOrNull(value.arguments_digest),
    protocolVersion: textOrNull(value.protocol_version),
    auditArguments: value.audit_arguments === true,
  };
}

function readUpstreamCredentials(value: unknown): { service: string } | null {
  return isRecord(value) && typeof value.service === "string" && value.service !== ""
    ? { service: value.service }
    : null;
}
