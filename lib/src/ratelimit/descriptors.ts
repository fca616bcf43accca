import { UNKNOWN_TENANT } from "../audit/event.js";
import { subjectFor } from "./applicable.js";
import { DESCRIPTOR_KEYS, type RateLimitScope, type RateLimitUnit } from "./definitions.js";

/**
 * The descriptors of one LLM call's token limits, as extproc-server sends them to the rate-limit
 * service after the response (with `hits_addend` = the tokens the call used). They are the same
 * entries, in the same order, as the sidecar's route builds from the same decision for the request
 * check (lib/src/envoy/rate-limits.ts), so both land on one counter. Pure.
 */
export interface TokenChargeSubjects {
  /** The decision's tenant; null counts under "unknown", as the sidecar does. */
  readonly tenant: string | null;
  readonly team: string | null;
  readonly agentSpiffeId: string | null;
  /** The destination (Envoy route) name, e.g. `openai`. */
  readonly route: string | null;
}

export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

/** The scopes a token limit can name: an LLM call has no MCP tool. */
export const TOKEN_LIMIT_SCOPES = [
  "tenant",
  "team",
  "agent",
  "route",
] as const satisfies readonly RateLimitScope[];

export function limitDescriptors(
  unit: RateLimitUnit,
  subjects: TokenChargeSubjects,
): { entries: DescriptorEntry[] }[] {
  const tenant = subjects.tenant ?? UNKNOWN_TENANT;
  const request = { ...subjects, tool: null, kind: "llm" };
  const out: { entries: DescriptorEntry[] }[] = [];
  for (const scope of TOKEN_LIMIT_SCOPES) {
    const entries: DescriptorEntry[] = [
      { key: DESCRIPTOR_KEYS.unit, value: unit },
      { key: DESCRIPTOR_KEYS.scope, value: scope },
      { key: DESCRIPTOR_KEYS.tenant, value: tenant },
    ];
    if (scope !== "tenant") {
      const subject = subjectFor(scope, request, tenant);
      // As in the sidecar: a missing value sends no descriptor (nothing is limited on its behalf).
      if (subject === null || subject === "") continue;
      entries.push({ key: DESCRIPTOR_KEYS.subject, value: subject });
    }
    out.push({ entries });
  }
  return out;
}
