import type { BundleView } from "./pages/admin/policy-bundle.js";
import type { FastifyRequest } from "fastify";
import type { SaasCatalogue } from "../../../lib/src/saas/catalogue.js";
import type { AppContext } from "../context.js";
import type { Principal } from "../http/auth.js";
import type { Role } from "../http/openapi.js";
import type { PortalApi } from "./api-client.js";
import type { SafeHtml } from "./html.js";
import type { Session } from "./session.js";

/** Where the portal is mounted; every page path is under it. */
export const PORTAL_PREFIX = "/portal";

export type FormValue = string | string[];

/** What a page handler gets: the signed-in user, their session, the request's input and the API. */
export interface PortalRequest {
  principal: Principal;
  /** A name to show for the user (the token's preferred_username, else the subject). */
  displayName: string;
  session: Session;
  /** The session's CSRF token; forms embed it with `csrfField(req)` (layout.ts). */
  csrfToken: string;
  /** The path of this page. */
  path: string;
  /** The navigation entries this user may open (layout.ts renders them). */
  nav: readonly NavItem[];
  params: Record<string, string>;
  query: Record<string, string>;
  /** The posted form (application/x-www-form-urlencoded); empty on GET. */
  form: Record<string, FormValue>;
  /** The REST API, called in process as this user (api-client.ts). */
  api: PortalApi;
  /**
   * The control plane's services and repositories, for what the API has no operation for. Its `db`
   * is tenant-scoped: the page runs as the principal (runAsPrincipal), so row-level security applies.
   */
  ctx: AppContext;
  request: FastifyRequest;
  /** The SaaS services users can connect accounts of (the control plane's catalogue). */
  saas: SaasCatalogue;
  /** The signed policy bundle's model lists, verified (admin policy page); null/absent: not configured. */
  policyBundle?: (() => Promise<BundleView>) | null;
  now: Date;
}

export interface NavItem {
  label: string;
  href: string;
  current: boolean;
}

export interface Redirect {
  redirect: string;
  /** Set-Cookie headers to send with it (an API flow's browser binding, passed on). */
  setCookies?: readonly string[];
}

/** A file to save (an audit export): sent as an attachment with the page's security headers. */
export interface Download {
  download: { filename: string; contentType: string; body: Buffer };
}

export type PageResult = SafeHtml | Redirect | Download;

/** One page or form action of the portal. */
export interface PortalPage {
  method: "GET" | "POST";
  /** Below /portal, e.g. "/agents" or "/agents/:id". */
  path: string;
  /** The user needs one of these roles (else a 403 page); absent: any signed-in user. */
  roles?: readonly Role[];
  /** A GET page listed in the navigation, for the users who may open it. */
  nav?: { label: string; order: number };
  handle(req: PortalRequest): Promise<PageResult>;
}

/** After a POST: see-other to a portal path, with an optional notice shown at the top of that page. */
export function redirect(path: string, notice?: string): Redirect {
  const url = new URL(path, "http://portal.invalid");
  if (notice) url.searchParams.set("notice", notice.slice(0, 200));
  return { redirect: `${url.pathname}${url.search}` };
}

/** One form field as a trimmed string ("" when absent; the first of a repeated field). */
export function field(req: PortalRequest, name: string): string {
  const value = req.form[name];
  return (Array.isArray(value) ? (value[0] ?? "") : (value ?? "")).trim();
}

/** Every value of a repeated form field (checkboxes). */
export function fields(req: PortalRequest, name: string): string[] {
  const value = req.form[name];
  return (Array.isArray(value) ? value : value === undefined ? [] : [value])
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A refusal of the portal itself (403 bad CSRF, 404, 401), rendered as a page. */
export class PortalError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "PortalError";
  }
}
