import type { envoy, google } from "../gen/envoy.js";
import { toStruct } from "../envoy/struct.js";

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
  /** `x-warden-*` headers the policy itself added upstream: kept, where agent-sent ones are removed. */
  readonly policyHeaders: readonly string[];
  /** From the policy's decision metadata (`policy`): the agent's team, for budgets and reports. */
  readonly team: string | null;
  /** From the policy's decision metadata: the LLM model it allowed, aliases resolved. */
  readonly model: string | null;
}

/** What authz-server decides on its own; `team` and `model` travel inside the policy's metadata. */
export type HandOffFacts = Omit<AuthzHandOff, "team" | "model">;

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
function policyFacts(value: Value): { team: string | null; model: string | null } {
  const fields = value?.structValue?.fields;
  const text = (key: string): string | null => {
    const item = fields?.[key]?.stringValue;
    return typeof item === "string" && item !== "" ? item : null;
  };
  return { team: text("team"), model: text("model") };
}
