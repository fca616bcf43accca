import type { FastifyReply, FastifyRequest } from "fastify";
import type { Queryable } from "../../../lib/src/db/types.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { canSeeTenant, hasRole, scopedTenant } from "../http/auth.js";
import { checkIfMatch, etagOf } from "../http/conditional.js";
import { decodeTimeCursor } from "../http/cursor.js";
import { ApiError, notFound } from "../http/errors.js";
import { afterTime, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { notifyRegistry } from "../notify.js";
import type { RegistryEntry } from "../registry/model.js";
import { holdRevocation } from "../oauth/issuance-lock.js";
import { findEntry } from "../registry/repository.js";
import {
  ATTESTATION_JWS_TYPE,
  attestationClaims,
  checkCanReview,
  checkCanRevoke,
  checkVerifiedCapabilities,
  toApi,
  type ApproveBody,
  type Attestation,
  type Evidence,
} from "./model.js";
import {
  findApprovedForAgent,
  findAttestation,
  insertAttestation,
  listAttestations,
  updateAttestation,
  type AttestationChanges,
  type AttestationFilter,
} from "./repository.js";

type IdParams = { id: string };
const DAY_MS = 86_400_000;
const CURSOR_AFTER = afterTime("attestations", (a: Attestation) => a.submitted_at);

export function kyaHandlers(ctx: AppContext): Handlers {
  const send = (reply: FastifyReply, attestation: Attestation, status = 200) =>
    reply.status(status).header("etag", etagOf(attestation.version)).send(toApi(attestation, ctx.now()));

  async function announce(tx: Queryable, attestation: Attestation, agent: RegistryEntry): Promise<void> {
    await notifyRegistry(tx, {
      v: 1,
      entity: "attestation",
      op: "upsert",
      id: attestation.id,
      agent_id: attestation.agent_id,
      spiffe_id: agent.spiffe_id,
      tenant: attestation.tenant,
      status: attestation.status,
      expires_at: attestation.expires_at?.toISOString() ?? null,
      version: attestation.version,
    });
  }

  async function audit(
    tx: Queryable,
    request: FastifyRequest,
    action: string,
    attestation: Attestation,
    agent: RegistryEntry,
    now: Date,
    extra: { reason?: string; details?: Record<string, unknown> } = {},
  ) {
    await recordAction(
      tx,
      request,
      {
        tenant: attestation.tenant,
        action,
        agentId: agent.id,
        agentSpiffeId: agent.spiffe_id,
        resourceType: "kya_attestation",
        resourceId: attestation.id,
        reason: extra.reason ?? null,
        details: { status: attestation.status, version: attestation.version, ...extra.details },
      },
      now,
    );
  }

  /**
   * Rejects or revokes: `close` checks the step is allowed and says what changes; the change is
   * stored, audited with the reason and announced in one transaction.
   */
  async function closeAttestation(
    request: FastifyRequest,
    action: "kya.rejected" | "kya.revoked",
    close: (attestation: Attestation, by: string, reason: string, now: Date) => AttestationChanges,
  ): Promise<Attestation> {
    const principal = principalOf(request);
    const { reason } = request.body as { reason: string };
    return ctx.db.transaction(async (tx) => {
      // No access token is issued after a revocation commits (oauth/issuance-lock.ts).
      if (action === "kya.revoked") await holdRevocation(tx);
      const { attestation, agent } = await lockForReview(tx, request);
      const now = ctx.now();
      const changes = close(attestation, principal.subject, reason, now);
      const after = await updateAttestation(tx, attestation.id, changes, now);
      await audit(tx, request, action, after, agent, now, { reason });
      await announce(tx, after, agent);
      return after;
    });
  }

  /** Loads and locks the attestation and its agent; 404 outside the caller's tenant; checks If-Match. */
  async function lockForReview(
    tx: Queryable,
    request: FastifyRequest,
  ): Promise<{ attestation: Attestation; agent: RegistryEntry }> {
    const attestation = await findAttestation(tx, (request.params as IdParams).id, true);
    if (!attestation || !canSeeTenant(principalOf(request), attestation.tenant))
      throw notFound("attestation");
    checkIfMatch(request.headers["if-match"], attestation.version, false);
    const agent = (await findEntry(tx, attestation.agent_id))!;
    return { attestation, agent };
  }

  async function sign(
    agent: RegistryEntry,
    attestation: Attestation,
    approval: ApproveBody,
    reviewer: string,
    issuedAt: Date,
    expiresAt: Date,
  ) {
    if (!ctx.signer) throw new ApiError("unavailable", "attestation signing is not configured (VAULT_ADDR)");
    const claims = attestationClaims({
      issuer: ctx.attestationIssuer,
      attestation,
      agent,
      approval,
      reviewer,
      issuedAt,
      expiresAt,
    });
    try {
      return await ctx.signer.sign({ typ: ATTESTATION_JWS_TYPE }, claims);
    } catch (error) {
      ctx.logger.warn({ err: error }, "attestation signing failed");
      if (error instanceof VaultError && !error.unavailable)
        throw new ApiError("internal", "the signing key refused the request");
      throw new ApiError("unavailable", "the signing service (Vault) is unavailable; try again");
    }
  }

  return {
    listAttestations: async (request) => {
      const principal = principalOf(request);
      const query = request.query as AttestationFilter & { limit: number; cursor?: string };
      const after = decodeTimeCursor("attestations", query.cursor);
      const now = ctx.now();
      const filter = {
        tenant: scopedTenant(principal, query.tenant),
        agent_id: query.agent_id,
        status: query.status,
      };
      const read = (rows: number) => listAttestations(ctx.db, filter, after, rows, now);
      return readPage(query, read, (a) => toApi(a, now), CURSOR_AFTER);
    },

    getAttestation: async (request, reply) => {
      const attestation = await findAttestation(ctx.db, (request.params as IdParams).id);
      if (!attestation || !canSeeTenant(principalOf(request), attestation.tenant))
        throw notFound("attestation");
      return send(reply, attestation);
    },

    submitAttestation: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as { agent_id: string; evidence: Evidence };
      const created = await ctx.db.transaction(async (tx) => {
        const agent = await findEntry(tx, body.agent_id, { forUpdate: true });
        if (!agent || !canSeeTenant(principal, agent.tenant)) throw notFound("agent");
        if (!hasRole(principal, "admin") && agent.owner !== principal.subject) {
          throw new ApiError("forbidden", "only the owner (or an admin) can submit an agent for review");
        }
        if (agent.status !== "active" && agent.status !== "suspended") {
          throw new ApiError(
            "conflict",
            `the ${agent.kind === "agent" ? "agent" : "MCP server"} is ${agent.status}`,
          );
        }
        const now = ctx.now();
        const attestation = await insertAttestation(tx, {
          agent_id: agent.id,
          tenant: agent.tenant,
          evidence: body.evidence,
          declared_capabilities: agent.capabilities,
          submitted_by: principal.subject,
          now,
        });
        await audit(tx, request, "kya.submitted", attestation, agent, now);
        await announce(tx, attestation, agent);
        return attestation;
      });
      return send(reply, created, 201);
    },

    approveAttestation: async (request, reply) => {
      const principal = principalOf(request);
      const approval = request.body as ApproveBody;
      const approved = await ctx.db.transaction(async (tx) => {
        const { attestation, agent } = await lockForReview(tx, request);
        checkCanReview(attestation, principal.subject);
        checkVerifiedCapabilities(attestation.declared_capabilities, approval.verified_capabilities);
        const now = ctx.now();
        const expiresAt = new Date(now.getTime() + (approval.valid_days ?? ctx.attestationTtlDays) * DAY_MS);
        const previous = await findApprovedForAgent(tx, agent.id);
        if (previous) {
          const superseded = await updateAttestation(tx, previous.id, { status: "superseded" }, now);
          await audit(tx, request, "kya.superseded", superseded, agent, now, {
            details: { superseded_by: attestation.id },
          });
          await announce(tx, superseded, agent);
        }
        // Signed inside the transaction: if Vault fails, nothing is approved.
        const { jws, kid } = await sign(agent, attestation, approval, principal.subject, now, expiresAt);
        const after = await updateAttestation(
          tx,
          attestation.id,
          {
            status: "approved",
            level: approval.level,
            verified_capabilities: approval.verified_capabilities,
            reviewed_by: principal.subject,
            reviewed_at: now,
            review_notes: approval.notes ?? null,
            issued_at: now,
            expires_at: expiresAt,
            jws,
            signing_key_id: kid,
          },
          now,
        );
        await audit(tx, request, "kya.approved", after, agent, now, {
          details: {
            level: approval.level,
            verified_capabilities: approval.verified_capabilities,
            expires_at: expiresAt.toISOString(),
            kid,
          },
        });
        await announce(tx, after, agent);
        return after;
      });
      return send(reply, approved);
    },

    rejectAttestation: async (request, reply) =>
      send(
        reply,
        await closeAttestation(request, "kya.rejected", (attestation, reviewer, reason, now) => {
          checkCanReview(attestation, reviewer);
          return { status: "rejected", rejection_reason: reason, reviewed_by: reviewer, reviewed_at: now };
        }),
      ),

    revokeAttestation: async (request, reply) =>
      send(
        reply,
        await closeAttestation(request, "kya.revoked", (attestation, revoker, reason, now) => {
          checkCanRevoke(attestation);
          return { status: "revoked", revoked_by: revoker, revoked_at: now, revocation_reason: reason };
        }),
      ),

    getJwks: async () => {
      if (!ctx.signer)
        throw new ApiError("unavailable", "attestation signing is not configured (VAULT_ADDR)");
      try {
        return { keys: await ctx.signer.jwks() };
      } catch (error) {
        ctx.logger.error({ err: error }, "reading the signing keys failed");
        throw new ApiError("unavailable", "the signing service (Vault) is unavailable; try again");
      }
    },
  };
}
