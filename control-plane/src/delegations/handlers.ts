import { randomUUID } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Queryable } from "../../../lib/src/db/types.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { canSeeTenant, hasRole, scopedTenant, userTenantOf, type Principal } from "../http/auth.js";
import { decodeSequenceCursor, decodeTimeCursor } from "../http/cursor.js";
import { ApiError, notFound } from "../http/errors.js";
import { afterSequence, afterTime, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import type { TokenServiceContext } from "../oauth/context.js";
import { holdRevocation } from "../oauth/issuance-lock.js";
import { findEntry } from "../registry/repository.js";
import { DELEGATION_HEADER, delegationEvents } from "./activity.js";
import {
  checkGrantRequest,
  checkNoEscalation,
  DELEGATION_JWS_TYPE,
  delegableScopes,
  delegationClaims,
  toApi,
  type Delegation,
  type DelegationClaimsInput,
  type DelegationStatus,
  type GrantBody,
} from "./model.js";
import { notifyRevocation } from "./notify.js";
import {
  findDelegation,
  insertDelegation,
  listDelegations,
  listWithActivity,
  revokeDelegations,
  verifiedCapabilities,
  type RevocationSelector,
  type RevokedRow,
} from "./repository.js";

type IdParams = { id: string };
type ListQuery = {
  limit: number;
  cursor?: string;
  tenant?: string;
  user_id?: string;
  agent_id?: string;
  status?: DelegationStatus;
};
type BulkRevokeBody = { agent_id?: string; user_id?: string; tenant?: string; reason?: string };
/** Delegation lists are sorted by (issued_at, id). */
const issuedAt = (delegation: Delegation) => delegation.issued_at;

/**
 * Delegations API: a user grants an agent scopes for a while (and gets the signed token the agent
 * presents in `x-warden-delegation`), sees what their agents can do and did, and takes it back;
 * admins list and revoke every delegation of an agent, a user or a tenant. Every change is audited
 * in its transaction, and every revocation is announced to the data plane (NOTIFY) as it commits.
 */
export function delegationHandlers(ctx: AppContext, tokens: TokenServiceContext): Handlers {
  const isAdmin = (principal: Principal) => hasRole(principal, "admin");

  /** Users see their own delegations; admins every one in their tenant; others get 404. */
  async function visible(db: Queryable, request: FastifyRequest, forUpdate = false): Promise<Delegation> {
    const principal = principalOf(request);
    const delegation = await findDelegation(db, (request.params as IdParams).id, forUpdate);
    if (
      !delegation ||
      !canSeeTenant(principal, delegation.tenant) ||
      (!isAdmin(principal) && delegation.user_id !== principal.subject)
    )
      throw notFound("delegation");
    return delegation;
  }

  async function sign(delegation: DelegationClaimsInput["delegation"]) {
    if (!tokens.signer)
      throw new ApiError("unavailable", "delegation signing is not configured (VAULT_ADDR)");
    try {
      return await tokens.signer.sign(
        { typ: DELEGATION_JWS_TYPE },
        delegationClaims({ issuer: tokens.urls.issuer, delegation }),
      );
    } catch (error) {
      ctx.logger.warn({ err: error }, "delegation signing failed");
      if (error instanceof VaultError && !error.unavailable)
        throw new ApiError("internal", "the token signing key refused the request");
      throw new ApiError("unavailable", "the signing service (Vault) is unavailable; try again");
    }
  }

  /** Revokes, audits (one event per tenant touched) and announces, all in the caller's transaction. */
  async function revoke(
    tx: Queryable,
    request: FastifyRequest,
    selector: RevocationSelector,
    reason: string | null,
    announce: { agent_spiffe_id?: string; user_id?: string },
  ): Promise<RevokedRow[]> {
    const principal = principalOf(request);
    const now = ctx.now();
    const revoked = await revokeDelegations(tx, selector, { subject: principal.subject, reason }, now);
    const byTenant = new Map<string, RevokedRow[]>();
    for (const row of revoked) {
      const rows = byTenant.get(row.tenant);
      if (rows) rows.push(row);
      else byTenant.set(row.tenant, [row]);
    }
    // What a bulk revocation was about, for the audit row: the agent, the user or the tenant.
    const subject = announce.agent_spiffe_id ?? announce.user_id;
    for (const [tenant, rows] of byTenant) {
      const single = selector.via === "delegation" ? rows[0] : undefined;
      await recordAction(
        tx,
        request,
        {
          tenant,
          action: single ? "delegation.revoked" : `delegations.revoked_by_${selector.via}`,
          agentId: single?.agent_id ?? ("agent_id" in selector ? selector.agent_id : null),
          agentSpiffeId: single?.agent_spiffe_id ?? announce.agent_spiffe_id ?? null,
          userId: single?.user_id ?? announce.user_id ?? null,
          delegationId: single?.id ?? null,
          resourceType: "delegation",
          resourceId: single?.id ?? `${selector.via}:${subject ?? tenant}`,
          reason,
          details: { via: selector.via, revoked: rows.length },
        },
        now,
      );
      await notifyRevocation(tx, { by: selector.via, tenant, ...announce }, rows, now);
    }
    return revoked;
  }

  return {
    createDelegation: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as GrantBody;
      const ttl = checkGrantRequest(body, tokens.catalogue, tokens.limits);
      // A delegation is a user's act in their tenant: a token without the tenant claim grants nothing.
      const tenant = userTenantOf(principal, "granting a delegation");
      const delegable = delegableScopes(principal.delegableScopes);
      const created = await ctx.db.transaction(async (tx) => {
        const agent = await findEntry(tx, body.agent_id);
        if (!agent || agent.tenant !== tenant) throw notFound("agent");
        if (agent.status !== "active")
          throw new ApiError(
            "conflict",
            `the ${agent.kind === "agent" ? "agent" : "MCP server"} is ${agent.status}`,
          );
        // Whole seconds, so the row and the token's iat/exp say the same.
        const issuedAt = new Date(Math.floor(ctx.now().getTime() / 1000) * 1000);
        checkNoEscalation(body.scopes, await verifiedCapabilities(tx, agent.id, issuedAt), delegable);
        const unsigned = {
          id: randomUUID(),
          tenant: agent.tenant,
          user_id: principal.subject,
          agent_id: agent.id,
          agent_spiffe_id: agent.spiffe_id,
          scopes: body.scopes,
          destinations: body.destinations ?? [],
          issued_at: issuedAt,
          expires_at: new Date(issuedAt.getTime() + ttl * 1000),
        };
        const { jws, kid } = await sign(unsigned);
        const delegation = await insertDelegation(tx, {
          ...unsigned,
          signing_key_id: kid,
          granted_by: principal.subject,
        });
        await recordAction(
          tx,
          request,
          {
            tenant: delegation.tenant,
            action: "delegation.granted",
            agentId: agent.id,
            agentSpiffeId: agent.spiffe_id,
            userId: delegation.user_id,
            delegationId: delegation.id,
            resourceType: "delegation",
            resourceId: delegation.id,
            details: {
              scopes: delegation.scopes,
              destinations: delegation.destinations,
              expires_at: delegation.expires_at.toISOString(),
              kid,
            },
          },
          issuedAt,
        );
        return { delegation, jws };
      });
      return reply.status(201).send({
        delegation: toApi(created.delegation, ctx.now()),
        token: created.jws,
        header: DELEGATION_HEADER,
      });
    },

    listDelegations: async (request) => {
      const principal = principalOf(request);
      const query = request.query as ListQuery;
      if (!isAdmin(principal) && query.user_id !== undefined && query.user_id !== principal.subject)
        throw new ApiError("forbidden", "only an admin can list other users' delegations");
      const after = decodeTimeCursor("delegations", query.cursor);
      const now = ctx.now();
      const filter = {
        tenant: scopedTenant(principal, query.tenant),
        user_id: isAdmin(principal) ? query.user_id : principal.subject,
        agent_id: query.agent_id,
        status: query.status,
      };
      const read = (rows: number) => listDelegations(ctx.db, filter, after, rows, now);
      return readPage(query, read, (d) => toApi(d, now), afterTime("delegations", issuedAt));
    },

    listMyDelegations: async (request) => {
      const principal = principalOf(request);
      const query = request.query as ListQuery;
      const after = decodeTimeCursor("my-delegations", query.cursor);
      const now = ctx.now();
      const filter = {
        tenant: userTenantOf(principal, "listing your delegations"),
        user_id: principal.subject,
        status: query.status ?? "active",
      };
      return readPage(
        query,
        (rows) => listWithActivity(ctx.db, filter, after, rows, now),
        ({ agent_name, agent_kind, events, allowed, denied, last_event_at, ...d }) => ({
          delegation: toApi(d, now),
          agent: { id: d.agent_id, name: agent_name, kind: agent_kind, spiffe_id: d.agent_spiffe_id },
          activity: { events, allowed, denied, last_event_at: last_event_at?.toISOString() ?? null },
        }),
        afterTime("my-delegations", issuedAt),
      );
    },

    getDelegation: async (request) => toApi(await visible(ctx.db, request), ctx.now()),

    listDelegationEvents: async (request) => {
      const delegation = await visible(ctx.db, request);
      const query = request.query as { limit: number; cursor?: string };
      const afterId = decodeSequenceCursor("delegation-events", query.cursor) ?? 0;
      const read = (rows: number) => delegationEvents(ctx.db, delegation, afterId, rows);
      return readPage(query, read, (event) => event, afterSequence("delegation-events"));
    },

    revokeDelegation: async (request) => {
      const { reason } = (request.body ?? {}) as { reason?: string };
      const revoked = await ctx.db.transaction(async (tx) => {
        await holdRevocation(tx);
        const delegation = await visible(tx, request, true);
        const rows = await revoke(tx, request, { via: "delegation", id: delegation.id }, reason ?? null, {
          agent_spiffe_id: delegation.agent_spiffe_id,
          user_id: delegation.user_id,
        });
        if (rows.length === 0)
          throw new ApiError(
            "conflict",
            `the delegation is already ${delegation.revoked_at ? "revoked" : "expired"}`,
          );
        return (await findDelegation(tx, delegation.id))!;
      });
      return toApi(revoked, ctx.now());
    },

    revokeDelegations: async (request) => {
      const principal = principalOf(request);
      const body = request.body as BulkRevokeBody;
      const reason = body.reason ?? null;
      const revoked = await ctx.db.transaction(async (tx) => {
        await holdRevocation(tx);
        if (body.agent_id !== undefined) {
          if (!isAdmin(principal))
            throw new ApiError("forbidden", "only an admin can revoke every delegation of an agent");
          const agent = await findEntry(tx, body.agent_id);
          if (!agent || !canSeeTenant(principal, agent.tenant)) throw notFound("agent");
          return revoke(tx, request, { via: "agent", agent_id: agent.id }, reason, {
            agent_spiffe_id: agent.spiffe_id,
          });
        }
        if (body.user_id !== undefined) {
          if (!isAdmin(principal) && body.user_id !== principal.subject)
            throw new ApiError("forbidden", "only an admin can revoke another user's delegations");
          if (!isAdmin(principal)) userTenantOf(principal, "revoking your delegations");
          return revoke(
            tx,
            request,
            { via: "user", user_id: body.user_id, tenant: principal.tenant ?? undefined },
            reason,
            { user_id: body.user_id },
          );
        }
        if (!isAdmin(principal))
          throw new ApiError("forbidden", "only an admin can revoke every delegation of a tenant");
        const tenant = scopedTenant(principal, body.tenant)!;
        return revoke(tx, request, { via: "tenant", tenant }, reason, {});
      });
      return { revoked: revoked.length };
    },
  };
}
