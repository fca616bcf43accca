import type { FastifyReply } from "fastify";

/**
 * Strict CSP: our own script and stylesheet files only, no inline code, no framing, forms to us.
 * `form-action` also names the identity provider and the SaaS providers' consent pages: browsers
 * apply it to the redirect that follows a form post (sign-out, connect an account), not only to the
 * form's own action.
 */
export function contentSecurityPolicy(formRedirectOrigins: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["form-action 'self'", ...new Set(formRedirectOrigins)].join(" "),
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

const PAGE_HEADERS: Record<string, string> = {
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-store",
};

export type SetSecurityHeaders = (reply: FastifyReply, cacheable?: boolean) => void;

/** Sets the headers of every portal answer (pages, redirects; static files may be cached). */
export function securityHeaders(formRedirectOrigins: readonly string[]): SetSecurityHeaders {
  const policy = contentSecurityPolicy(formRedirectOrigins);
  return (reply, cacheable = false) => {
    void reply.header("content-security-policy", policy);
    for (const [name, value] of Object.entries(PAGE_HEADERS)) void reply.header(name, value);
    if (cacheable) void reply.header("cache-control", "public, max-age=300");
  };
}
