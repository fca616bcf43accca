import { canSeeTenant } from "../../../http/auth.js";
import { toApi } from "../../../registry/model.js";
import { findEntry } from "../../../registry/repository.js";
import type { PortalApi } from "../../api-client.js";
import { html, type SafeHtml } from "../../html.js";
import { layout } from "../../layout.js";
import { PortalError, type PortalPage, type PortalRequest } from "../../page.js";
import { KIND_LABEL, type ApiAttestation, type ApiEntry, type ApiPage } from "../kya/api-types.js";
import { REVIEWER_ROLES, reviewPath } from "./paths.js";

/**
 * The KYA queue: submissions waiting for review, oldest first (the API's order, so the longest
 * waiting comes first), and the decisions of the last days from the audit log, newest first.
 */
const QUEUE_LIMIT = 50;
const RECENT_DAYS = 7;
const DAY_MS = 86_400_000;

/**
 * The agent or MCP server an attestation is about. The attestation does not say which kind, and
 * probing `/v1/agents/{id}` then `/v1/mcp-servers/{id}` would audit a refused 404 for every MCP
 * server shown, so this reads the registry repository (tenant-scoped, as the API's own handler does).
 */
export async function entryOf(req: PortalRequest, id: string): Promise<ApiEntry> {
  const entry = await findEntry(req.ctx.db, id);
  if (!entry || !canSeeTenant(req.principal, entry.tenant)) throw new PortalError(404, "agent not found");
  return toApi(entry) as unknown as ApiEntry;
}

interface AuditEvent {
  occurred_at: string;
  action: string;
  actor: string | null;
  agent_spiffe_id: string | null;
  reason: string | null;
  resource_id: string | null;
  details: Record<string, unknown>;
}

export interface Decision {
  at: string;
  name: string;
  reviewer: string;
  outcome: string;
  approved: boolean;
  attestationId: string | null;
}

/** One audit row of a KYA decision, as the queue shows it. Pure. */
export function decisionFrom(event: AuditEvent): Decision {
  const approved = event.action === "kya.approved";
  const level = event.details.level;
  return {
    at: event.occurred_at,
    name: event.agent_spiffe_id?.split("/").pop() ?? "—",
    reviewer: event.actor ?? "—",
    outcome: approved ? `Approved at level ${String(level)}` : `Rejected: ${event.reason ?? ""}`,
    approved,
    attestationId: event.resource_id,
  };
}

async function recentDecisions(api: PortalApi, now: Date): Promise<Decision[]> {
  const from = new Date(now.getTime() - RECENT_DAYS * DAY_MS).toISOString();
  const pages = await Promise.all(
    ["kya.approved", "kya.rejected"].map((action) =>
      api.get<ApiPage<AuditEvent>>("/v1/audit/events", { action, from, limit: 100 }),
    ),
  );
  return pages
    .flatMap((page) => page.items.map(decisionFrom))
    .sort((a, b) => b.at.localeCompare(a.at))
    .slice(0, 50);
}

const when = (iso: string) => iso.slice(0, 16).replace("T", " ");

function pendingTable(rows: readonly { attestation: ApiAttestation; entry: ApiEntry }[]): SafeHtml {
  if (rows.length === 0) return html`<p>Nothing is waiting for review.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      Submissions waiting for review, oldest first
    </caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">Kind</th>
        <th scope="col">Team</th>
        <th scope="col">Submitted by</th>
        <th scope="col">Submitted (UTC)</th>
        <th scope="col">Evidence</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        ({ attestation, entry }) =>
          html`<tr>
            <td><a href="${reviewPath(attestation.id)}">${entry.name}</a></td>
            <td>${KIND_LABEL[entry.kind]}</td>
            <td>${entry.team}</td>
            <td>${attestation.submitted_by}</td>
            <td>${when(attestation.submitted_at)}</td>
            <td>
              ${attestation.evidence.image_digest ? "image digest" : "code hash"},
              ${attestation.evidence.endpoints.length} endpoint(s),
              ${Object.values(attestation.evidence.security_checklist).filter(Boolean).length}/5 checks
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function decisionsTable(decisions: readonly Decision[]): SafeHtml {
  if (decisions.length === 0) return html`<p>No decisions in the last ${RECENT_DAYS} days.</p>`;
  return html`<table>
    <caption class="visually-hidden">
      KYA decisions of the last ${RECENT_DAYS} days, newest first
    </caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">Decision</th>
        <th scope="col">Reviewer</th>
        <th scope="col">When (UTC)</th>
      </tr>
    </thead>
    <tbody>
      ${decisions.map(
        (decision) =>
          html`<tr>
            <td>
              ${
                decision.attestationId
                  ? html`<a href="${reviewPath(decision.attestationId)}">${decision.name}</a>`
                  : decision.name
              }
            </td>
            <td><span class="badge ${decision.approved ? "good" : "bad"}">${decision.outcome}</span></td>
            <td>${decision.reviewer}</td>
            <td>${when(decision.at)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export const queuePage: PortalPage = {
  method: "GET",
  path: "/reviewer",
  roles: REVIEWER_ROLES,
  nav: { label: "KYA queue", order: 40 },
  async handle(req) {
    const [pending, decisions] = await Promise.all([
      req.api.get<ApiPage<ApiAttestation>>("/v1/attestations", { status: "pending", limit: QUEUE_LIMIT }),
      recentDecisions(req.api, req.now),
    ]);
    const rows = await Promise.all(
      pending.items.map(async (attestation) => ({
        attestation,
        entry: await entryOf(req, attestation.agent_id),
      })),
    );
    return layout(req, {
      title: "KYA queue",
      body: html`<h2>Waiting for review</h2>
        ${pendingTable(rows)}
        ${pending.next_cursor ? html`<p class="muted">Showing the ${QUEUE_LIMIT} that have waited longest.</p>` : ""}
        <h2>Decided in the last ${RECENT_DAYS} days</h2>
        ${decisionsTable(decisions)}`,
    });
  },
};
