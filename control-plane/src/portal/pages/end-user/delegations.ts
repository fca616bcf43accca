import { html } from "../../html.js";
import { badge, layout, postForm, time } from "../../layout.js";
import { field, PORTAL_PREFIX, redirect, type PortalPage, type PortalRequest } from "../../page.js";

/** Which agents can act for me, with which scopes, until when, what they did; revoke now. */
export interface MyDelegation {
  delegation: { id: string; scopes: string[]; status: string; issued_at: string; expires_at: string };
  agent: { id: string; name: string | null; kind: string };
  activity: { events: number; allowed: number; denied: number; last_event_at: string | null };
}

export async function myDelegations(req: PortalRequest, status: string): Promise<MyDelegation[]> {
  const page = await req.api.get<{ items: MyDelegation[] }>("/v1/me/delegations", { status, limit: 100 });
  return page.items;
}

const list: PortalPage = {
  method: "GET",
  path: "/delegations",
  roles: ["user"],
  nav: { label: "My delegations", order: 20 },
  async handle(req) {
    const active = await myDelegations(req, "active");
    return layout(req, {
      title: "My delegations",
      body: html`<p>Agents that can act for you now. Revoking takes effect on the data plane within a second.</p>
<table>
<thead><tr><th scope="col">Agent</th><th scope="col">Scopes</th><th scope="col">Granted</th><th scope="col">Expires</th><th scope="col">Requests (allowed / denied)</th><th scope="col">Action</th></tr></thead>
<tbody>${active.map(
        (d) => html`<tr>
<td>${d.agent.name ?? d.agent.id}</td>
<td>${d.delegation.scopes.join(", ")}</td>
<td>${time(d.delegation.issued_at)}</td>
<td>${time(d.delegation.expires_at)}</td>
<td>${d.activity.allowed} / ${d.activity.denied}</td>
<td>${postForm(
          req,
          `${PORTAL_PREFIX}/delegations/${d.delegation.id}/revoke`,
          html`<input type="hidden" name="agent" value="${d.agent.name ?? ""}"><button type="submit" class="danger">Revoke now</button>`,
          { class: "inline", label: `Revoke the delegation to ${d.agent.name ?? d.agent.id}` },
        )}</td></tr>`,
      )}</tbody>
</table>
${active.length === 0 ? html`<p>${badge("none")} No agent can act for you. Grant a delegation from an <a href="${PORTAL_PREFIX}/agents">agent's page</a>.</p>` : ""}`,
    });
  },
};

const revoke: PortalPage = {
  method: "POST",
  path: "/delegations/:id/revoke",
  roles: ["user"],
  async handle(req) {
    await req.api.post(`/v1/delegations/${encodeURIComponent(req.params.id ?? "")}/revoke`, {
      reason: "revoked in the portal",
    });
    const agent = field(req, "agent");
    return redirect(`${PORTAL_PREFIX}/delegations`, `Delegation${agent ? ` to ${agent}` : ""} revoked.`);
  },
};

export const delegationPages: readonly PortalPage[] = [list, revoke];
