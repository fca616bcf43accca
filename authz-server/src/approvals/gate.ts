import type { AuditEventInput } from "../../../lib/src/audit/event.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { ApprovalBinding, ApprovalGate, ApprovalResolution } from "../../../lib/src/mcp/approval.js";
import { approvalAuditEvent } from "./events.js";

/**
 * The approval gate over `mcp_approvals` (migration 019), with only the data plane's rights: it
 * creates the pending row of a held call and consumes an approved one, and can do nothing else (the
 * database refuses it an approval of its own). A call is bound to agent, delegation, server, method,
 * name and the arguments' digest; each approval lets exactly one identical call through.
 *
 * - consume: one UPDATE from approved to used, of an unexpired row of exactly this binding. Two
 *   identical calls racing for one approval: the row lock serialises them and the second no longer
 *   matches `state = 'approved'`, so it is held again.
 * - otherwise find-or-create the open (pending or approved) row: INSERT … ON CONFLICT DO NOTHING on
 *   the one-open-row index, so concurrent identical calls create one row and all get its id.
 * - a lapsed open row is expired on the way (lazily), and the call gets a fresh pending row.
 *
 * `version` is left alone: migration 019 lets the data plane write it but not read it, so it cannot
 * bump it (the control plane does, on decisions; nothing compares it on the data plane's moves).
 *
 * Never slower than `timeoutMs` (it answers `unavailable`, and the call is refused with 503), so the
 * answer reaches Envoy inside its ext_authz timeout.
 */
export interface ApprovalStoreOptions {
  db: Pick<Queryable, "query">;
  /** The control plane's external base URL: approvals are shown at `<url>/v1/approvals/<id>`. */
  publicUrl: string;
  /** Lifetime of a pending request. */
  pendingTtlSeconds: number;
  timeoutMs: number;
  /** Records `mcp.approval.requested|used|expired` (fire and forget, e.g. the audit writer). */
  audit?: (event: AuditEventInput) => void;
  logger?: Pick<Logger, "warn" | "error">;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A find-or-create that keeps losing races (rows changing under it) gives up after this many tries. */
const MAX_ATTEMPTS = 4;

/** Parameters $1..$6 name the call; NULL delegations compare equal (the index coalesces them). */
const MATCH = `agent_spiffe_id = $1 AND delegation_id IS NOT DISTINCT FROM $2::uuid AND server = $3
  AND method = $4 AND name = $5 AND arguments_digest = $6`;

const CONSUME = `UPDATE mcp_approvals
    SET state = 'used', used_at = now(), used_decision_id = $7
  WHERE ${MATCH} AND state = 'approved' AND expires_at > now()
  RETURNING id`;

// The conflict target spells the index mcp_approvals_one_open exactly, so the index is inferred.
const CREATE = `INSERT INTO mcp_approvals (agent_spiffe_id, delegation_id, server, method, name,
    arguments_digest, tenant, agent_id, user_id, requested_decision_id, expires_at)
  VALUES ($1, $2::uuid, $3, $4, $5, $6, $7, $8::uuid, $9, $10, now() + make_interval(secs => $11))
  ON CONFLICT (agent_spiffe_id, (coalesce(delegation_id::text, '')), server, method, name, arguments_digest)
    WHERE state IN ('pending', 'approved') DO NOTHING
  RETURNING id, expires_at`;

const OPEN = `SELECT id, state, expires_at, expires_at <= now() AS lapsed FROM mcp_approvals
  WHERE ${MATCH} AND state IN ('pending', 'approved')`;

const EXPIRE = `UPDATE mcp_approvals SET state = 'expired'
  WHERE id = $1 AND state IN ('pending', 'approved') AND expires_at <= now()
  RETURNING id`;

interface OpenRow {
  id: string;
  state: "pending" | "approved";
  expires_at: Date;
  lapsed: boolean;
}

class ApprovalTimeout extends Error {}

export class PostgresApprovalGate implements ApprovalGate {
  private readonly baseUrl: string;

  constructor(private readonly options: ApprovalStoreOptions) {
    this.baseUrl = options.publicUrl.replace(/\/+$/, "");
  }

  async resolve(binding: ApprovalBinding): Promise<ApprovalResolution> {
    if (binding.delegationId !== null && !UUID.test(binding.delegationId))
      return { state: "unavailable", detail: "the call's delegation id is not a UUID" };
    const late = { value: false };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ApprovalTimeout()), this.options.timeoutMs);
    });
    try {
      return await Promise.race([this.attempt(binding, late), deadline]);
    } catch (error) {
      late.value = true;
      if (error instanceof ApprovalTimeout) {
        this.options.logger?.warn(
          { decision_id: binding.decisionId, timeout_ms: this.options.timeoutMs },
          "approval store did not answer in time; the call is refused",
        );
        return { state: "unavailable", detail: "the approval store did not answer in time" };
      }
      this.options.logger?.warn({ err: error, decision_id: binding.decisionId }, "approval store failed");
      return { state: "unavailable", detail: "the approval store is unavailable" };
    } finally {
      clearTimeout(timer);
    }
  }

  private async attempt(binding: ApprovalBinding, late: { value: boolean }): Promise<ApprovalResolution> {
    const { db } = this.options;
    const call = [
      binding.agentSpiffeId,
      binding.delegationId,
      binding.server,
      binding.method,
      binding.name,
      binding.argumentsDigest,
    ];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const consumed = await db.query<{ id: string }>(CONSUME, [...call, binding.decisionId]);
      const used = consumed.rows[0];
      if (used) {
        // Answered 503 already (deadline): the approval is spent without the call passing.
        if (late.value)
          this.options.logger?.error(
            { decision_id: binding.decisionId, approval_id: used.id },
            "an approval was used after the deadline; the call was refused and needs a new approval",
          );
        this.record("used", binding, used.id, late.value ? { refused_late: true } : {});
        return { state: "approved", approvalId: used.id };
      }

      const created = await db.query<{ id: string; expires_at: Date }>(CREATE, [
        ...call,
        binding.tenant,
        binding.agentId !== null && UUID.test(binding.agentId) ? binding.agentId : null,
        binding.userId,
        binding.decisionId,
        this.options.pendingTtlSeconds,
      ]);
      const fresh = created.rows[0];
      if (fresh) {
        this.record("requested", binding, fresh.id, { expires_at: fresh.expires_at.toISOString() });
        return this.held(fresh.id, fresh.expires_at);
      }

      const open = (await db.query<OpenRow>(OPEN, call)).rows[0];
      if (!open) continue; // decided, used or expired since the INSERT: look again
      if (open.lapsed) {
        const expired = await db.query<{ id: string }>(EXPIRE, [open.id]);
        if (expired.rows[0]) this.record("expired", binding, open.id, { was: open.state });
        continue;
      }
      if (open.state === "approved") continue; // approved since the UPDATE: consume it
      return this.held(open.id, open.expires_at);
    }
    return { state: "unavailable", detail: "the approval request kept changing; try again" };
  }

  private held(id: string, expiresAt: Date): ApprovalResolution {
    return {
      state: "held",
      approvalId: id,
      url: `${this.baseUrl}/v1/approvals/${id}`,
      expiresAt: expiresAt.toISOString(),
    };
  }

  private record(
    transition: "requested" | "used" | "expired",
    binding: ApprovalBinding,
    approvalId: string,
    extra: Record<string, unknown>,
  ): void {
    try {
      this.options.audit?.(approvalAuditEvent(transition, binding, approvalId, extra));
    } catch (error) {
      this.options.logger?.error(
        { err: error, approval_id: approvalId },
        "approval audit event not recorded",
      );
    }
  }
}
