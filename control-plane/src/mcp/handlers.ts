import { randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Queryable } from "../../../lib/src/db/types.js";
import type { ServerToolRules } from "../../../lib/src/mcp/tool-rules.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { notifyRevocation } from "../delegations/notify.js";
import { verifiedCapabilities } from "../delegations/repository.js";
import { canSeeTenant } from "../http/auth.js";
import { checkIfMatch, etagOf } from "../http/conditional.js";
import { ApiError, notFound } from "../http/errors.js";
import { principalOf, type Handlers } from "../http/routes.js";
import type { FieldProblem } from "../http/validation.js";
import type { TokenServiceContext } from "../oauth/context.js";
import { holdIssuance } from "../oauth/issuance-lock.js";
import { announce } from "../registry/handlers.js";
import type { RegistryEntry } from "../registry/model.js";
import { findEntryByIdOrName, updateEntry } from "../registry/repository.js";
import { checkMayGovern, checkNotArchived } from "./governance.js";
import { MCP_TOKEN_DEFAULT_TTL_S, MCP_TOKEN_TYPE, mcpTokenClaims, mcpTokenScopes } from "./tokens.js";
import { checkToolRules, describeProblems, ruleReferences, unknownReferenceWarnings } from "./tool-rules.js";

/**
 * MCP governance in the control plane: an MCP server's owner (or an admin) sets its tool rules
 * (stored on its registry row, announced to authz-servers like any registry change) and mints
 * bearer tokens for agents without an SVID, for that server's resource URI only.
 */
type ServerParams = { id: string };
type TokenBody = { agent_id: string; scopes?: string[]; ttl_seconds?: number };

const TOOL_RULES_CHANGED = "mcp.tool_rules.changed";

/** The document with its defaults filled in, or a 400 naming every wrong field by its path. */
function parseToolRules(body: unknown): ServerToolRules {
  const checked = checkToolRules(body);
  if (checked.ok) return checked.rules;
  throw new ApiError(
    "bad_request",
    `invalid tool rules: ${describeProblems(checked.problems)}`,
    checked.problems,
  );
}

