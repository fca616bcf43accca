/**
 * Where credentials can hide in a request, kept in one place: every component that removes,
 * redacts or logs request data reads these lists (extproc-server strips the headers, authz-server
 * strips the query parameters and redacts both from the policy input and its logs, the logger
 * redacts both). Agents hold no credentials: anything they send under these names is removed before
 * the request goes upstream, where Warden injects the one real credential.
 *
 * Maintaining the lists: add a name when a provider, SaaS API or common gateway accepts a credential
 * under it (docs/security.md, "Request path"). Names are compared lower-case. A service that accepts
 * a credential under a name of its own lists it in the SaaS catalogue (`credential_headers`).
 */
export const CREDENTIAL_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  // RFC 7235 and cookies
  "authorization",
  "proxy-authorization",
  "cookie",
  "cookie2",
  // API keys (OpenAI-compatible, Anthropic, Azure, Google, API gateways)
  "x-api-key",
  "api-key",
  "apikey",
  "x-apikey",
  "x-goog-api-key",
  "ocp-apim-subscription-key",
  "x-functions-key",
  // Session and access tokens (GitLab, Atlassian, AWS, Google IAM, generic gateways)
  "x-auth-token",
  "x-access-token",
  "x-session-token",
  "x-refresh-token",
  "x-id-token",
  "x-csrf-token",
  "x-xsrf-token",
  "private-token",
  "job-token",
  "x-gitlab-token",
  "x-amz-security-token",
  "x-goog-iam-authorization-token",
  "x-ms-token-aad-access-token",
  "x-ms-token-aad-id-token",
]);

/**
 * Query-string parameters that carry credentials (Google AI's `?key=`, OAuth's `?access_token=`,
 * signed URLs). Compared lower-case, with `-` and `_` treated alike.
 */
export const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set([
  "key",
  "api_key",
  "apikey",
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "auth",
  "auth_token",
  "session_token",
  "private_token",
  "client_secret",
  "client_assertion",
  "assertion",
  "subject_token",
  "actor_token",
  "jwt",
  "password",
  "passwd",
  "pwd",
  "secret",
  "sig",
  "signature",
  "x_amz_security_token",
  "x_amz_credential",
  "x_amz_signature",
  "x_goog_credential",
  "x_goog_signature",
  "subscription_key",
]);

/** Response headers that carry credentials or session state; never passed back to an agent. */
export const CREDENTIAL_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "set-cookie",
  "set-cookie2",
  "authorization",
  "proxy-authorization",
  "proxy-authenticate",
  "www-authenticate",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "x-auth-token",
  "x-access-token",
  "x-amz-security-token",
]);

export const REDACTED = "[REDACTED]";

/** True for a request header name that carries a credential (any case). */
export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_REQUEST_HEADERS.has(name) || CREDENTIAL_REQUEST_HEADERS.has(name.toLowerCase());
}

/** True for a query parameter name that carries a credential (any case, `-` same as `_`). */
export function isCredentialQueryParam(name: string): boolean {
  return (
    CREDENTIAL_QUERY_PARAMS.has(name) || CREDENTIAL_QUERY_PARAMS.has(name.toLowerCase().replace(/-/g, "_"))
  );
}

/** Returns a copy of lower-cased headers with credential values replaced by a marker. */
export function redactCredentialHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = CREDENTIAL_REQUEST_HEADERS.has(name) ? REDACTED : value;
  }
  return out;
}

/** Replaces credential query values in place by the marker; returns the names it redacted. */
export function redactCredentialQuery(query: Record<string, string | string[]>): string[] {
  const names: string[] = [];
  for (const name of Object.keys(query)) {
    if (!isCredentialQueryParam(name)) continue;
    query[name] = REDACTED;
    names.push(name);
  }
  return names;
}
