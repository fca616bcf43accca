import { BINDING_COOKIE } from "../../../connections/browser-binding.js";
import { html } from "../../html.js";
import { badge, layout, postForm, time } from "../../layout.js";
import {
  fields,
  PORTAL_PREFIX,
  PortalError,
  redirect,
  type PortalPage,
  type PortalRequest,
} from "../../page.js";

/**
 * Connected SaaS accounts through the API's own flow (PKCE, state, the flow bound to this browser by
 * its `__Host-` cookie, which the portal passes between the browser and the in-process API): connect,
 * confirm the account the provider returned, disconnect. The provider sends the browser back to
 * `/portal/connections/callback` when WARDEN_OAUTH_CALLBACK_URL points there.
 */
interface Connection {
  service: string;
  status: string;
  scopes: string[];
  connected_at: string;
  expires_at: string | null;
}

interface PendingLink {
  link_id: string;
  service: string;
  display_name: string;
  account: { subject?: string; email?: string; name?: string } | null;
  scopes: string[];
  expires_at: string;
}

/** Only the account-link binding cookie goes to the API: never the session cookie. */
function bindingCookie(req: PortalRequest): string | undefined {
  const part = (req.request.headers.cookie ?? "")
    .split(";")
    .map((p) => p.trim())
    .find((p) => p.startsWith(`${BINDING_COOKIE}=`));
  return part;
}

const service = (req: PortalRequest) => {
  const found = req.saas.service(req.params.service ?? "");
  if (!found) throw new PortalError(404, "There is no such service.");
  return found;
};

const list: PortalPage = {
  method: "GET",
  path: "/connections",
  roles: ["user"],
  nav: { label: "Connected accounts", order: 25 },
  async handle(req) {
    const { items } = await req.api.get<{ items: Connection[] }>("/v1/connections");
    const connected = new Set(items.filter((c) => c.status === "active").map((c) => c.service));
    const available = req.saas.services.filter((s) => !connected.has(s.name));
    return layout(req, {
      title: "Connected accounts",
      body: html`<p>Accounts your agents may use for you. Their tokens are kept sealed in the vault; agents never see them.</p>
<table>
<thead><tr><th scope="col">Service</th><th scope="col">Status</th><th scope="col">Scopes</th><th scope="col">Connected</th><th scope="col">Action</th></tr></thead>
<tbody>${items.map(
        (c) => html`<tr><td>${req.saas.service(c.service)?.display_name ?? c.service}</td>
<td>${badge(c.status, c.status === "active" ? "good" : "muted")}</td><td>${c.scopes.join(", ")}</td><td>${time(c.connected_at)}</td>
<td>${postForm(req, `${PORTAL_PREFIX}/connections/${c.service}/disconnect`, html`<button type="submit" class="danger">Disconnect</button>`, { class: "inline", label: `Disconnect ${c.service}` })}</td></tr>`,
      )}</tbody>
</table>
${items.length === 0 ? html`<p>No account is connected.</p>` : ""}
<h2>Connect an account</h2>
${available.map(
  (s) =>
    html`${postForm(
      req,
      `${PORTAL_PREFIX}/connections/${s.name}/connect`,
      html`<fieldset><legend>${s.display_name}</legend>${Object.keys(s.scopes).map(
        (scope) =>
          html`<label class="check" for="${s.name}-${scope}"><input type="checkbox" id="${s.name}-${scope}" name="scopes" value="${scope}">${scope}</label>`,
      )}
<button type="submit">Connect ${s.display_name}</button></fieldset>`,
      { label: `Connect ${s.display_name}` },
    )}`,
)}`,
    });
  },
};

const connect: PortalPage = {
  method: "POST",
  path: "/connections/:service/connect",
  roles: ["user"],
  async handle(req) {
    const scopes = fields(req, "scopes");
    if (!scopes.length) throw new PortalError(400, "Choose at least one scope to connect with.");
    const answer = await req.api.call<{ authorization_url: string }>(
      "POST",
      `/v1/connections/${service(req).name}/authorize`,
      { body: { scopes } },
    );
    return { redirect: answer.body.authorization_url, setCookies: answer.setCookies };
  },
};

const callback: PortalPage = {
  method: "GET",
  path: "/connections/callback",
  roles: ["user"],
  async handle(req) {
    const { body: link } = await req.api.call<PendingLink>("GET", "/v1/connections/callback", {
      query: req.query,
      cookie: bindingCookie(req),
    });
    const account = link.account?.email ?? link.account?.name ?? link.account?.subject ?? "an account";
    return layout(req, {
      title: `Connect ${link.display_name}?`,
      body: html`<p>${link.display_name} says you signed in as <strong>${account}</strong>. Connect this account with the scopes ${link.scopes.join(", ")}?</p>
${postForm(req, `${PORTAL_PREFIX}/connections/links/${link.link_id}/confirm`, html`<input type="hidden" name="service" value="${link.service}"><button type="submit">Connect this account</button>`, { class: "inline", label: "Confirm the account" })}
${postForm(req, `${PORTAL_PREFIX}/connections/links/${link.link_id}/decline`, html`<button type="submit" class="danger">Not my account</button>`, { class: "inline", label: "Decline the account" })}
<p class="muted">This offer expires at ${time(link.expires_at)}.</p>`,
    });
  },
};

const confirm: PortalPage = {
  method: "POST",
  path: "/connections/links/:id/confirm",
  roles: ["user"],
  async handle(req) {
    const answer = await req.api.call<Connection>(
      "POST",
      `/v1/connections/links/${encodeURIComponent(req.params.id ?? "")}/confirm`,
      { body: {}, cookie: bindingCookie(req) },
    );
    return {
      ...redirect(
        `${PORTAL_PREFIX}/connections`,
        `${req.saas.service(answer.body.service)?.display_name ?? answer.body.service} connected.`,
      ),
      setCookies: answer.setCookies,
    };
  },
};

const decline: PortalPage = {
  method: "POST",
  path: "/connections/links/:id/decline",
  roles: ["user"],
  async handle(req) {
    const answer = await req.api.call(
      "DELETE",
      `/v1/connections/links/${encodeURIComponent(req.params.id ?? "")}`,
    );
    return {
      ...redirect(`${PORTAL_PREFIX}/connections`, "Nothing was connected."),
      setCookies: answer.setCookies,
    };
  },
};

const disconnect: PortalPage = {
  method: "POST",
  path: "/connections/:service/disconnect",
  roles: ["user"],
  async handle(req) {
    await req.api.delete(`/v1/connections/${service(req).name}`);
    return redirect(`${PORTAL_PREFIX}/connections`, `${service(req).display_name} disconnected.`);
  },
};

export const connectionPages: readonly PortalPage[] = [list, connect, callback, confirm, decline, disconnect];
