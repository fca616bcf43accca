import type { Queryable } from "../../../lib/src/db/types.js";
import { newSecret, seal, sha256, unseal } from "./crypto.js";

/**
 * Server-side sessions (migration 023). The cookie carries a random id; the row is found by its
 * SHA-256 and holds the OIDC tokens sealed under a key derived from the id. Expired rows are
 * refused and removed.
 */
export const SESSION_COOKIE = "__Host-warden_session";
export const LOGIN_COOKIE = "__Host-warden_login";

/** What the identity provider gave at login; kept server-side only. */
export interface SessionTokens {
  access_token: string;
  /** Epoch seconds. */
  access_expires_at: number;
  refresh_token: string | null;
  id_token: string | null;
}

export interface Session {
  /** The raw id from the cookie: the CSRF token and the token seal derive from it. */
  id: string;
  subject: string;
  tokens: SessionTokens;
  expiresAt: Date;
}

export async function createSession(
  db: Queryable,
  subject: string,
  tokens: SessionTokens,
  expiresAt: Date,
): Promise<Session> {
  const id = newSecret();
  await db.query(
    `INSERT INTO portal_sessions (id_hash, subject, sealed_tokens, expires_at) VALUES ($1, $2, $3, $4)`,
    [sha256(id), subject, seal(id, JSON.stringify(tokens)), expiresAt],
  );
  return { id, subject, tokens, expiresAt };
}

export async function findSession(db: Queryable, id: string, now: Date): Promise<Session | null> {
  const { rows } = await db.query<{ subject: string; sealed_tokens: string; expires_at: Date }>(
    `SELECT subject, sealed_tokens, expires_at FROM portal_sessions WHERE id_hash = $1`,
    [sha256(id)],
  );
  const row = rows[0];
  if (!row) return null;
  const opened = row.expires_at > now ? unseal(id, row.sealed_tokens) : null;
  if (opened === null) {
    await deleteSession(db, id);
    return null;
  }
  return { id, subject: row.subject, tokens: JSON.parse(opened) as SessionTokens, expiresAt: row.expires_at };
}

export async function updateSessionTokens(db: Queryable, session: Session): Promise<void> {
  await db.query(`UPDATE portal_sessions SET sealed_tokens = $2 WHERE id_hash = $1`, [
    sha256(session.id),
    seal(session.id, JSON.stringify(session.tokens)),
  ]);
}

export async function deleteSession(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM portal_sessions WHERE id_hash = $1`, [sha256(id)]);
}

/**
 * Housekeeping: expired sessions and abandoned logins. With a limit, at most that many of each go
 * (the periodic sweep on the request path stays cheap; the expiry indexes find them).
 */
export async function deleteExpired(db: Queryable, now: Date, limit?: number): Promise<void> {
  if (limit === undefined) {
    await db.query(`DELETE FROM portal_sessions WHERE expires_at <= $1`, [now]);
    await db.query(`DELETE FROM portal_logins WHERE expires_at <= $1`, [now]);
    return;
  }
  await db.query(
    `DELETE FROM portal_sessions WHERE id_hash IN
       (SELECT id_hash FROM portal_sessions WHERE expires_at <= $1 LIMIT $2)`,
    [now, limit],
  );
  await db.query(
    `DELETE FROM portal_logins WHERE state_hash IN
       (SELECT state_hash FROM portal_logins WHERE expires_at <= $1 LIMIT $2)`,
    [now, limit],
  );
}

/** Expired rows are swept at most this often, by the first session lookup after the interval. */
export const SWEEP_EVERY_MS = 30_000;
export const SWEEP_LIMIT = 500;

/** A sweep of expired sessions and logins, run when due; callers await it on the request path. */
export function expirySweeper(db: Queryable, everyMs = SWEEP_EVERY_MS): (now: Date) => Promise<void> {
  let last = -Infinity;
  return async (now) => {
    if (now.getTime() - last < everyMs) return;
    last = now.getTime();
    await deleteExpired(db, now, SWEEP_LIMIT);
  };
}

export interface PendingLogin {
  codeVerifier: string;
  nonce: string;
  returnTo: string;
}

export async function saveLogin(db: Queryable, state: string, login: PendingLogin, expiresAt: Date) {
  await db.query(
    `INSERT INTO portal_logins (state_hash, code_verifier, nonce, return_to, expires_at) VALUES ($1, $2, $3, $4, $5)`,
    [sha256(state), login.codeVerifier, login.nonce, login.returnTo, expiresAt],
  );
}

/** The login of this state, once: the row is deleted as it is read. */
export async function takeLogin(db: Queryable, state: string, now: Date): Promise<PendingLogin | null> {
  const { rows } = await db.query<{ code_verifier: string; nonce: string; return_to: string }>(
    `DELETE FROM portal_logins WHERE state_hash = $1 AND expires_at > $2 RETURNING code_verifier, nonce, return_to`,
    [sha256(state), now],
  );
  const row = rows[0];
  return row ? { codeVerifier: row.code_verifier, nonce: row.nonce, returnTo: row.return_to } : null;
}

/** `Set-Cookie` value of a `__Host-` cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain. */
export function hostCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; Secure; HttpOnly; SameSite=Lax`;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}
