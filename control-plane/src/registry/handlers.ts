import type { FastifyReply, FastifyRequest } from "fastify";
import type { Queryable } from "../../../lib/src/db/types.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { canSeeTenant, hasRole, scopedTenant } from "../http/auth.js";
import { checkIfMatch, etagOf } from "../http/conditional.js";
import { decodeTimeCursor } from "../http/cursor.js";
import { ApiError, notFound } from "../http/errors.js";
import { afterTime, readPage } from "../http/page.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { notifyRegistry } from "../notify.js";
import {
  checkMayChange,
  checkResourceUri,
  checkTransition,
  resolveSpiffeId,
  toApi,
  type RegistrationStatus,
  type RegistryCreateBody,
  type RegistryEntry,
  type RegistryKind,
  type RegistryUpdateBody,
} from "./model.js";
import { holdRevocation } from "../oauth/issuance-lock.js";
import { findEntry, insertEntry, listEntries, updateEntry, type RegistryFilter } from "./repository.js";

const LABEL: Record<RegistryKind, { noun: string; action: string }> = {
  agent: { noun: "agent", action: "agent" },
  mcp_server: { noun: "MCP server", action: "mcp_server" },
};

type IdParams = { id: string };
type ListQuery = Omit<RegistryFilter, "kind"> & { limit: number; cursor?: string };

/** The change feed entry of a registry row (notify.ts), sent inside the changing transaction. */
export async function announce(tx: Queryable, entry: RegistryEntry): Promise<void> {
  await notifyRegistry(tx, {
    v: 1,
    entity: "agent",
    op: "upsert",
    id: entry.id,
    kind: entry.kind,
    spiffe_id: entry.spiffe_id,
    tenant: entry.tenant,
    status: entry.status,
    version: entry.version,
  });
}

function send(reply: FastifyReply, entry: RegistryEntry, status = 200) {
  return reply.status(status).header("etag", etagOf(entry.version)).send(toApi(entry));
}

export function registryHandlers(ctx: AppContext, kind: RegistryKind): Handlers {
  const { noun, action } = LABEL[kind];
  const names = kind === "agent" ? ["Agents", "Agent"] : ["McpServers", "McpServer"];

  async function loadVisible(
    request: FastifyRequest,
    id: string,
    forUpdate: Queryable | null,
  ): Promise<RegistryEntry> {
    const entry = await findEntry(forUpdate ?? ctx.db, id, { kind, forUpdate: forUpdate !== null });
    if (!entry || !canSeeTenant(principalOf(request), entry.tenant)) throw notFound(noun);
    return entry;
  }

  async function change(
    request: FastifyRequest,
    reply: FastifyReply,
    changes: RegistryUpdateBody | { status: RegistrationStatus },
    auditAction: (before: RegistryEntry) => string,
  ) {
    const principal = principalOf(request);
    const { id } = request.params as IdParams;
    if ("resource_uri" in changes) checkResourceUri(kind, changes.resource_uri);
    const updated = await ctx.db.transaction(async (tx) => {
      // A status change (suspend, archive) is a revocation for the token service (oauth/issuance-lock.ts).
      if (changes.status !== undefined) await holdRevocation(tx);
      const entry = await loadVisible(request, id, tx);
      checkMayChange(principal, entry, changes.status);
      checkIfMatch(request.headers["if-match"], entry.version, true);
      if (changes.status !== undefined) checkTransition(entry.status, changes.status);
      const now = ctx.now();
      const after = await updateEntry(tx, id, changes, now);
      await recordAction(
        tx,
        request,
        {
          tenant: after.tenant,
          action: auditAction(entry),
          agentId: after.id,
          agentSpiffeId: after.spiffe_id,
          resourceType: kind,
          resourceId: after.id,
          details: { changes, from_status: entry.status, to_status: after.status, version: after.version },
        },
        now,
      );
      await announce(tx, after);
      return after;
    });
    return send(reply, updated);
  }

  return {
    [`list${names[0]}`]: async (request) => {
      const principal = principalOf(request);
      const query = request.query as ListQuery;
      const listName = `registry:${kind}`;
      const after = decodeTimeCursor(listName, query.cursor);
      const { limit: _limit, cursor: _cursor, ...filters } = query;
      const filter = { ...filters, kind, tenant: scopedTenant(principal, filters.tenant) };
      return readPage(
        query,
        (rows) => listEntries(ctx.db, filter, after, rows),
        toApi,
        afterTime(listName, (entry) => entry.created_at),
      );
    },

    [`create${names[1]}`]: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as RegistryCreateBody;
      scopedTenant(principal, body.tenant);
      const owner = body.owner ?? principal.subject;
      if (!hasRole(principal, "admin") && owner !== principal.subject) {
        throw new ApiError("forbidden", "creators register entries they own", [
          { field: "owner", message: "must be you (or leave it out)" },
        ]);
      }
      const spiffeId = resolveSpiffeId(kind, ctx.trustDomain, body);
      checkResourceUri(kind, body.resource_uri);
      const created = await ctx.db.transaction(async (tx) => {
        const now = ctx.now();
        const entry = await insertEntry(tx, {
          kind,
          name: body.name,
          spiffe_id: spiffeId,
          tenant: body.tenant,
          owner,
          team: body.team,
          type: body.type,
          environment: body.environment,
          capabilities: body.capabilities ?? [],
          external_services: body.external_services ?? [],
          metadata: body.metadata ?? {},
          resource_uri: body.resource_uri ?? null,
          created_by: principal.subject,
          created_at: now,
        });
        await recordAction(
          tx,
          request,
          {
            tenant: entry.tenant,
            action: `${action}.created`,
            agentId: entry.id,
            agentSpiffeId: entry.spiffe_id,
            resourceType: kind,
            resourceId: entry.id,
            details: { name: entry.name, capabilities: entry.capabilities },
          },
          now,
        );
        await announce(tx, entry);
        return entry;
      });
      return send(reply, created, 201);
    },

    [`get${names[1]}`]: async (request, reply) =>
      send(reply, await loadVisible(request, (request.params as IdParams).id, null)),

    [`update${names[1]}`]: async (request, reply) =>
      change(request, reply, request.body as RegistryUpdateBody, (before) => {
        const to = (request.body as RegistryUpdateBody).status;
        if (to === undefined || to === before.status) return `${action}.updated`;
        return `${action}.${to === "active" ? "reactivated" : to}`;
      }),

    [`archive${names[1]}`]: async (request, reply) =>
      change(request, reply, { status: "archived" }, () => `${action}.archived`),
  };
}
