import { isCredentialQueryParam } from "../../lib/src/credentials.js";

/**
 * Credentials inside URLs that an upstream hands back in response headers (a redirect to a signed
 * download, a paging `Link` carrying `?key=`, a `Refresh` to a page with `access_token=`): the query
 * parameters that carry credentials get their value replaced, and so does a password in the URL's
 * user-info. Pure and allocation-free when nothing matches.
 */
/** Response headers whose value is, or contains, a URL. */
export const URL_VALUED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "location",
  "content-location",
  "refresh",
  "link",
]);

/**
 * A query parameter that carries a credential: lib/src/credentials.ts's list, the one stripped from
 * agents' requests too, plus `code` (an OAuth authorization code in a redirect is a credential here).
 */
function isUrlCredential(name: string): boolean {
  return name === "code" || isCredentialQueryParam(name);
}

export const URL_REDACTED = "REDACTED";

// `?name=value` or `&name=value` (also `;`), the value up to the next delimiter of a URL inside a
// header (`&`, `#`, `>` of a Link, quotes, white space, `,` between Link values).
const QUERY_PARAM = /([?&;])([^=&#<>"'\s,;?]+)=([^&#<>"'\s,;]*)/g;
// scheme://user:password@host
const USER_INFO = /(\/\/[^/@\s:<>"]*):([^/@\s<>"]*)@/g;

/** The value with credential-bearing parameters and user-info passwords redacted, or undefined when unchanged. */
export function scrubUrlCredentials(value: string): string | undefined {
  if (!value.includes("=") && !value.includes("@")) return undefined;
  let changed = false;
  let out = value.replace(QUERY_PARAM, (match, sep: string, name: string, param: string) => {
    if (param === URL_REDACTED || !isUrlCredential(decodeName(name))) return match;
    changed = true;
    return `${sep}${name}=${URL_REDACTED}`;
  });
  out = out.replace(USER_INFO, (match, before: string, password: string) => {
    if (password === URL_REDACTED) return match;
    changed = true;
    return `${before}:${URL_REDACTED}@`;
  });
  return changed ? out : undefined;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}
