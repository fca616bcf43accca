/**
 * Header names that carry credentials. Agents hold no credentials, so anything they send in these
 * headers is removed before a request goes upstream, and never reaches a log or the policy input.
 */
export const CREDENTIAL_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "cookie",
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
]);

export const REDACTED = "[REDACTED]";

/** Returns a copy of lower-cased headers with credential values replaced by a marker. */
export function redactCredentialHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = CREDENTIAL_REQUEST_HEADERS.has(name) ? REDACTED : value;
  }
  return out;
}
