import { DECISION_ID_HEADER } from "../handoff/contract.js";
import { agentErrorBody, errorDialectOf, type ErrorDialect } from "../llm/error-shapes.js";
import { typed, type Json, type JsonObject } from "./config-json.js";
import { EXT_AUTHZ_NAMESPACE, type Params } from "./params.js";

/**
 * Envoy's own error responses become the JSON error body of the brief. Replies that carry our
 * servers' own JSON pass through untouched (there is no top-level body_format, and every mapper
 * requires this): an ext_authz denial, whose body authz-server always writes, and any local reply
 * that already has content-type application/json (an ext_proc immediate response).
 */
const NOT_OURS =
  "response.code_details != 'ext_authz_denied' && " +
  "!('content-type' in response.headers && response.headers['content-type'].startsWith('application/json'))";

interface ErrorMapping {
  when: string;
  /** Replaces Envoy's status. */
  status?: number;
  code: string;
  message: string;
  /** Extra headers (values may use Envoy's formatter). */
  headers?: Readonly<Record<string, string>>;
}

const ERROR_MAPPINGS: ErrorMapping[] = [
  {
    when: "response.code_details == 'ext_authz_error'",
    status: 503,
    code: "unavailable",
    message: "authorization service unavailable",
  },
  {
    when: "response.code_details.startsWith('ext_proc_error')",
    status: 503,
    code: "unavailable",
    message: "request processing service unavailable",
  },
  {
    // A shared limit refused it: the service's window resets in x-ratelimit-reset seconds.
    when: "response.code_details == 'request_rate_limited'",
    status: 429,
    code: "rate_limited",
    message: "rate limit exceeded",
    headers: { "retry-after": "%RESP(x-ratelimit-reset)%" },
  },
  {
    when: "response.code_details == 'rate_limiter_error'",
    status: 503,
    code: "unavailable",
    message: "rate-limit service unavailable (the limit is fail-closed)",
  },
  {
    when: "response.code_details == 'local_rate_limited'",
    status: 429,
    code: "rate_limited",
    message: "this sidecar's rate limit is exceeded",
  },
  {
    when: "response.code_details == 'direct_response' && response.code == 404",
    code: "not_found",
    message: "no route for %REQ_WITHOUT_QUERY(:PATH)%",
  },
  { when: "response.code == 400", code: "bad_request", message: "bad request" },
  { when: "response.code == 404", code: "not_found", message: "not found" },
  { when: "response.code == 408", code: "bad_request", message: "request timed out" },
  { when: "response.code == 413", code: "payload_too_large", message: "request too large" },
  { when: "response.code == 431", code: "bad_request", message: "request headers too large" },
  { when: "response.code == 429", code: "rate_limited", message: "too many requests" },
  { when: "response.code == 502", code: "upstream_unavailable", message: "upstream unavailable" },
  { when: "response.code == 503", code: "unavailable", message: "upstream unavailable" },
  { when: "response.code == 504", code: "upstream_unavailable", message: "upstream timed out" },
  { when: "response.code >= 500", code: "internal", message: "internal error" },
  { when: "response.code >= 400", code: "bad_request", message: "request refused" },
];

/** Query strings can carry keys (Google AI accepts `?key=`): paths are logged and echoed without. */
export const REQ_WITHOUT_QUERY: JsonObject = {
  name: "envoy.formatter.req_without_query",
  typed_config: typed("envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery", {}),
};

const DECISION_ID = `%DYNAMIC_METADATA(${EXT_AUTHZ_NAMESPACE}:decision_id)%`;

/** The status a mapping answers with, for the error type its body names (catch-alls: 500 / 400). */
function mappingStatus(mapping: ErrorMapping): number {
  return mapping.status ?? Number(/response\.code [=>]= (\d+)/.exec(mapping.when)?.[1] ?? 500);
}

/** json_format takes strings, numbers and structs only: a null (OpenAI's `param`) is left out. */
function withoutNulls(value: unknown): Json {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== "object" || value === null) return value as Json;
  const out: JsonObject = {};
  for (const [key, field] of Object.entries(value)) if (field !== null) out[key] = withoutNulls(field);
  return out;
}

/**
 * On LLM routes Envoy's own errors take the provider's error shape too (lib/src/llm/error-shapes.ts),
 * so a 504 reaches the agent's SDK like one from the provider: a mapper per dialect, chosen by the
 * route's name (`xds.route_name`; a reply without a route falls through to Warden's shape).
 */
export function localReplyConfig(params: Params): JsonObject {
  const routesByDialect = new Map<ErrorDialect, string[]>();
  for (const destination of params.destinations) {
    const dialect = errorDialectOf(destination.service, destination.kind);
    if (dialect !== "warden")
      routesByDialect.set(dialect, [...(routesByDialect.get(dialect) ?? []), destination.name]);
  }
  const mappers: JsonObject[] = [];
  for (const mapping of ERROR_MAPPINGS) {
    for (const [dialect, routes] of routesByDialect) {
      const names = routes.map((name) => `'${name}'`).join(", ");
      mappers.push(localReplyMapper(mapping, dialect, `xds.route_name in [${names}] && (${mapping.when})`));
    }
    mappers.push(localReplyMapper(mapping, "warden", mapping.when));
  }
  return { mappers };
}

function localReplyMapper(mapping: ErrorMapping, dialect: ErrorDialect, when: string): JsonObject {
  const mapper: JsonObject = {
    filter: celFilter(`${NOT_OURS} && (${when})`),
    body_format_override: {
      // decision_id: null until ext_authz has decided (a missing value renders as JSON null).
      json_format: withoutNulls(
        agentErrorBody(dialect, mappingStatus(mapping), mapping.code, mapping.message, DECISION_ID),
      ),
      content_type: "application/json",
      formatters: [REQ_WITHOUT_QUERY],
    },
    // The agent quotes this id to an operator; it is the same one the body carries.
    headers_to_add: [
      {
        header: { key: DECISION_ID_HEADER, value: DECISION_ID },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
      },
      ...Object.entries(mapping.headers ?? {}).map(([key, value]) => ({
        header: { key, value },
        append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
        keep_empty_value: false,
      })),
    ],
  };
  if (mapping.status !== undefined) mapper.status_code = mapping.status;
  return mapper;
}

function celFilter(expression: string): JsonObject {
  return {
    extension_filter: {
      name: "envoy.access_loggers.extension_filters.cel",
      typed_config: typed("envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter", { expression }),
    },
  };
}
