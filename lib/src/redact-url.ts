import { isCredentialQueryParam } from "./credentials.js";

/**
 * Redacts the values of secret-bearing query (and fragment) parameters in a URL or request target,
 * for logs and audit rows: OAuth codes and states, tokens, keys, signatures, passwords. Names and
 * the rest of the URL stay readable. A URL without `?` or `#` is returned as is, untouched and
 * unallocated: this runs on every authorization decision.
 *
 * The credential names (keys, tokens, signatures, passwords) are lib/src/credentials.ts's list, the
 * one Envoy strips from requests too; this module adds the names that are secret in a log but must
 * still reach an upstream (OAuth codes and states, nonces).
 */
export const URL_REDACTED = "[REDACTED]";

/** Lower-case names whose values are secret in a log, beyond the credential names. */
export const LOG_SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  "code",
  "state",
  "session_state",
  "nonce",
  "code_verifier",
  "ticket",
]);

/**
 * Names that end in a secret-ish word (`x-amz-signature`, `x-goog-credential`, `page_token`,
 * `upload_key`, `db_password`) are redacted too: redacting a harmless value costs a log reader a
 * little, leaking a live one costs an account.
 */
const SECRET_SUFFIX = /(?:^|[_.-])(?:token|secret|password|signature|credential|key|apikey|assertion)s?$/;

function isSecretName(rawName: string): boolean {
  let name = rawName;
  if (name.includes("%") || name.includes("+")) {
    try {
      name = decodeURIComponent(name.replace(/\+/g, " "));
    } catch {
      return true; // undecodable: cannot tell what it is, so treat it as a secret
    }
  }
  name = name.trim().toLowerCase();
  return isCredentialQueryParam(name) || LOG_SECRET_QUERY_PARAMS.has(name) || SECRET_SUFFIX.test(name);
}

/** `a=1&code=xyz` → `a=1&code=[REDACTED]`; separators `&` and `;` are kept as they were. */
function redactParams(params: string): string {
  let out = "";
  let start = 0;
  while (start <= params.length) {
    let end = start;
    while (end < params.length && params[end] !== "&" && params[end] !== ";") end++;
    const pair = params.slice(start, end);
    const eq = pair.indexOf("=");
    const name = eq === -1 ? pair : pair.slice(0, eq);
    out += eq !== -1 && isSecretName(name) ? `${name}=${URL_REDACTED}` : pair;
    if (end < params.length) out += params[end];
    start = end + 1;
  }
  return out;
}

export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  const h = url.indexOf("#");
  if (q === -1 && h === -1) return url;
  // The fragment carries implicit-flow tokens (`#access_token=...`); it never reaches a server,
  // but a client-side URL logged by mistake should not leak either.
  const queryEnd = h === -1 ? url.length : h;
  let out: string;
  if (q !== -1 && q < queryEnd) out = `${url.slice(0, q + 1)}${redactParams(url.slice(q + 1, queryEnd))}`;
  else out = url.slice(0, queryEnd);
  if (h !== -1) out += `#${redactParams(url.slice(h + 1))}`;
  return out;
}

/** The same redaction for a query already parsed into name → value(s), e.g. policy input. */
export function redactQueryParams<T extends Record<string, string | string[]>>(query: T): T {
  let out: Record<string, string | string[]> | undefined;
  for (const name of Object.keys(query)) {
    if (!isSecretName(name)) continue;
    out ??= { ...query };
    out[name] = URL_REDACTED;
  }
  return (out ?? query) as T;
}
