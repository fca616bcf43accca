import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Binds an account-connection flow to the browser that started it (RFC 6749 §10.12, RFC 9700 §4.7):
 * starting sets a random nonce in a `__Host-` cookie (Secure, HttpOnly, Path=/, no Domain: only this
 * origin, only over HTTPS, never readable by scripts) and stores only its SHA-256 with the state; the
 * callback and the confirmation must present the same nonce. A consent link forwarded to someone else
 * arrives without it, so their account can never be linked to the user who started the flow.
 * `SameSite=Lax`: the provider sends the browser back with a top-level GET, which carries Lax cookies.
 */
export const BINDING_COOKIE = "__Host-warden-oauth-link";

export function newBinding(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString("base64url");
}

export function bindingHash(nonce: string): string {
  return createHash("sha256").update(nonce, "utf8").digest("hex");
}

export function bindingCookie(nonce: string, maxAgeSeconds: number): string {
  return `${BINDING_COOKIE}=${nonce}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

export function clearedBindingCookie(): string {
  return `${BINDING_COOKIE}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax`;
}

/** The nonce in a Cookie header, if exactly one well-formed binding cookie is there. */
export function bindingFrom(cookieHeader: string | undefined): string | null {
  if (!cookieHeader) return null;
  const values = cookieHeader
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${BINDING_COOKIE}=`))
    .map((part) => part.slice(BINDING_COOKIE.length + 1));
  if (values.length !== 1 || !/^[A-Za-z0-9_-]{43}$/.test(values[0]!)) return null;
  return values[0]!;
}

/** Constant-time comparison of the presented nonce with the stored hash; false when either is missing. */
export function bindingMatches(nonce: string | null, storedHash: string | null): boolean {
  if (nonce === null || storedHash === null || !/^[0-9a-f]{64}$/.test(storedHash)) return false;
  return timingSafeEqual(Buffer.from(bindingHash(nonce), "hex"), Buffer.from(storedHash, "hex"));
}
