import { UNKNOWN_TENANT } from "../audit/event.js";
import type { FailureMode, RateLimitDefinition, RateLimitScope, RateLimitUnit } from "./definitions.js";

/**
 * Which stored limits a request falls under, from the same values the sidecar builds its
 * descriptors from (lib/src/envoy/rate-limits.ts): the decision's tenant ("unknown" when none), team,
 * agent SPIFFE ID, the route's destination name, and the MCP tool. Token limits apply to LLM routes
 * only, tool limits to MCP routes only, as in the sidecar. Pure; authz-server uses it to hand the
 * policy `input.rate_limits` and to mark requests under a fail-closed limit.
 */
export interface LimitSubjects {
  readonly tenant: string | null;
  readonly team: string | null;
  readonly agentSpiffeId: string | null;
  /** The destination (Envoy route) name, e.g. `openai`, `mcp-files`. */
  readonly route: string | null;
  readonly tool: string | null;
  /** The destination's kind: `llm`, `saas`, `tool`, `mcp`. */
  readonly kind: string;
}

/** One applicable limit as the policy reads it (`input.rate_limits[_]`). */
export interface RateLimitFacts {
  scope: RateLimitScope;
  subject: string;
  unit: RateLimitUnit;
  per_minute: number;
  failure_mode: FailureMode;
}

/** The limits of every tenant, grouped by tenant: a request only ever reads its own tenant's. */
export type LimitsByTenant = ReadonlyMap<string, readonly RateLimitDefinition[]>;

export function groupByTenant(definitions: readonly RateLimitDefinition[]): LimitsByTenant {
  const out = new Map<string, RateLimitDefinition[]>();
  for (const definition of definitions) {
    const list = out.get(definition.tenant) ?? [];
    list.push(definition);
    out.set(definition.tenant, list);
  }
  return out;
}

/** The value a scope's descriptor carries for a request (null: no descriptor, nothing limited). */
export function subjectFor(scope: RateLimitScope, subjects: LimitSubjects, tenant: string): string | null {
  switch (scope) {
    case "tenant":
      return tenant;
    case "team":
      return subjects.team;
    case "agent":
      return subjects.agentSpiffeId;
    case "route":
      return subjects.route;
    case "tool":
      return subjects.kind === "mcp" ? subjects.tool : null;
  }
}

export function applicableLimits(limits: LimitsByTenant, subjects: LimitSubjects): RateLimitFacts[] {
  const tenant = subjects.tenant ?? UNKNOWN_TENANT;
  const out: RateLimitFacts[] = [];
  for (const limit of limits.get(tenant) ?? []) {
    if (limit.unit === "tokens" && (subjects.kind !== "llm" || limit.scope === "tool")) continue;
    const subject = subjectFor(limit.scope, subjects, tenant);
    if (subject !== limit.subject) continue;
    out.push({
      scope: limit.scope,
      subject: limit.subject,
      unit: limit.unit,
      per_minute: limit.perMinute,
      failure_mode: limit.failureMode,
    });
  }
  return out;
}
