import type { FastifyReply } from "fastify";
import { noteRefusal } from "../audit/refusals.js";

/**
 * OAuth 2.0 errors (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8693 §2.2.2) in their own JSON shape
 * `{ "error", "error_description" }`, as OAuth clients expect, never the API's error object.
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "invalid_target"
  | "unsupported_token_type"
  | "temporarily_unavailable"
  | "server_error";

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_token_type: 400,
  temporarily_unavailable: 503,
  server_error: 500,
};

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
  ) {
    super(description);
    this.name = "OAuthError";
  }

  get status(): number {
    return STATUS[this.code];
  }
}

export function sendOAuthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  // RFC 6749 §5.2: a failed client authentication answers 401 with the scheme the client should use.
  if (error.code === "invalid_client") void reply.header("www-authenticate", 'TLS realm="warden"');
  if (error.status < 500) noteRefusal(reply.request, { code: error.code, message: error.description });
  return reply
    .status(error.status)
    .header("cache-control", "no-store")
    .type("application/json")
    .send({ error: error.code, error_description: error.description });
}
