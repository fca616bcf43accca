import { codeForStatus } from "../../lib/src/errors.js";
import { agentErrorJson, type ErrorDialect } from "../../lib/src/llm/error-shapes.js";
import { authzHeaderOption as headerOption } from "../../lib/src/envoy/headers.js";
import type { ICheckResponse } from "../../lib/src/envoy/services.js";
import { toStruct } from "../../lib/src/envoy/struct.js";
import {
  DECISION_ID_HEADER,
  DELEGATION_HEADER,
  encodeHandOff,
  WARDEN_HEADER_PREFIX,
  type HandOffFacts,
} from "../../lib/src/handoff/contract.js";
import type { PolicyDecision } from "./policy/decision.js";

/** Step 5: a decision becomes the Envoy CheckResponse. */
export type Decision = PolicyDecision;

/** The words for the agent: the policy's `metadata.message` when it gave one, else the reason code. */
export function decisionMessage(decision: Decision): string {
  const message = decision.metadata.message;
  return typeof message === "string" && message.length > 0 ? message : decision.reason;
}

export { DECISION_ID_HEADER, DELEGATION_HEADER } from "../../lib/src/handoff/contract.js";

// HTTP statuses a denial may carry; anything else a policy returns becomes 403 (fail closed).
const DENY_STATUSES: ReadonlySet<number> = new Set([400, 401, 402, 403, 404, 409, 413, 429, 500, 502, 503]);
const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;

const JSON_CONTENT_TYPE = headerOption("content-type", "application/json");

/**
 * `credentialQuery`: query parameters that carry a credential (lib/src/credentials.ts); Envoy removes
 * them before the request goes upstream, where the injected credential is the only one.
 * `agentHeaderNames`: the names the agent sent. Only Warden writes `x-warden-*` headers upstream, so
 * any the agent sent are removed (unless this decision sets them); the delegation token proves the
 * grant to us and the upstream must never see it. `forwardDelegation`: the upstream is a Warden
 * inbound sidecar (mTLS, pinned SPIFFE ID), which verifies the delegation again, injects the user's
 * credential and removes the token before the MCP server.
 */
export function okResponse(
  decision: Decision,
  handOff: HandOffFacts,
  agentHeaderNames: readonly string[],
  credentialQuery: readonly string[] = [],
  forwardDelegation = false,
): ICheckResponse {
  const headers = [headerOption(DECISION_ID_HEADER, handOff.decisionId)];
  for (const [name, value] of Object.entries(decision.headers)) headers.push(headerOption(name, value));
  const headersToRemove = forwardDelegation ? [] : [DELEGATION_HEADER];
  for (const name of agentHeaderNames) {
    if (
      name.startsWith(WARDEN_HEADER_PREFIX) &&
      name !== DELEGATION_HEADER &&
      name !== DECISION_ID_HEADER &&
      !Object.hasOwn(decision.headers, name)
    ) {
      headersToRemove.push(name);
    }
  }
  return {
    status: { code: GRPC_OK },
    okResponse: {
      headers,
      headersToRemove,
      ...(credentialQuery.length > 0 ? { queryParametersToRemove: credentialQuery.slice() } : {}),
      responseHeadersToAdd: [headerOption(DECISION_ID_HEADER, handOff.decisionId)],
    },
    dynamicMetadata: encodeHandOff(handOff, decision.metadata),
  };
}

/**
 * A denial as the agent sees it: the HTTP status and `{ error: { code, message, decision_id } }`.
 * `code` is the policy's stable reason code (e.g. `kya_expired`), `message` the words for a person.
 * On LLM routes the body takes the provider's error shape (`dialect`, lib/src/llm/error-shapes.ts).
 */
export function deniedResponse(
  status: number,
  code: string,
  message: string,
  decisionId: string,
  dialect: ErrorDialect = "warden",
): ICheckResponse {
  const httpStatus = DENY_STATUSES.has(status) ? status : 403;
  return refusalResponse(
    httpStatus,
    code,
    agentErrorJson(dialect, httpStatus, code || codeForStatus(httpStatus), message, decisionId),
    decisionId,
  );
}

/**
 * A refusal with a body built by the caller (MCP's JSON-RPC errors, which echo the request's id).
 * `httpStatus` may be 200: a refused MCP request is answered as a JSON-RPC error in an HTTP 200, so
 * the official SDKs raise their usual error (the decision record keeps the policy's status).
 */
export function refusalResponse(
  httpStatus: number,
  code: string,
  body: string,
  decisionId: string,
): ICheckResponse {
  const status = httpStatus === 200 || DENY_STATUSES.has(httpStatus) ? httpStatus : 403;
  return {
    status: { code: status === 401 ? GRPC_UNAUTHENTICATED : GRPC_PERMISSION_DENIED, message: code },
    deniedResponse: {
      status: { code: status },
      headers: [JSON_CONTENT_TYPE, headerOption(DECISION_ID_HEADER, decisionId)],
      body,
    },
    dynamicMetadata: toStruct({ decision_id: decisionId }),
  };
}
