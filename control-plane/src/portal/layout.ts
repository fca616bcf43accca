import { CSRF_FIELD } from "./csrf.js";
import { html, type HtmlValue, type SafeHtml } from "./html.js";
import { PORTAL_PREFIX, type PortalRequest } from "./page.js";

/** The hidden CSRF field every POST form must contain. */
export function csrfField(req: Pick<PortalRequest, "csrfToken">): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${req.csrfToken}" />`;
}

/** A POST form with its CSRF field; `body` holds the inputs and the submit button. */
export function postForm(
  req: Pick<PortalRequest, "csrfToken">,
  action: string,
  body: HtmlValue,
  attributes: { class?: string; label?: string } = {},
): SafeHtml {
  return html`<form
    method="post"
    action="${action}"
    class="${attributes.class ?? ""}"
    ${attributes.label ? html` aria-label="${attributes.label}"` : ""}
  >
    ${csrfField(req)}${body}
  </form>`;
}

function document(title: string, main: HtmlValue, header: HtmlValue = ""): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Agent Warden</title>
        <link rel="stylesheet" href="${PORTAL_PREFIX}/static/portal.css" />
        <script src="${PORTAL_PREFIX}/static/portal.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">${header}</header>
        <main id="main">
          <h1>${title}</h1>
          ${main}
        </main>
      </body>
    </html>`;
}

/** A whole page for a signed-in user: navigation for their roles, who they are, sign-out, a notice. */
export function layout(req: PortalRequest, page: { title: string; body: HtmlValue }): SafeHtml {
  const { principal } = req;
  const header = html`<a class="brand" href="${PORTAL_PREFIX}/">Agent Warden</a>
    <nav aria-label="Main">
      <ul>
        ${req.nav.map(
          (item) =>
            html`<li>
              <a href="${item.href}" ${item.current ? html` aria-current="page"` : ""}>${item.label}</a>
            </li>`,
        )}
      </ul>
    </nav>
    <div class="who">
      <span>${req.displayName}${principal.tenant ? html` · ${principal.tenant}` : ""}</span>
      ${postForm(req, `${PORTAL_PREFIX}/logout`, html`<button type="submit" class="link">Sign out</button>`)}
    </div>`;
  const notice = req.query.notice ? html`<p class="notice" role="status">${req.query.notice}</p>` : "";
  return document(page.title, html`${notice}${page.body}`, header);
}

/** A page for someone not (or no longer) signed in, or an error before the session is known. */
export function publicPage(title: string, body: HtmlValue): SafeHtml {
  return document(title, body, html`<span class="brand">Agent Warden</span>`);
}

/** A date as UTC text in a <time> element (no client-side formatting). */
export function time(value: string | Date | null | undefined): SafeHtml {
  if (!value) return html`<span class="muted">—</span>`;
  const date = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

/** A status word in a badge; the word itself carries the meaning, the colour only repeats it. */
export function badge(text: string, tone: "good" | "bad" | "muted" = "muted"): SafeHtml {
  return html`<span class="badge ${tone}">${text}</span>`;
}
