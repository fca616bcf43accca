import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_STATUS, type ErrorCode } from "../../../lib/src/errors.js";
import {
  constraintName,
  isConnectionError,
  isUniqueViolation,
  sqlState,
} from "../../../lib/src/db/errors.js";
import { noteRefusal } from "../audit/refusals.js";
import { fieldProblems, type FieldProblem } from "./validation.js";

/**
 * Every failure the API reports: a code, an HTTP status, a message for a person, and for 400s the
 * offending fields. Mapped to JSON in one place (`sendError`); never a stack trace.
 */
const API_ERROR_CODES = [
  "bad_request",
  "unauthenticated",
  "forbidden",
  "not_found",
  "conflict",
  "precondition_failed",
  "payload_too_large",
  "unsupported_media_type",
  "precondition_required",
  "internal",
  "bad_gateway",
  "unavailable",
] as const satisfies readonly ErrorCode[];

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** The API's codes with their statuses, from the one table (lib/src/errors.ts). */
export const API_ERROR_STATUS = Object.fromEntries(
  API_ERROR_CODES.map((code) => [code, ERROR_STATUS[code]]),
) as { readonly [Code in ApiErrorCode]: (typeof ERROR_STATUS)[Code] };

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: FieldProblem[],
  ) {
    super(message);
    this.name = "ApiError";
    this.status = API_ERROR_STATUS[code];
  }
}

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);

export interface ErrorResponse {
  error: { code: string; message: string; request_id: string; details?: FieldProblem[] };
}

function fromFastify(error: FastifyError): ApiError | undefined {
  if (error.validation) {
    const details = fieldProblems(
      error.validation as Parameters<typeof fieldProblems>[0],
      error.validationContext,
    );
    return new ApiError(
      "bad_request",
      `invalid request: ${details.map((d) => `${d.field} ${d.message}`).join("; ")}`,
      details,
    );
  }
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("payload_too_large", "request body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError("unsupported_media_type", "send the request body as application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ApiError("bad_request", "request body is empty", [
        { field: "body", message: "is required" },
      ]);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiError("bad_request", "Content-Length does not match the body");
  }
  if (error instanceof SyntaxError || error.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return new ApiError("bad_request", "request body is not valid JSON", [
      { field: "body", message: "is not valid JSON" },
    ]);
  }
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    const code = (Object.entries(API_ERROR_STATUS).find(([, status]) => status === error.statusCode)?.[0] ??
      "bad_request") as ApiErrorCode;
    return new ApiError(code, error.message);
  }
  return undefined;
}

function fromDatabase(error: unknown): ApiError | undefined {
  if (isConnectionError(error)) return new ApiError("unavailable", "the database is unavailable; try again");
  if (isUniqueViolation(error)) {
    const constraint = constraintName(error) ?? "";
    if (constraint === "agents_spiffe_id_key")
      return new ApiError("conflict", "an entry with this SPIFFE ID is already registered");
    if (constraint === "agents_resource_uri")
      return new ApiError("conflict", "another MCP server already has this resource_uri");
    if (constraint === "kya_one_pending_per_agent")
      return new ApiError("conflict", "this agent already has a submission waiting for review");
    return new ApiError("conflict", "already exists");
  }
  const state = sqlState(error);
  if (state?.startsWith("22")) return new ApiError("bad_request", "a value is out of range or malformed");
  if (state === "40001" || state === "40P01")
    return new ApiError("conflict", "a concurrent change interfered; try again");
  return undefined;
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return (
    (typeof error === "object" && error !== null ? fromFastify(error as FastifyError) : undefined) ??
    fromDatabase(error) ??
    new ApiError("internal", "internal error")
  );
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError = toApiError(error);
  if (apiError.code === "internal") request.log.error({ err: error }, "request failed");
  else if (apiError.status >= 500) request.log.warn({ err: error }, "request failed: dependency unavailable");
  else noteRefusal(request, { code: apiError.code, message: apiError.message });
  const body: ErrorResponse = {
    error: { code: apiError.code, message: apiError.message, request_id: String(request.id) },
  };
  if (apiError.details?.length) body.error.details = apiError.details;
  if (apiError.code === "unauthenticated") void reply.header("www-authenticate", 'Bearer realm="warden"');
  return reply.status(apiError.status).type("application/json").send(body);
}
