import { constantTimeEqual, hmac } from "./crypto.js";

/** The hidden form field every state-changing form carries (layout.ts `csrfField`). */
export const CSRF_FIELD = "_csrf";

/** The synchronizer token of a session: bound to its id, never stored, the same for its lifetime. */
export function csrfToken(sessionId: string): string {
  return hmac(sessionId, "warden-portal-csrf");
}

export function validCsrfToken(sessionId: string, presented: unknown): boolean {
  return typeof presented === "string" && constantTimeEqual(presented, csrfToken(sessionId));
}

/**
 * A state change must come from the portal's own pages. Browsers say where a request comes from in
 * `Sec-Fetch-Site` (authoritative where sent) and `Origin`; with our `Referrer-Policy: no-referrer`
 * Chromium sends `Origin: null` on same-origin form posts, so `null` alone proves nothing either
 * way. A request that shows neither a same-origin `Sec-Fetch-Site` nor our `Origin` is refused
 * (fail closed), as is any other real origin.
 */
export function sameOriginRequest(
  headers: { origin?: string | undefined; "sec-fetch-site"?: string | undefined },
  portalOrigin: string,
): boolean {
  const { origin } = headers;
  if (origin !== undefined && origin !== "null" && origin !== portalOrigin) return false;
  const site = headers["sec-fetch-site"];
  if (site !== undefined) return site === "same-origin";
  return origin === portalOrigin;
}
