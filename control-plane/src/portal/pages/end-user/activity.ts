import type { AuditRecord } from "../../../../../lib/src/audit/chain.js";
import { html } from "../../html.js";
import { badge, layout, time } from "../../layout.js";
import type { PortalPage } from "../../page.js";
import { myDelegations } from "./delegations.js";

/**
 * "What agents did for me": the data plane's audit events under the user's delegations (what the
 * agents did; the user's own grants and revocations are not listed), newest first.
 */
const BY_AGENTS = new Set(["authz-server", "extproc-server"]);
const SHOWN = 100;

const activity: PortalPage = {
  method: "GET",
  path: "/activity",
  roles: ["user"],
  nav: { label: "What agents did for me", order: 30 },
  async handle(req) {
    const delegations = (
      await Promise.all(["active", "revoked", "expired"].map((status) => myDelegations(req, status)))
    ).flat();
    const agentName = new Map(delegations.map((d) => [d.delegation.id, d.agent.name ?? d.agent.id]));
    const events = (
      await Promise.all(
        delegations
          .filter((d) => d.activity.events > 0)
          .map((d) =>
            req.api
              .get<{ items: AuditRecord[] }>(`/v1/delegations/${d.delegation.id}/events`, { limit: SHOWN })
              .then((page) => page.items),
          ),
      )
    )
      .flat()
      .filter((event) => BY_AGENTS.has(event.source))
      .sort((a, b) => b.occurred_at.localeCompare(a.occurred_at))
      .slice(0, SHOWN);
    return layout(req, {
      title: "What agents did for me",
      body: html`<p>Every request an agent made under one of your delegations, from the audit log (newest first).</p>
<table>
<thead><tr><th scope="col">When</th><th scope="col">Agent</th><th scope="col">What</th><th scope="col">Where</th><th scope="col">Decision</th></tr></thead>
<tbody>${events.map(
        (e) => html`<tr>
<td>${time(e.occurred_at)}</td>
<td>${(e.delegation_id && agentName.get(e.delegation_id)) ?? e.agent_spiffe_id ?? "—"}</td>
<td>${e.action}${e.reason ? html` <span class="muted">(${e.reason})</span>` : ""}</td>
<td>${e.upstream ?? e.resource_type ?? "—"}${e.model ? html` · ${e.model}` : ""}</td>
<td>${e.decision ? badge(e.decision, e.decision === "allow" ? "good" : "bad") : "—"}</td></tr>`,
      )}</tbody>
</table>
${events.length === 0 ? html`<p>No agent has done anything for you yet.</p>` : ""}`,
    });
  },
};

export const activityPages: readonly PortalPage[] = [activity];
