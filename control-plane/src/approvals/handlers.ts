import type { FastifyRequest } from "fastify";
import { UNKNOWN_TENANT } from "../../../lib/src/audit/event.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import {
  APPROVAL_ACTIONS,
  APPROVAL_RESOURCE,
  approvalEventDetails,
} from "../../../lib/src/mcp/approval-events.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { hasRole, scopedTenant, userTenantOf } from "../http/auth.js";
import { decodeTimeCursor } from "../http/cursor.js";
import { ApiError, notFound } from "../http/errors.js";
import { afterTime, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import {
  checkDecider,
  effectiveState,
  notDecidable,
  toApi,
  type ApprovalRow,
  type ApprovalState,
} from "./model.js";
import { decideApproval, expireApproval, findApproval, listApprovals } from "./repository.js";

type IdParams = { id: string };
type ListQuery = {
  limit: number;
  cursor?: string;
  tenant?: string;
  user_id?: string;
  agent_id?: string;
  agent_spiffe_id?: string;
  server?: string;
  state?: ApprovalState;
};
type DecideBody = { note?: string };

export interface ApprovalSettings {
  /** How long an approval waits for the agent's identical retry before it expires unused. */
  approvedTtlSeconds: number;
}

/**
 * Approvals API: the delegating user of a held MCP call (or an admin of its tenant) sees it and
 * approves or rejects it; the agent's identical retry then passes once (the data plane consumes the
 * approval). Every decision is audited in its transaction (`mcp.approval.approved|rejected`), and a
 * decision that comes too late writes the lapse down (`mcp.approval.expired`) and answers 409.
 */
export function approvalHandlers(ctx: AppContext, settings: ApprovalSettings): Handlers {
  const record = (
    tx: Queryable,
    request: FastifyRequest,
    row: ApprovalRow,
    transition: "approved" | "rejected" | "expired",
    now: Date,
    extra: Record<string, unknown> = {},
  ) =>
    recordAction(
      tx,
      request,
      {
        tenant: row.tenant ?? UNKNOWN_TENANT,
        action: APPROVAL_ACTIONS[transition],
        agentId: row.agent_id,
        agentSpiffeId: row.agent_spiffe_id,
        userId: row.user_id,
        delegationId: row.delegation_id,
        resourceType: APPROVAL_RESOURCE,
        resourceId: row.id,
        details: {
          ...approvalEventDetails({
            approvalId: row.id,
            server: row.server,
            method: row.method,
            name: row.name,
            argumentsDigest: row.arguments_digest,
          }),
          requested_decision_id: row.requested_decision_id,
          ...extra,
        },
      },
      now,
    );

  async function decide(request: FastifyRequest, state: "approved" | "rejected") {
    const principal = principalOf(request);
    const { id } = request.params as IdParams;
    const note = ((request.body ?? {}) as DecideBody).note ?? null;
    const verb = state === "approved" ? "approve" : "reject";
    const now = ctx.now();
    const outcome = await ctx.db.transaction(async (tx) => {
      const row = await findApproval(tx, id, true);
      if (!row) throw notFound("approval");
      checkDecider(principal, row, verb);
      const current = effectiveState(row, now);
      if (current !== "pending") {
        // A lapse nobody wrote down yet is written now, with its audit row, and committed.
        if (current === "expired" && (await expireApproval(tx, row.id, now)))
          await record(tx, request, row, "expired", now, { was: row.state, noticed_by: "control-plane" });
        return { conflict: current };
      }
      const decided = await decideApproval(tx, row.id, {
        state,
        by: principal.subject,
        note,
        at: now,
        ...(state === "approved"
          ? { expiresAt: new Date(now.getTime() + settings.approvedTtlSeconds * 1000) }
          : {}),
      });
      if (!decided) return { conflict: current };
      await record(tx, request, decided, state, now, {
        decided_by: principal.subject,
        ...(note === null ? {} : { note }),
        ...(state === "approved" ? { expires_at: decided.expires_at.toISOString() } : {}),
      });
      return { decided };
    });
    if (outcome.conflict !== undefined) throw notDecidable(id, outcome.conflict);
    return toApi(outcome.decided!, ctx.now());
  }

  return {
    listApprovals: async (request) => {
      const principal = principalOf(request);
      const query = request.query as ListQuery;
      const admin = hasRole(principal, "admin");
      if (!admin && query.user_id !== undefined && query.user_id !== principal.subject)
        throw new ApiError("forbidden", "only an admin can list other users' approvals");
      const after = decodeTimeCursor("approvals", query.cursor);
      const now = ctx.now();
      const filter = {
        // An admin sees the tenant's approvals; anyone else the calls made for them in their tenant.
        tenant: admin
          ? scopedTenant(principal, query.tenant)
          : userTenantOf(principal, "listing your approvals"),
        user_id: admin ? query.user_id : principal.subject,
        agent_id: query.agent_id,
        agent_spiffe_id: query.agent_spiffe_id,
        server: query.server,
        state: query.state,
      };
      if (!admin && query.tenant !== undefined) scopedTenant(principal, query.tenant);
      return readPage(
        query,
        (rows) => listApprovals(ctx.db, filter, after, rows, now),
        (row) => toApi(row, now),
        afterTime("approvals", (row: ApprovalRow) => row.requested_at),
      );
    },

    getApproval: async (request) => {
      const row = await findApproval(ctx.db, (request.params as IdParams).id);
      if (!row) throw notFound("approval");
      checkDecider(principalOf(request), row, "see");
      return toApi(row, ctx.now());
    },

    approveApproval: (request) => decide(request, "approved"),
    rejectApproval: (request) => decide(request, "rejected"),
  };
}
