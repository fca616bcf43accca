import { decodeTimeCursor, encodeTimeCursor } from "../../../http/cursor.js";
import { effectiveStatus, type Attestation } from "../../../kya/model.js";
import { listAttestations } from "../../../kya/repository.js";
import type { RegistryEntry } from "../../../registry/model.js";
import { findEntry, listEntries } from "../../../registry/repository.js";
import { html, type SafeHtml } from "../../html.js";
import { badge, layout, postForm, time } from "../../layout.js";
import {
  field,
  fields,
  PORTAL_PREFIX,
  PortalError,
  redirect,
  type PortalPage,
  type PortalRequest,
} from "../../page.js";

/**
 * The agents a user may delegate to: the active agents of their tenant with their trust level (the
 * approved KYA attestation), a KYA viewer per agent, and the form that grants a delegation. The
 * registry has no API operation for end users, so this reads the registry and KYA repositories as
 * the user (row-level security keeps it to their tenant).
 */
const PAGE_SIZE = 25;
const CURSOR = "portal-agents";

export const GRANT_DURATIONS: readonly { seconds: number; label: string }[] = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 8 * 3600, label: "8 hours" },
  { seconds: 86_400, label: "1 day" },
  { seconds: 7 * 86_400, label: "7 days" },
];

function tenantOf(req: PortalRequest): string {
  if (!req.principal.tenant)
    throw new PortalError(403, "Your account is not in a tenant, so it has no agents to delegate to.");
  return req.principal.tenant;
}

async function currentAttestation(req: PortalRequest, agentId: string): Promise<Attestation | undefined> {
  const [approved] = await listAttestations(
    req.ctx.db,
    { agent_id: agentId, status: "approved" },
    undefined,
    1,
    req.now,
  );
  return approved;
}

function trust(attestation: Attestation | undefined): SafeHtml {
  return attestation ? badge(`KYA level ${attestation.level ?? "?"}`, "good") : badge("not attested", "bad");
}

const catalogue: PortalPage = {
  method: "GET",
  path: "/agents",
  roles: ["user"],
  nav: { label: "Agents", order: 10 },
  async handle(req) {
    const tenant = tenantOf(req);
    const after = decodeTimeCursor(CURSOR, req.query.cursor);
    const rows = await listEntries(
      req.ctx.db,
      { kind: "agent", tenant, status: "active" },
      after,
      PAGE_SIZE + 1,
    );
    const agents = rows.slice(0, PAGE_SIZE);
    const trusts = await Promise.all(agents.map((a) => currentAttestation(req, a.id)));
    const last = agents[agents.length - 1];
    const next = rows.length > PAGE_SIZE && last ? encodeTimeCursor(CURSOR, last.created_at, last.id) : null;
    return layout(req, {
      title: "Agents",
      body: html`<p>Agents of your organisation you can let act for you. The trust level is what a reviewer verified (Know Your Agent).</p>
<table>
<caption class="muted">Active agents</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Owner</th><th scope="col">Team</th><th scope="col">Trust</th><th scope="col">Verified capabilities</th></tr></thead>
<tbody>${agents.map(
        (agent, i) => html`<tr>
<td><a href="${PORTAL_PREFIX}/agents/${agent.id}">${agent.name}</a></td>
<td>${agent.owner}</td><td>${agent.team ?? ""}</td><td>${trust(trusts[i])}</td>
<td>${(trusts[i]?.verified_capabilities ?? []).join(", ")}</td></tr>`,
      )}</tbody>
</table>
${agents.length === 0 ? html`<p>No active agents yet.</p>` : ""}
${next ? html`<p><a href="${PORTAL_PREFIX}/agents?cursor=${encodeURIComponent(next)}">Next page</a></p>` : ""}`,
    });
  },
};

function grantForm(req: PortalRequest, agent: RegistryEntry, attestation: Attestation | undefined): SafeHtml {
  const scopes = attestation?.verified_capabilities ?? [];
  if (!scopes.length)
    return html`<p>This agent has no verified capabilities yet, so nothing can be delegated to it.</p>`;
  return postForm(
    req,
    `${PORTAL_PREFIX}/agents/${agent.id}/delegations`,
    html`<fieldset><legend>Scopes</legend>${scopes.map(
      (scope, i) =>
        html`<label class="check" for="scope-${i}"><input type="checkbox" id="scope-${i}" name="scopes" value="${scope}">${scope}</label>`,
    )}</fieldset>
<label for="ttl">For how long</label>
<select id="ttl" name="ttl_seconds">${GRANT_DURATIONS.map(
      (d) =>
        html`<option value="${d.seconds}"${d.seconds === 3600 ? html` selected` : ""}>${d.label}</option>`,
    )}</select>
<p><button type="submit">Grant delegation</button></p>`,
    { label: "Grant a delegation" },
  );
}

