import type { FastifyReply } from "fastify";

/** Strict CSP: our own script and stylesheet files only, no inline code, no framing, forms to us only. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

const PAGE_HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-store",
};

/** Headers of every portal answer (pages, redirects, static files: static files may be cached). */
export function setSecurityHeaders(reply: FastifyReply, cacheable = false): void {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) void reply.header(name, value);
  if (cacheable) void reply.header("cache-control", "public, max-age=300");
}
