import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Principal } from "../http/auth.js";
import type { PortalOptions } from "./portal.js";
import { constantTimeEqual } from "./crypto.js";
import { sameOriginRequest, validCsrfToken, CSRF_FIELD } from "./csrf.js";
import { html, type SafeHtml } from "./html.js";
import { publicPage } from "./layout.js";
import { PORTAL_PREFIX, PortalError } from "./page.js";
import {
  createSession,
  deleteExpired,
  deleteSession,
  hostCookie,
  LOGIN_COOKIE,
  readCookie,
  saveLogin,
  SESSION_COOKIE,
  takeLogin,
  type Session,
} from "./session.js";

const LOGIN_TTL_S = 600;

interface LoginDeps extends PortalOptions {
  signedIn(request: FastifyRequest): Promise<{ session: Session; principal: Principal } | null>;
  sendPage(reply: FastifyReply, status: number, page: SafeHtml): FastifyReply;
  seeOther(reply: FastifyReply, location: string): FastifyReply;
}

/** Only a path of the portal itself: never another site (an open redirect). */
export function safeReturnTo(value: unknown): string {
  return typeof value === "string" && /^\/portal(\/[^/\\]|\/?$|\?)/.test(value) && !value.includes("\\")
    ? value
    : `${PORTAL_PREFIX}/`;
}

/** Sign-in (authorization code + PKCE), its callback, sign-out. */
export function loginRoutes(portal: FastifyInstance, deps: LoginDeps): void {
  const { db, oidc, settings } = deps;

  portal.get("/login", async (request, reply) => {
    const { return_to } = request.query as { return_to?: string };
    const auth = await oidc.authorizationRequest();
    const now = deps.now();
    await deleteExpired(db, now);
    await saveLogin(
      db,
      auth.state,
      { codeVerifier: auth.codeVerifier, nonce: auth.nonce, returnTo: safeReturnTo(return_to) },
      new Date(now.getTime() + LOGIN_TTL_S * 1000),
    );
    void reply.header("set-cookie", hostCookie(LOGIN_COOKIE, auth.state, LOGIN_TTL_S));
    return deps.seeOther(reply, auth.url);
  });

  portal.get("/callback", async (request, reply) => {
    const query = request.query as { code?: string; state?: string; error?: string };
    const cookieState = readCookie(request.headers.cookie, LOGIN_COOKIE);
    void reply.header("set-cookie", hostCookie(LOGIN_COOKIE, "", 0));
    if (query.error || !query.code || !query.state)
      throw new PortalError(401, "The sign-in was cancelled or refused by the identity provider.");
    // The state must come back to the browser that started the sign-in (login CSRF).
    if (!cookieState || !constantTimeEqual(cookieState, query.state))
      throw new PortalError(
        401,
        "This sign-in was started in another browser or has expired; sign in again.",
      );
    const login = await takeLogin(db, query.state, deps.now());
    if (!login) throw new PortalError(401, "This sign-in has expired; sign in again.");
    const tokens = await oidc.exchangeCode(query.code, login.codeVerifier, login.nonce);
    const principal = await deps.authenticator.authenticate(`Bearer ${tokens.access_token}`);
    const session = await createSession(
      db,
      principal.subject,
      tokens,
      new Date(deps.now().getTime() + settings.sessionTtlSeconds * 1000),
    );
    void reply.header("set-cookie", [
      hostCookie(LOGIN_COOKIE, "", 0),
      hostCookie(SESSION_COOKIE, session.id, settings.sessionTtlSeconds),
    ]);
    deps.logger.info({ subject: principal.subject }, "portal sign-in");
    return deps.seeOther(reply, login.returnTo);
  });

  portal.post("/logout", async (request, reply) => {
    if (!sameOriginRequest(request.headers, settings.origin))
      throw new PortalError(403, "This form was not sent from the portal.");
    const current = await deps.signedIn(request);
    void reply.header("set-cookie", hostCookie(SESSION_COOKIE, "", 0));
    if (!current) return deps.seeOther(reply, `${PORTAL_PREFIX}/signed-out`);
    const form = (request.body ?? {}) as Record<string, unknown>;
    if (!validCsrfToken(current.session.id, form[CSRF_FIELD]))
      throw new PortalError(403, "This form has expired; reload the page and try again.");
    await deleteSession(db, current.session.id);
    const idpLogout = await oidc.logoutUrl(
      current.session.tokens,
      `${settings.origin}${PORTAL_PREFIX}/signed-out`,
    );
    return deps.seeOther(reply, idpLogout ?? `${PORTAL_PREFIX}/signed-out`);
  });

  portal.get("/signed-out", async (_request, reply) =>
    deps.sendPage(
      reply,
      200,
      publicPage(
        "Signed out",
        html`<p>You are signed out.</p>
          <p><a href="${PORTAL_PREFIX}/login">Sign in again</a></p>`,
      ),
    ),
  );
}
