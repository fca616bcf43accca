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
 * A state change must come from the portal's own pages: the browser's `Origin` must be the portal's,
 * or, without one, `Sec-Fetch-Site` must say same-origin. A request with neither is refused (fail
 * closed): every browser that can submit our forms sends at least one of them on a POST.
 */
export function sameOriginRequest(
  headers: { origin?: string | undefined; "sec-fetch-site"?: string | undefined },
  portalOrigin: string,
): boolean {
  if (headers.origin !== undefined) return headers.origin === portalOrigin;
  return headers["sec-fetch-site"] === "same-origin";
}
