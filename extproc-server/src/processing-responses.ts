import { headerOption } from "../../lib/src/envoy/headers.js";
import type { IProcessingResponse } from "../../lib/src/envoy/services.js";
import type { ErrorCode } from "../../lib/src/errors.js";
import { agentErrorJson, type ErrorDialect } from "../../lib/src/llm/error-shapes.js";
import type { envoy } from "../../lib/src/gen/envoy.js";
import { DECISION_ID_HEADER } from "./request-headers.js";

type HeaderMutation = envoy.service.ext_proc.v3.IHeaderMutation;
type ProcessingMode = envoy.extensions.filters.http.ext_proc.v3.IProcessingMode;

// envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode
export const BODY_STREAMED = 1;
export const BODY_BUFFERED = 2;

/**
 * Answers that change nothing, built once: a streamed body chunk costs no allocation on our side.
 * Each phase must be answered with its own kind of response, or Envoy drops the stream.
 */
export const CONTINUE: Readonly<{
  requestHeaders: IProcessingResponse;
  responseHeaders: IProcessingResponse;
  requestBody: IProcessingResponse;
  responseBody: IProcessingResponse;
  requestTrailers: IProcessingResponse;
  responseTrailers: IProcessingResponse;
}> = Object.freeze({
  requestHeaders: Object.freeze({ requestHeaders: Object.freeze({}) }),
  responseHeaders: Object.freeze({ responseHeaders: Object.freeze({}) }),
  requestBody: Object.freeze({ requestBody: Object.freeze({}) }),
  responseBody: Object.freeze({ responseBody: Object.freeze({}) }),
  requestTrailers: Object.freeze({ requestTrailers: Object.freeze({}) }),
  responseTrailers: Object.freeze({ responseTrailers: Object.freeze({}) }),
});

type HeadersPhase = "requestHeaders" | "responseHeaders";

/** The answer to a headers message: CONTINUE unless there are edits or a processing mode to switch to. */
export function headersResponse(
  phase: HeadersPhase,
  mutation: HeaderMutation | undefined,
  modeOverride?: ProcessingMode,
): IProcessingResponse {
  if (!mutation && !modeOverride) return CONTINUE[phase];
  const response: IProcessingResponse = {
    [phase]: mutation ? { response: { headerMutation: mutation } } : {},
  };
  if (modeOverride) response.modeOverride = modeOverride;
  return response;
}

/** A STREAMED response body chunk replaced: no content-length to correct. */
export function responseBodyReplacement(body: Uint8Array): IProcessingResponse {
  return { responseBody: { response: { bodyMutation: { body } } } };
}

/**
 * A replaced BUFFERED request body with its new content-length: in BUFFERED mode with headers sent
 * to us, Envoy keeps the original content-length and leaves it to the processor to correct it (a
 * mismatch fails the request; envoy PR #29536).
 */
export function requestBodyReplacement(body: Uint8Array): IProcessingResponse {
  return {
    requestBody: {
      response: {
        headerMutation: { setHeaders: [headerOption("content-length", String(body.byteLength))] },
        bodyMutation: { body },
      },
    },
  };
}

export interface AgentError {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

const JSON_CONTENT_TYPE = headerOption("content-type", "application/json");

/**
 * The agent's answer when we refuse or fail: Envoy replies with this at once, upstream is not asked
 * (or its answer is replaced). The body is the JSON error of the brief; `details` lands in Envoy's
 * response code details (spaces are not allowed there). On LLM routes the body takes the provider's
 * error shape (`dialect`), so the agent's SDK raises its usual error.
 */
export function immediateErrorResponse(
  error: AgentError,
  decisionId: string,
  dialect: ErrorDialect = "warden",
): IProcessingResponse {
  return {
    immediateResponse: {
      status: { code: error.status },
      headers: { setHeaders: [JSON_CONTENT_TYPE, headerOption(DECISION_ID_HEADER, decisionId)] },
      body: Buffer.from(agentErrorJson(dialect, error.status, error.code, error.message, decisionId), "utf8"),
      details: `warden_${error.code}`,
    },
  };
}