export function mcpHandlers(ctx: AppContext, tokens: TokenServiceContext): Handlers {
  /** The MCP server named by the path (id or name); 404 when unknown or in another tenant. */
  async function serverOf(request: FastifyRequest, db: Queryable, forUpdate = false): Promise<RegistryEntry> {
    const { id } = request.params as ServerParams;
    const server = await findEntryByIdOrName(db, id, { kind: "mcp_server", forUpdate });
    if (!server || !canSeeTenant(principalOf(request), server.tenant)) throw notFound("MCP server");
    return server;
  }

  function sendRules(reply: FastifyReply, server: RegistryEntry, warnings: FieldProblem[] = []) {
    return reply.header("etag", etagOf(server.version)).send({
      server_id: server.id,
      server: server.name,
      rules: server.tool_rules,
      version: server.version,
      warnings,
    });
  }

  /** Names the rules use that no agent or team of the server's tenant has (yet). */
  async function warningsFor(db: Queryable, server: RegistryEntry, rules: ServerToolRules) {
    const refs = ruleReferences(rules);
    const names = [...refs.agents.keys()];
    const teams = [...refs.teams.keys()];
    if (names.length === 0 && teams.length === 0) return [];
    const { rows } = await db.query<{ name: string; spiffe_id: string; team: string }>(
      `SELECT name, spiffe_id, team FROM agents
        WHERE kind = 'agent' AND tenant = $1 AND status <> 'archived'
          AND (name = ANY($2::text[]) OR spiffe_id = ANY($2::text[]) OR team = ANY($3::text[]))`,
      [server.tenant, names, teams],
    );
    const known = {
      agents: new Set(rows.flatMap((r) => [r.name, r.spiffe_id])),
      teams: new Set(rows.map((r) => r.team)),
    };
    return unknownReferenceWarnings(refs, known, server.tenant);
  }

  /** Stores `rules` (null: clears them) under If-Match, audits and announces, in one transaction. */
  async function changeRules(request: FastifyRequest, reply: FastifyReply, rules: ServerToolRules | null) {
    const principal = principalOf(request);
    const result = await ctx.db.transaction(async (tx) => {
      const server = await serverOf(request, tx, true);
      checkMayGovern(principal, server, "change its tool rules");
      checkIfMatch(request.headers["if-match"], server.version, true);
      checkNotArchived(server);
      const warnings = rules ? await warningsFor(tx, server, rules) : [];
      if (rules === null && server.tool_rules === null) return { after: server, warnings };
      const now = ctx.now();
      const after = await updateEntry(tx, server.id, { tool_rules: rules }, now);
      await recordAction(
        tx,
        request,
        {
          tenant: after.tenant,
          action: TOOL_RULES_CHANGED,
          agentId: after.id,
          agentSpiffeId: after.spiffe_id,
          resourceType: "mcp_server",
          resourceId: after.id,
          // The rules are not secret: the event keeps both, so the audit log shows what changed.
          details: {
            server: after.name,
            from_version: server.version,
            to_version: after.version,
            old_rules: server.tool_rules,
            new_rules: after.tool_rules,
            warnings: warnings.length,
          },
        },
        now,
      );
      await announce(tx, after);
      return { after, warnings };
    });
    return sendRules(reply, result.after, result.warnings);
  }

  async function sign(claims: Record<string, unknown>): Promise<string> {
    if (!tokens.signer) throw new ApiError("unavailable", "token signing is not configured (VAULT_ADDR)");
    try {
      return (await tokens.signer.sign({ typ: MCP_TOKEN_TYPE }, claims)).jws;
    } catch (error) {
      // The error says why Vault refused; it never holds the token, which does not exist yet.
      ctx.logger.warn({ err: error }, "MCP token signing failed");
      if (error instanceof VaultError && !error.unavailable)
        throw new ApiError("internal", "the token signing key refused the request");
      throw new ApiError("unavailable", "the signing service (Vault) is unavailable; try again");
    }
  }

  /** The agent a token is for: of the server's tenant, active, with its verified capabilities. */
  async function entitledAgent(db: Queryable, server: RegistryEntry, agentRef: string, now: Date) {
    const agent = await findEntryByIdOrName(db, agentRef, { kind: "agent" });
    if (!agent || agent.tenant !== server.tenant) throw notFound("agent");
    if (agent.status !== "active") throw new ApiError("conflict", `the agent is ${agent.status}`);
    return { agent, verified: await verifiedCapabilities(db, agent.id, now) };
  }

  return {
    getMcpToolRules: async (request, reply) => sendRules(reply, await serverOf(request, ctx.db)),

    putMcpToolRules: async (request, reply) => changeRules(request, reply, parseToolRules(request.body)),

    clearMcpToolRules: async (request, reply) => changeRules(request, reply, null),

    mintMcpToken: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as TokenBody;
      const server = await serverOf(request, ctx.db);
      checkMayGovern(principal, server, "mint tokens for it");
      if (server.status !== "active") throw new ApiError("conflict", `the MCP server is ${server.status}`);
      if (server.resource_uri === null)
        throw new ApiError("bad_request", "the MCP server has no resource_uri; set one first", [
          { field: "resource_uri", message: "is not set on the MCP server" },
        ]);
      const now = new Date(Math.floor(ctx.now().getTime() / 1000) * 1000);
      const { agent, verified } = await entitledAgent(ctx.db, server, body.agent_id, now);
      const claims = mcpTokenClaims({
        issuer: tokens.urls.issuer,
        jti: randomUUID(),
        now,
        ttlSeconds: body.ttl_seconds ?? MCP_TOKEN_DEFAULT_TTL_S,
        resource: server.resource_uri,
        server: server.name,
        tenant: server.tenant,
        agentSpiffeId: agent.spiffe_id,
        scopes: mcpTokenScopes(body.scopes, verified),
      });
      // Signed by Vault without holding a database connection, then everything checked again under
      // the issuance lock (oauth/issuance-lock.ts) and recorded: nothing is handed out after the
      // agent's suspension or its attestation's revocation commits.
      const token = await sign(claims);
      await ctx.db.transaction(async (tx) => {
        await holdIssuance(tx);
        const again = await serverOf(request, tx);
        if (again.status !== "active" || again.resource_uri !== server.resource_uri)
          throw new ApiError("conflict", "the MCP server changed meanwhile; try again");
        const still = await entitledAgent(tx, server, agent.id, ctx.now());
        mcpTokenScopes(String(claims.scope).split(" ").filter(Boolean), still.verified);
        await recordAction(
          tx,
          request,
          {
            tenant: server.tenant,
            action: "mcp.token_minted",
            agentId: agent.id,
            agentSpiffeId: agent.spiffe_id,
            resourceType: "access_token",
            resourceId: String(claims.jti),
            // The jti, never the token: it is shown once, to the caller, and stored nowhere.
            details: {
              mcp_server_id: server.id,
              mcp_server: server.name,
              audience: server.resource_uri,
              scope: claims.scope,
              expires_at: new Date(Number(claims.exp) * 1000).toISOString(),
            },
          },
          ctx.now(),
        );
      });
      return reply
        .status(201)
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .send({
          access_token: token,
          token_type: "Bearer",
          expires_in: Number(claims.exp) - Number(claims.iat),
          expires_at: new Date(Number(claims.exp) * 1000).toISOString(),
          scope: claims.scope,
          audience: server.resource_uri,
          jti: claims.jti,
          agent_spiffe_id: agent.spiffe_id,
        });
    },

    revokeMcpToken: async (request, reply) => {
      const principal = principalOf(request);
      const { jti } = request.body as { jti: string };
      const revoked = await ctx.db.transaction(async (tx) => {
        const server = await serverOf(request, tx);
        checkMayGovern(principal, server, "revoke tokens minted for it");
        // Only tokens minted for this server: their jti is in its audit trail, with their expiry.
        const { rows } = await tx.query<{ agent_spiffe_id: string; expires_at: string }>(
          `SELECT agent_spiffe_id, details->>'expires_at' AS expires_at FROM audit_events
            WHERE action = 'mcp.token_minted' AND tenant = $1 AND resource_id = $2
              AND details->>'mcp_server_id' = $3
            LIMIT 1`,
          [server.tenant, jti, server.id],
        );
        const minted = rows[0];
        if (!minted) throw notFound("token");
        const now = ctx.now();
        const expiresAt = new Date(minted.expires_at);
        const inserted = await tx.query<{ revoked_at: Date }>(
          `INSERT INTO oauth_revoked_tokens (jti, tenant, client_id, expires_at, revoked_at, revoked_by)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (jti) DO NOTHING RETURNING revoked_at`,
          [jti, server.tenant, minted.agent_spiffe_id, expiresAt, now, principal.subject],
        );
        if (inserted.rows.length === 0) {
          const { rows: earlier } = await tx.query<{ revoked_at: Date }>(
            "SELECT revoked_at FROM oauth_revoked_tokens WHERE jti = $1",
            [jti],
          );
          return earlier[0]!.revoked_at;
        }
        await recordAction(
          tx,
          request,
          {
            tenant: server.tenant,
            action: "mcp.token_revoked",
            agentSpiffeId: minted.agent_spiffe_id,
            resourceType: "access_token",
            resourceId: jti,
            details: { mcp_server_id: server.id, mcp_server: server.name },
          },
          now,
        );
        await notifyRevocation(
          tx,
          { by: "token", tenant: server.tenant },
          [{ id: jti, expires_at: expiresAt }],
          now,
        );
        return now;
      });
      return reply.send({ jti, revoked_at: new Date(revoked).toISOString() });
    },
  };
}
