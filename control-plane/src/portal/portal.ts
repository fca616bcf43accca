import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import type { Database } from "../../../lib/src/db/types.js";
import type { SaasCatalogue } from "../../../lib/src/saas/catalogue.js";
import type { AppContext } from "../context.js";
import type { Logger } from "../../../lib/src/logger.js";
import { controlPlaneFile } from "../files.js";
import type { Authenticator, Principal } from "../http/auth.js";
import { ApiError } from "../http/errors.js";
import { runAsPrincipal } from "../tenants/request-scope.js";
import { portalApi, PortalApiError } from "./api-client.js";
import type { PortalSettingsResolved } from "./config.js";
import { CSRF_FIELD, csrfToken, sameOriginRequest, validCsrfToken } from "./csrf.js";
import { html, SafeHtml } from "./html.js";
import { layout, publicPage } from "./layout.js";
import { loginRoutes } from "./login.js";
import { OidcError, type OidcClient } from "./oidc-client.js";
import {
  PORTAL_PREFIX,
  PortalError,
  type FormValue,
  type NavItem,
  type PortalPage,
  type PortalRequest,
} from "./page.js";
import { policyBundleReader } from "./pages/admin/policy-bundle.js";
import { PORTAL_PAGES } from "./pages/index.js";
import { securityHeaders } from "./security-headers.js";
import {
  expirySweeper,
  findSession,
  readCookie,
  SESSION_COOKIE,
  updateSessionTokens,
  type Session,
} from "./session.js";

export interface PortalOptions {
  settings: PortalSettingsResolved;
  oidc: OidcClient;
  authenticator: Authenticator;
  /** The process's database (not tenant-scoped): sessions are not tenant-owned. */
  db: Database;
  logger: Logger;
  now: () => Date;
  /** What the API handlers use (tenant-scoped database, signer, audit writer). */
  context: AppContext;
  saas: SaasCatalogue;
  pages?: readonly PortalPage[];
}

declare module "fastify" {
  interface FastifyRequest {
    portal: PortalRequest | null;
  }
}

const STATIC_FILES: Record<string, string> = {
  "portal.css": "text/css; charset=utf-8",
  "portal.js": "text/javascript; charset=utf-8",
};

function displayNameOf(accessToken: string, subject: string): string {
  const name = decodeJwt(accessToken).preferred_username;
  return typeof name === "string" && name ? name : subject;
}

