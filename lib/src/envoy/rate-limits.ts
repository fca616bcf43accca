import { UNKNOWN_TENANT } from "../audit/event.js";
import {
  DESCRIPTOR_KEYS,
  FAIL_CLOSED_METADATA_KEY,
  RATE_LIMIT_DOMAIN,
  RATE_LIMIT_SCOPES,
  type RateLimitScope,
  type RateLimitUnit,
} from "../ratelimit/definitions.js";
import { TOKEN_LIMIT_SCOPES } from "../ratelimit/descriptors.js";
import { millis, typed, type JsonObject } from "./config-json.js";
import { EXT_AUTHZ_NAMESPACE, RATELIMIT_CLUSTER, type DestinationConfig, type Params } from "./params.js";

/**
 * Rate limits in the sidecar (docs/rate-limits.md):
 *
 * - shared limits: Envoy's global rate-limit protocol to envoyproxy/ratelimit (Redis behind it).
 *   Stage 0 counts every request against every limit that applies to it and lets the request
 *   through when the service cannot answer (fail open).
 * - fail-closed limits: stage 1 runs only for requests the decision puts under a fail-closed limit
 *   (policy metadata `rate_limit_fail_closed`); it asks a question that counts nothing, and refuses
 *   the request (503) when the service cannot answer. So an outage of the service refuses exactly
 *   the requests under a fail-closed limit, and no request is counted twice.
 * - a per-sidecar token bucket (envoy.filters.http.local_ratelimit), no network call at all.
 *
 * Descriptors come from the ext_authz decision (dynamic metadata only authz-server writes) and the
 * route Envoy matched; nothing the agent sends can name another tenant's bucket. A descriptor whose
 * value is missing (no team, no tool) is not sent: nothing is limited on its behalf.
 */
export const LOCAL_RATELIMIT_FILTER = "envoy.filters.http.local_ratelimit";
export const RATELIMIT_FILTER = "envoy.filters.http.ratelimit";
const COUNTING_STAGE = 0;
const FAIL_CLOSED_STAGE = 1;

export function globalRateLimitFilters(params: Params): JsonObject[] {
  const rateLimit = params.rateLimit;
  if (rateLimit === null) return [];
  const filter = (stage: number, failClosed: boolean): JsonObject => ({
    name: failClosed ? `${RATELIMIT_FILTER}.fail_closed` : RATELIMIT_FILTER,
    typed_config: typed("envoy.extensions.filters.http.ratelimit.v3.RateLimit", {
      domain: RATE_LIMIT_DOMAIN,
      stage,
      request_type: "external",
      timeout: millis(rateLimit.timeoutMs),
      failure_mode_deny: failClosed,
      // The status of a refusal because the service could not answer.
      status_on_error: { code: 503 },
      rate_limit_service: {
        grpc_service: { envoy_grpc: { cluster_name: RATELIMIT_CLUSTER } },
        transport_api_version: "V3",
      },
      // x-ratelimit-limit/-remaining/-reset on every answer; -reset becomes Retry-After on a 429.
      ...(failClosed ? {} : { enable_x_ratelimit_headers: "DRAFT_VERSION_03" }),
      disable_x_envoy_ratelimited_header: true,
    }),
  });
  return [filter(COUNTING_STAGE, false), filter(FAIL_CLOSED_STAGE, true)];
}

/** The per-sidecar bucket: shared by every request through this sidecar, refilled every second. */
export function localRateLimitFilter(params: Params): JsonObject[] {
  const local = params.localRateLimit;
  if (local === null) return [];
  const perSecond = Math.max(1, Math.floor(local.requestsPerMinute / 60));
  return [
    {
      name: LOCAL_RATELIMIT_FILTER,
      typed_config: typed("envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit", {
        stat_prefix: "warden_local_ratelimit",
        token_bucket: {
          max_tokens: local.burst ?? perSecond,
          tokens_per_fill: perSecond,
          fill_interval: "1s",
        },
        filter_enabled: { default_value: { numerator: 100, denominator: "HUNDRED" } },
        filter_enforced: { default_value: { numerator: 100, denominator: "HUNDRED" } },
        enable_x_ratelimit_headers: "DRAFT_VERSION_03",
        // The agent's SDK waits this long before it tries again (the bucket refills every second).
        response_headers_to_add: [
          { header: { key: "retry-after", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
        ],
      }),
    },
  ];
}

function authzValue(descriptorKey: string, path: readonly string[], defaultValue?: string): JsonObject {
  return {
    metadata: {
      descriptor_key: descriptorKey,
      metadata_key: { key: EXT_AUTHZ_NAMESPACE, path: path.map((key) => ({ key })) },
      source: "DYNAMIC",
      ...(defaultValue === undefined ? {} : { default_value: defaultValue }),
    },
  };
}

function fixed(descriptorKey: string, value: string): JsonObject {
  return { generic_key: { descriptor_key: descriptorKey, descriptor_value: value } };
}

/** Where each scope's subject comes from (the decision's metadata, or the route itself). */
function subjectAction(scope: string, destination: DestinationConfig): JsonObject | null {
  switch (scope) {
    case "team":
      return authzValue(DESCRIPTOR_KEYS.subject, ["policy", "team"]);
    case "agent":
      return authzValue(DESCRIPTOR_KEYS.subject, ["agent_spiffe_id"]);
    case "route":
      return fixed(DESCRIPTOR_KEYS.subject, destination.name);
    case "tool":
      return destination.kind === "mcp"
        ? authzValue(DESCRIPTOR_KEYS.subject, ["policy", "mcp", "name"])
        : null;
    default:
      return null;
  }
}

/**
 * Which limits a route's requests are checked against: requests per minute everywhere, and on LLM
 * routes LLM tokens per minute too. A token descriptor is checked before the call (the service adds
 * 1, as it never adds 0: a call costs at least one token) and charged the rest of the call's tokens
 * by extproc-server after the response (lib/src/ratelimit/descriptors.ts), so a tenant past its
 * token limit is refused from its next call on.
 */
function unitScopes(destination: DestinationConfig): [RateLimitUnit, RateLimitScope][] {
  const out: [RateLimitUnit, RateLimitScope][] = RATE_LIMIT_SCOPES.map((scope) => ["requests", scope]);
  if (destination.kind === "llm") for (const scope of TOKEN_LIMIT_SCOPES) out.push(["tokens", scope]);
  return out;
}

/** The route's `rate_limits`: one descriptor per unit and scope, and the fail-closed probe. */
export function routeRateLimits(destination: DestinationConfig, params: Params): JsonObject[] {
  if (params.rateLimit === null) return [];
  const out: JsonObject[] = [];
  for (const [unit, scope] of unitScopes(destination)) {
    const actions: JsonObject[] = [
      fixed(DESCRIPTOR_KEYS.unit, unit),
      fixed(DESCRIPTOR_KEYS.scope, scope),
      // A request without a tenant (no registered agent) counts under the audit log's "unknown".
      authzValue(DESCRIPTOR_KEYS.tenant, ["tenant"], UNKNOWN_TENANT),
    ];
    if (scope !== "tenant") {
      const subject = subjectAction(scope, destination);
      if (subject === null) continue;
      actions.push(subject);
    }
    out.push({ stage: COUNTING_STAGE, actions });
  }
  // No limit in the service's YAML matches this descriptor: it only proves the service answers.
  out.push({
    stage: FAIL_CLOSED_STAGE,
    actions: [authzValue("fail_closed", ["policy", FAIL_CLOSED_METADATA_KEY])],
  });
  return out;
}
