import { html } from "../../html.js";
import { badge, layout, postForm, time } from "../../layout.js";
import { field, PORTAL_PREFIX, redirect, type PortalPage } from "../../page.js";

/** Tool calls an agent made for the user that wait for their approval (MCP tool rules `approve`). */
interface Approval {
  id: string;
  agent_spiffe_id: string;
  server: string;
  method: string;
  name: string;
  arguments_digest: string;
  state: string;
  requested_at: string;
  expires_at: string;
}

const list: PortalPage = {
  method: "GET",
  path: "/approvals",
  roles: ["user"],
  nav: { label: "Approvals", order: 40 },
  async handle(req) {
    const { items } = await req.api.get<{ items: Approval[] }>("/v1/approvals", {
      state: "pending",
      user_id: req.principal.subject,
      limit: 100,
    });
    return layout(req, {
      title: "Pending approvals",
      body: html`<p>An agent asked to call these tools for you. Approving lets its next identical call through, once.</p>
<table>
<thead><tr><th scope="col">Requested</th><th scope="col">Agent</th><th scope="col">Tool</th><th scope="col">Arguments digest</th><th scope="col">Expires</th><th scope="col">Decision</th></tr></thead>
<tbody>${items.map(
        (a) => html`<tr>
<td>${time(a.requested_at)}</td>
<td><code>${a.agent_spiffe_id}</code></td>
<td>${a.server}: ${a.method} <strong>${a.name}</strong></td>
<td><code>${a.arguments_digest.slice(0, 16)}…</code></td>
<td>${time(a.expires_at)}</td>
<td>${postForm(req, `${PORTAL_PREFIX}/approvals/${a.id}/approve`, html`<input type="hidden" name="tool" value="${a.name}"><button type="submit">Approve</button>`, { class: "inline", label: `Approve ${a.name}` })}
${postForm(req, `${PORTAL_PREFIX}/approvals/${a.id}/reject`, html`<input type="hidden" name="tool" value="${a.name}"><button type="submit" class="danger">Reject</button>`, { class: "inline", label: `Reject ${a.name}` })}</td></tr>`,
      )}</tbody>
</table>
${items.length === 0 ? html`<p>${badge("none")} Nothing waits for your approval.</p>` : ""}`,
    });
  },
};

function decide(verb: "approve" | "reject", done: string): PortalPage {
  return {
    method: "POST",
    path: `/approvals/:id/${verb}`,
    roles: ["user"],
    async handle(req) {
      await req.api.post(`/v1/approvals/${encodeURIComponent(req.params.id ?? "")}/${verb}`, {
        note: `${done} in the portal`,
      });
      const tool = field(req, "tool");
      return redirect(`${PORTAL_PREFIX}/approvals`, `${tool ? `${tool}: ` : ""}${done}.`);
    },
  };
}

export const approvalPages: readonly PortalPage[] = [
  list,
  decide("approve", "Approved"),
  decide("reject", "Rejected"),
];