function parseForm(body: string): Record<string, FormValue> {
  const form: Record<string, FormValue> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const seen = form[key];
    form[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return form;
}

const TITLES: Record<number, string> = {
  400: "That did not work",
  401: "Please sign in",
  403: "Not allowed",
  404: "Not found",
  409: "That did not work",
  503: "Unavailable",
};

/**
 * The web portal under /portal: sign-in (login.ts), then every page of `PORTAL_PAGES` behind the
 * session cookie, its role check, and for POSTs the Origin and CSRF checks. Pages run as the
 * signed-in principal, so the API's tenancy and row-level security apply unchanged.
 */
export async function registerPortal(app: FastifyInstance, options: PortalOptions): Promise<void> {
  const pages = options.pages ?? PORTAL_PAGES;
  const setSecurityHeaders = securityHeaders([
    new URL(options.oidc.issuer).origin,
    ...options.saas.services.map((service) => new URL(service.authorize_url).origin),
  ]);
  const sendPage = (reply: FastifyReply, status: number, page: SafeHtml): FastifyReply => {
    setSecurityHeaders(reply);
    return reply.status(status).type("text/html; charset=utf-8").send(page.value);
  };
  const seeOther = (reply: FastifyReply, location: string): FastifyReply => {
    setSecurityHeaders(reply);
    return reply.status(303).header("location", location).send();
  };
  const staticFiles = new Map(
    Object.entries(STATIC_FILES).map(([name, type]) => [
      name,
      { type, body: readFileSync(controlPlaneFile(`src/portal/static/${name}`)) },
    ]),
  );

  const sweepExpired = expirySweeper(options.db);

  /** The session of the cookie, with a fresh access token, and the principal it names. */
  async function signedIn(
    request: FastifyRequest,
  ): Promise<{ session: Session; principal: Principal } | null> {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (!id) return null;
    // Sessions nobody returns to would otherwise stay until the next sign-in.
    await sweepExpired(options.now());
    const session = await findSession(options.db, id, options.now());
    if (!session) return null;
    if (session.tokens.access_expires_at - 30 <= options.now().getTime() / 1000) {
      try {
        session.tokens = await options.oidc.refresh(session.tokens);
      } catch (error) {
        if (error instanceof OidcError && error.unavailable) throw error;
        return null;
      }
      await updateSessionTokens(options.db, session);
    }
    try {
      const principal = await options.authenticator.authenticate(`Bearer ${session.tokens.access_token}`);
      return { session, principal };
    } catch (error) {
      if (error instanceof ApiError && error.code === "unavailable") throw error;
      return null;
    }
  }

  function navFor(principal: Principal, path: string): NavItem[] {
    return pages
      .filter((p) => p.method === "GET" && p.nav && (!p.roles || p.roles.some((r) => principal.roles.has(r))))
      .sort((a, b) => a.nav!.order - b.nav!.order)
      .map((p) => ({
        label: p.nav!.label,
        href: PORTAL_PREFIX + p.path,
        current: PORTAL_PREFIX + p.path === path,
      }));
  }

  await app.register(
    async (portal) => {
      portal.decorateRequest("portal", null);
      portal.addContentTypeParser(
        "application/x-www-form-urlencoded",
        { parseAs: "string", bodyLimit: 64 * 1024 },
        (_request, body, done) => done(null, parseForm(body as string)),
      );

      portal.setNotFoundHandler((_request, reply) =>
        sendPage(reply, 404, publicPage("Not found", html`<p>There is no such page.</p>`)),
      );
      portal.setErrorHandler((error, request, reply) => {
        const status =
          error instanceof PortalApiError || error instanceof PortalError
            ? error.status
            : error instanceof OidcError
              ? error.unavailable
                ? 503
                : 401
              : error instanceof ApiError
                ? error.status
                : typeof (error as { statusCode?: unknown }).statusCode === "number" &&
                    (error as { statusCode: number }).statusCode < 500
                  ? (error as { statusCode: number }).statusCode
                  : 500;
        if (status >= 500 && !(error instanceof OidcError))
          request.log.error({ err: error }, "portal page failed");
        const message =
          status >= 500 && !(error instanceof OidcError)
            ? "Something went wrong; try again."
            : (error as Error).message;
        const title = TITLES[status] ?? (status >= 500 ? "Something went wrong" : "That did not work");
        const body = html`<p class="error" role="alert">${message}</p>
          <p><a href="${PORTAL_PREFIX}/">Back to the portal</a></p>`;
        const page = request.portal ? layout(request.portal, { title, body }) : publicPage(title, body);
        return sendPage(reply, status, page);
      });

      portal.get("/static/:name", async (request, reply) => {
        const file = staticFiles.get((request.params as { name: string }).name);
        if (!file) throw new PortalError(404, "no such file");
        setSecurityHeaders(reply, true);
        return reply.type(file.type).send(file.body);
      });

      loginRoutes(portal, { ...options, signedIn, sendPage, seeOther });
      const bundleFiles = options.settings.policyBundle;
      const policyBundle = bundleFiles ? policyBundleReader(bundleFiles) : null;

      for (const page of pages) {
        portal.route({
          method: page.method,
          url: page.path,
          handler: async (request, reply) => {
            if (page.method === "POST" && !sameOriginRequest(request.headers, options.settings.origin))
              throw new PortalError(403, "This form was not sent from the portal.");
            const current = await signedIn(request);
            const path = request.url.split("?")[0]!;
            if (!current) {
              if (page.method === "POST")
                throw new PortalError(401, "Your session has ended; please sign in again.");
              return seeOther(reply, `${PORTAL_PREFIX}/login?return_to=${encodeURIComponent(request.url)}`);
            }
            const form = (page.method === "POST" && (request.body as Record<string, FormValue> | null)) || {};
            const req: PortalRequest = {
              principal: current.principal,
              displayName: displayNameOf(current.session.tokens.access_token, current.principal.subject),
              session: current.session,
              csrfToken: csrfToken(current.session.id),
              path,
              nav: navFor(current.principal, path),
              params: request.params as Record<string, string>,
              query: Object.fromEntries(
                Object.entries(request.query as Record<string, unknown>).filter(
                  (e): e is [string, string] => typeof e[1] === "string",
                ),
              ),
              form,
              api: portalApi(app, current.session.tokens.access_token),
              ctx: options.context,
              saas: options.saas,
              policyBundle,
              request,
              now: options.now(),
            };
            request.portal = req;
            if (page.method === "POST" && !validCsrfToken(current.session.id, form[CSRF_FIELD]))
              throw new PortalError(
                403,
                "This form has expired or was not sent from the portal; reload the page and try again.",
              );
            if (page.roles && !page.roles.some((role) => current.principal.roles.has(role)))
              throw new PortalError(403, `This page needs one of the roles: ${page.roles.join(", ")}.`);
            const result = await runAsPrincipal(current.principal, () => page.handle(req));
            if (result instanceof SafeHtml) return sendPage(reply, 200, result);
            if ("download" in result) {
              setSecurityHeaders(reply);
              return reply
                .type(result.download.contentType)
                .header("content-disposition", `attachment; filename="${result.download.filename}"`)
                .send(result.download.body);
            }
            if (result.setCookies?.length) void reply.header("set-cookie", [...result.setCookies]);
            return seeOther(reply, result.redirect);
          },
        });
      }
    },
    { prefix: PORTAL_PREFIX },
  );
}
