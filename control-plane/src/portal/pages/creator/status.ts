import { html, type SafeHtml } from "../../html.js";
import { layout } from "../../layout.js";
import type { PortalApi } from "../../api-client.js";
import { PORTAL_PREFIX, type PortalPage, type PortalRequest } from "../../page.js";
import { KIND_LABEL, entryPath, type ApiAttestation, type ApiEntry, type ApiPage } from "../kya/api-types.js";
import { evidenceFacts } from "../kya/evidence.js";
import { currentKya, decisionOf, outcomeOf, type KyaSummary } from "../kya/status.js";
import { CREATOR_ROLES, creatorPath } from "./paths.js";

/** The creator's status pages: their agents and MCP servers with where KYA stands, and each one's history. */
const LIST_LIMIT = 100;

/** Every submission of one entry, oldest first. */
const historyOf = async (api: PortalApi, id: string) =>
  (await api.get<ApiPage<ApiAttestation>>("/v1/attestations", { agent_id: id, limit: 500 })).items;

const badge = (summary: KyaSummary) => html`<span class="badge ${summary.tone}">${summary.text}</span>`;

function entriesTable(entries: readonly { entry: ApiEntry; kya: KyaSummary }[]): SafeHtml {
  if (entries.length === 0) return html`<p>You have not registered anything yet.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      Your agents and MCP servers
    </caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">Kind</th>
        <th scope="col">Registration</th>
        <th scope="col">KYA</th>
      </tr>
    </thead>
    <tbody>
      ${entries.map(
        ({ entry, kya }) =>
          html`<tr>
            <td><a href="${creatorPath(entry)}">${entry.name}</a></td>
            <td>${KIND_LABEL[entry.kind]}</td>
            <td>${entry.status}</td>
            <td>${badge(kya)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const listPage: PortalPage = {
  method: "GET",
  path: "/creator",
  roles: CREATOR_ROLES,
  nav: { label: "My agents", order: 30 },
  async handle(req) {
    const owner = req.principal.subject;
    const [agents, servers] = await Promise.all(
      ["/v1/agents", "/v1/mcp-servers"].map((path) =>
        req.api.get<ApiPage<ApiEntry>>(path, { owner, limit: LIST_LIMIT }),
      ),
    );
    const entries = [...agents!.items, ...servers!.items];
    const rows = await Promise.all(
      entries.map(async (entry) => ({ entry, kya: currentKya(await historyOf(req.api, entry.id)) })),
    );
    const more = agents!.next_cursor !== null || servers!.next_cursor !== null;
    return layout(req, {
      title: "My agents and MCP servers",
      body: html`<ul class="actions">
          <li><a href="${PORTAL_PREFIX}/creator/agents/new">Register an agent</a></li>
          <li><a href="${PORTAL_PREFIX}/creator/mcp-servers/new">Register an MCP server</a></li>
          <li><a href="${PORTAL_PREFIX}/creator/kya/new">Submit KYA evidence</a></li>
        </ul>
        ${entriesTable(rows)}
        ${more ? html`<p class="muted">Showing the first ${LIST_LIMIT} of each kind.</p>` : ""}`,
    });
  },
};

function historyTable(history: readonly ApiAttestation[]): SafeHtml {
  if (history.length === 0) return html`<p>No KYA evidence submitted yet.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      KYA submissions, newest first
    </caption>
    <thead>
      <tr>
        <th scope="col">Submitted</th>
        <th scope="col">Outcome</th>
        <th scope="col">Verified capabilities</th>
        <th scope="col">Decided by</th>
        <th scope="col">Reviewer's notes</th>
      </tr>
    </thead>
    <tbody>
      ${[...history].reverse().map(
        (attestation) =>
          html`<tr>
            <td>${attestation.submitted_at.slice(0, 16).replace("T", " ")}</td>
            <td>${badge(outcomeOf(attestation))}</td>
            <td>${(attestation.verified_capabilities ?? []).join(", ") || "—"}</td>
            <td>${decisionOf(attestation) || "—"}</td>
            <td>${attestation.review_notes ?? "—"}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

async function detail(req: PortalRequest, kind: ApiEntry["kind"]) {
  const entry = await req.api.get<ApiEntry>(entryPath(kind, req.params.id!));
  const history = await historyOf(req.api, entry.id);
  const latest = history[history.length - 1];
  const canSubmit =
    latest?.status !== "pending" && (entry.status === "active" || entry.status === "suspended");
  return layout(req, {
    title: `${KIND_LABEL[kind]} ${entry.name}`,
    body: html`<dl class="facts">
        <dt>KYA</dt>
        <dd>${badge(currentKya(history))}</dd>
        <dt>SPIFFE ID</dt>
        <dd><code>${entry.spiffe_id}</code></dd>
        <dt>Registration</dt>
        <dd>${entry.status}</dd>
        <dt>Team / type / environment</dt>
        <dd>${entry.team} / ${entry.type} / ${entry.environment}</dd>
        <dt>Capabilities</dt>
        <dd>${entry.capabilities.join(", ") || "none"}</dd>
        ${
          kind === "mcp_server"
            ? html`<dt>External services</dt>
                <dd>${(entry.external_services ?? []).join(", ") || "none"}</dd>
                <dt>Resource URI</dt>
                <dd>${entry.resource_uri ?? "none"}</dd>`
            : ""
        }
      </dl>
      ${
        canSubmit
          ? html`<p>
              <a href="${PORTAL_PREFIX}/creator/kya/new?agent_id=${encodeURIComponent(entry.id)}"
                >Submit KYA evidence</a
              >
            </p>`
          : ""
      }
      <h2>KYA history</h2>
      ${historyTable(history)}
      ${
        latest
          ? html`<h2>Latest evidence</h2>
              ${evidenceFacts(latest)}`
          : ""
      }
      <p><a href="${PORTAL_PREFIX}/creator">All my agents and MCP servers</a></p>`,
  });
}

export const statusPages: readonly PortalPage[] = [
  listPage,
  {
    method: "GET",
    path: "/creator/agents/:id",
    roles: CREATOR_ROLES,
    handle: (req) => detail(req, "agent"),
  },
  {
    method: "GET",
    path: "/creator/mcp-servers/:id",
    roles: CREATOR_ROLES,
    handle: (req) => detail(req, "mcp_server"),
  },
];