function evidence(attestation: Attestation, now: Date): SafeHtml {
  const checklist = Object.entries(attestation.evidence.security_checklist ?? {});
  return html`<dl class="facts">
<dt>Status</dt><dd>${effectiveStatus(attestation, now)}</dd>
<dt>Level</dt><dd>${attestation.level ?? "—"}</dd>
<dt>Verified capabilities</dt><dd>${(attestation.verified_capabilities ?? []).join(", ") || "—"}</dd>
<dt>Declared capabilities</dt><dd>${attestation.declared_capabilities.join(", ") || "—"}</dd>
<dt>Reviewed by</dt><dd>${attestation.reviewed_by ?? "—"} ${time(attestation.reviewed_at)}</dd>
<dt>Valid</dt><dd>${time(attestation.issued_at)} to ${time(attestation.expires_at)}</dd>
<dt>Image digest</dt><dd>${attestation.evidence.image_digest ?? "—"}</dd>
<dt>Code hash</dt><dd>${attestation.evidence.code_hash ?? "—"}</dd>
<dt>Endpoints</dt><dd>${attestation.evidence.endpoints.join(", ") || "—"}</dd>
<dt>Security checklist</dt><dd>${checklist.length ? html`<ul>${checklist.map(([item, ok]) => html`<li>${item}: ${ok ? "yes" : "no"}</li>`)}</ul>` : "—"}</dd>
${attestation.review_notes ? html`<dt>Reviewer's notes</dt><dd>${attestation.review_notes}</dd>` : ""}
</dl>`;
}

const agentDetail: PortalPage = {
  method: "GET",
  path: "/agents/:id",
  roles: ["user"],
  async handle(req) {
    const tenant = tenantOf(req);
    const agent = /^[0-9a-f-]{36}$/i.test(req.params.id ?? "")
      ? await findEntry(req.ctx.db, req.params.id!, { kind: "agent" })
      : undefined;
    if (!agent || agent.tenant !== tenant) throw new PortalError(404, "There is no such agent.");
    const attestation = await currentAttestation(req, agent.id);
    return layout(req, {
      title: `Agent ${agent.name}`,
      body: html`<dl class="facts">
<dt>Status</dt><dd>${agent.status}</dd>
<dt>Owner</dt><dd>${agent.owner}</dd>
<dt>Team</dt><dd>${agent.team ?? "—"}</dd>
<dt>Type</dt><dd>${agent.type ?? "—"}</dd>
<dt>Environment</dt><dd>${agent.environment ?? "—"}</dd>
<dt>Identity</dt><dd><code>${agent.spiffe_id}</code></dd>
<dt>Trust</dt><dd>${trust(attestation)}</dd>
</dl>
<h2>Know Your Agent</h2>
${attestation ? evidence(attestation, req.now) : html`<p>No approved attestation: a reviewer has not verified this agent.</p>`}
<h2>Let this agent act for you</h2>
${agent.status === "active" ? grantForm(req, agent, attestation) : html`<p>The agent is ${agent.status}.</p>`}`,
    });
  },
};

interface GrantAnswer {
  delegation: { id: string; expires_at: string };
}

const grant: PortalPage = {
  method: "POST",
  path: "/agents/:id/delegations",
  roles: ["user"],
  async handle(req) {
    const scopes = fields(req, "scopes");
    const ttl = Number(field(req, "ttl_seconds"));
    if (!scopes.length) throw new PortalError(400, "Choose at least one scope to delegate.");
    if (!GRANT_DURATIONS.some((d) => d.seconds === ttl))
      throw new PortalError(400, "Choose how long the delegation lasts.");
    const answer = await req.api.post<GrantAnswer>("/v1/delegations", {
      agent_id: req.params.id,
      scopes,
      ttl_seconds: ttl,
    });
    return redirect(
      `${PORTAL_PREFIX}/delegations`,
      `Delegation granted until ${answer.delegation.expires_at.slice(0, 16).replace("T", " ")} UTC.`,
    );
  },
};

export const agentPages: readonly PortalPage[] = [catalogue, agentDetail, grant];
