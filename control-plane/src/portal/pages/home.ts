import { html } from "../html.js";
import { layout } from "../layout.js";
import type { PortalPage } from "../page.js";

/** The start page: what the signed-in user can do here, from the navigation their roles give. */
export const homePage: PortalPage = {
  method: "GET",
  path: "/",
  async handle(req) {
    const roles = [...req.principal.roles].sort();
    return layout(req, {
      title: "Welcome",
      body: html`<p>
          Signed in as <strong>${req.principal.subject}</strong>${
            roles.length ? html` with the roles ${roles.join(", ")}` : ""
          }.
        </p>
        <ul class="cards">
          ${req.nav.map((item) => html`<li><a href="${item.href}">${item.label}</a></li>`)}
        </ul>`,
    });
  },
};
