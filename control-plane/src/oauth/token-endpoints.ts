import { randomUUID } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { appendAuditEntries } from "../../../lib/src/audit/store.js";
import { normalizeAuditEvent } from "../../../lib/src/audit/event.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import type { X509Bundles } from "../../../lib/src/spiffe/x509.js";
import {
  ACCESS_TOKEN_TYPE,
  TOKEN_TYPE_ACCESS_TOKEN,
  WARDEN_AUDIENCE,
  type Grant,
} from "../../../lib/src/tokens/claims.js";
import { checkGrantUse, verifyResourceToken, verifyTokenSignature } from "../../../lib/src/tokens/verify.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import type { AppContext } from "../context.js";
import { notifyRevocation } from "../delegations/notify.js";
import { covers } from "../delegations/model.js";
import { verifiedCapabilities } from "../delegations/repository.js";
import {
  authenticateClient,
  peerChain,
  refuseClientSecrets,
  type AuthenticatedClient,
} from "./client-auth.js";
import type { TokenServiceContext } from "./context.js";
import { OAuthError, sendOAuthError } from "./errors.js";
import { holdIssuance } from "./issuance-lock.js";
import {
  clientCredentialsClaims,
  clientCredentialsRequest,
  exchangeClaims,
  GRANT_TYPES,
  parseGrant,
  TOKEN_EXCHANGE_GRANT,
  tokenExchangeRequest,
  type AccessTokenInput,
} from "./grants.js";

/**
 * `/oauth2/token`, `/oauth2/revoke` (RFC 7009) and `/oauth2/introspect` (RFC 7662) on the
 * mutual-TLS listener. Every caller is authenticated by its X.509-SVID (client-auth.ts); bodies are
 * `application/x-www-form-urlencoded`, answers JSON with `Cache-Control: no-store`.
 */
export interface TokenEndpointOptions {
  app: AppContext;
  tokens: TokenServiceContext;
  bundles: () => X509Bundles;
}

interface AgentRow {
  id: string;
  kind: string;
  tenant: string;
  status: string;
  spiffe_id: string;
}

const FORM_LIMIT = 64 * 1024;

/** RFC 6749 §3.2: a parameter must not be sent twice. */
function parseForm(body: string): Record<string, string> {
  // No prototype: a parameter named `constructor` or `__proto__` is just a parameter.
  const form = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(body)) {
    if (Object.hasOwn(form, key))
      throw new OAuthError("invalid_request", `parameter ${key} was sent more than once`);
    form[key] = value;
  }
  return form;
}

export function registerTokenEndpoints(server: FastifyInstance, options: TokenEndpointOptions): void {
  const { app, tokens } = options;
  const ttl = tokens.accessTokenTtlSeconds;

  server.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: FORM_LIMIT },
    (_request, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  function formOf(request: FastifyRequest): Record<string, string> {
    const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (
      type !== "application/x-www-form-urlencoded" ||
      typeof request.body !== "object" ||
      request.body === null
    )
      throw new OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded");
    return request.body as Record<string, string>;
  }

  function clientOf(request: FastifyRequest, form: Record<string, string>): AuthenticatedClient {
    refuseClientSecrets(request.headers.authorization, form);
    return authenticateClient(
      peerChain(request.raw.socket as TLSSocket),
      options.bundles(),
      app.now(),
      form.client_id,
    );
  }

  /** `lock`: the row is held (FOR SHARE) until the transaction ends, so a status change waits for it. */
  async function registeredAgent(
    db: Queryable,
    client: { spiffeId: string },
    lock = false,
  ): Promise<AgentRow> {
    const { rows } = await db.query<AgentRow>(
      `SELECT id, kind, tenant, status, spiffe_id FROM agents WHERE spiffe_id = $1${lock ? " FOR SHARE" : ""}`,
      [client.spiffeId],
    );
    const agent = rows[0];
    if (!agent) throw new OAuthError("invalid_client", `${client.spiffeId} is not a registered agent`);
    if (agent.status !== "active")
      throw new OAuthError("unauthorized_client", `the agent is ${agent.status}`);
    return agent;
  }

  async function publishedKeys() {
    if (!tokens.signer)
      throw new OAuthError("temporarily_unavailable", "token signing is not configured (VAULT_ADDR)");
    return tokens.signer.verificationKeys();
  }

  /** A token of ours, signature and claims checked; null when it is not one. */
  async function ourToken(token: string): Promise<Grant | null> {
    const keys = await publishedKeys();
    const outcome = verifyTokenSignature(token, (kid) => keys.get(kid), {
      issuer: tokens.urls.issuer,
      delegationAudience: WARDEN_AUDIENCE,
      accessTokenAudiences: new Set([WARDEN_AUDIENCE]),
    });
    if (outcome.ok) return outcome.grant;
    // An MCP resource token (minted through the API for a client without an SVID): its audience is
    // an MCP server's resource URI, so it can be revoked and introspected here too.
    const resource = verifyResourceToken(token, (kid) => keys.get(kid), {
      issuer: tokens.urls.issuer,
      resource: () => true,
    });
    return resource.ok ? resource.grant : null;
  }

  async function isRevoked(db: Queryable, grant: Grant): Promise<boolean> {
    const { rows } = await db.query<{ revoked: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM oauth_revoked_tokens WHERE jti = $1::uuid)
           OR EXISTS (SELECT 1 FROM delegations WHERE id = $2::uuid AND revoked_at IS NOT NULL) AS revoked`,
      [grant.tokenId, grant.delegationId ?? grant.tokenId],
    );
    return rows[0]?.revoked === true;
  }

  async function sign(claims: Record<string, unknown>): Promise<string> {
    try {
      return (await tokens.signer!.sign({ typ: ACCESS_TOKEN_TYPE }, claims)).jws;
    } catch (error) {
      app.logger.warn({ err: error }, "access token signing failed");
      if (error instanceof VaultError && !error.unavailable)
        throw new OAuthError("server_error", "the token key refused to sign");
      throw new OAuthError(
        "temporarily_unavailable",
        "the signing service (Vault) is unavailable; try again",
      );
    }
  }

  async function audit(
    tx: Queryable,
    request: FastifyRequest,
    event: {
      tenant: string;
      action: string;
      agent: AgentRow | null;
      client: string;
      jti: string;
      userId?: string | null;
      delegationId?: string | null;
      details: Record<string, unknown>;
    },
  ) {
    const now = app.now();
    await appendAuditEntries(
      tx,
      [
        normalizeAuditEvent({
          tenant: event.tenant,
          occurred_at: now,
          source: "control-plane",
          action: event.action,
          actor: event.client,
          agent_id: event.agent?.id ?? null,
          agent_spiffe_id: event.client,
          user_id: event.userId ?? null,
          delegation_id: event.delegationId ?? null,
          request_id: String(request.id),
          resource_type: "access_token",
          resource_id: event.jti,
          details: event.details,
        }),
      ],
      now,
    );
  }

  const issued = (reply: FastifyReply, token: string, claims: Record<string, unknown>, exchange: boolean) =>
    reply
      .header("cache-control", "no-store")
      .header("pragma", "no-cache")
      .send({
        access_token: token,
        ...(exchange ? { issued_token_type: TOKEN_TYPE_ACCESS_TOKEN } : {}),
        token_type: "Bearer",
        expires_in: (claims.exp as number) - (claims.iat as number),
        scope: claims.scope,
      });

  async function clientCredentials(
    request: FastifyRequest,
    reply: FastifyReply,
    form: Record<string, string>,
  ) {
    const client = clientOf(request, form);
    const grant = parseGrant(clientCredentialsRequest, form);
    await publishedKeys();
    const now = app.now();
    const { agent, verified } = await attestedAgent(app.db, client, now);
    const input = accessTokenInput(client, agent.tenant, now);
    const claims = clientCredentialsClaims(input, grant, verified);
    const token = await sign(claims);
    // As for exchanges: re-checked under the issuance lock, so nothing is issued after the agent's
    // suspension or its attestation's revocation commits.
    await app.db.transaction(async (tx) => {
      await holdIssuance(tx);
      const again = await attestedAgent(tx, client, app.now());
      if (grantedScopesOf(claims).some((scope) => !covers(again.verified, scope)))
        throw new OAuthError("invalid_scope", "the agent's attestation changed; ask again");
      await audit(tx, request, {
        tenant: agent.tenant,
        action: "oauth.token_issued",
        agent,
        client: client.spiffeId,
        jti: input.jti,
        details: { grant_type: "client_credentials", scope: claims.scope, expires_at: claims.exp },
      });
    });
    return issued(reply, token, claims, false);
  }

  /** A new access token's common facts: a fresh jti, this issuer and the configured lifetime. */
  function accessTokenInput(client: AuthenticatedClient, tenant: string, now: Date): AccessTokenInput {
    return { issuer: tokens.urls.issuer, jti: randomUUID(), now, ttlSeconds: ttl, client, tenant };
  }

  async function attestedAgent(tx: Queryable, client: AuthenticatedClient, now: Date) {
    const agent = await registeredAgent(tx, client);
    const verified = await verifiedCapabilities(tx, agent.id, now);
    if (verified === null)
      throw new OAuthError("unauthorized_client", "the agent has no approved KYA attestation");
    return { agent, verified };
  }

  const grantedScopesOf = (claims: Record<string, unknown>) =>
    typeof claims.scope === "string" && claims.scope !== "" ? claims.scope.split(" ") : [];

  async function tokenExchange(request: FastifyRequest, reply: FastifyReply, form: Record<string, string>) {
    const client = clientOf(request, form);
    const grant = parseGrant(tokenExchangeRequest, form);
    const delegation = await ourToken(grant.subject_token);
    if (!delegation || delegation.kind !== "delegation")
      throw new OAuthError("invalid_grant", "subject_token is not a valid delegation issued by this service");
    // Checked first without a transaction (fail fast), signed by Vault without holding a database
    // connection, then checked again and recorded in one short transaction.
    const now = app.now();
    const agent = await stillEntitled(app.db, client, delegation, now);
    const input = accessTokenInput(client, delegation.tenant, now);
    const claims = exchangeClaims(input, grant, delegation, tokens.catalogue.services);
    const token = await sign(claims);
    await app.db.transaction(async (tx) => {
      // Everything again under the issuance lock (issuance-lock.ts), held until commit: a revocation
      // that committed meanwhile is seen here and nothing is issued; one that has not yet committed
      // waits for this commit.
      await holdIssuance(tx);
      await stillEntitled(tx, client, delegation, app.now());
      await audit(tx, request, {
        tenant: delegation.tenant,
        action: "oauth.token_exchanged",
        agent,
        client: client.spiffeId,
        jti: input.jti,
        userId: delegation.userId,
        delegationId: delegation.delegationId,
        details: { scope: claims.scope, audience: grant.audience ?? WARDEN_AUDIENCE, expires_at: claims.exp },
      });
    });
    // Sent only after the commit: a token the client holds is always recorded.
    return issued(reply, token, claims, true);
  }

  /**
   * The delegation may still be exchanged by this client: agent active, same tenant, delegation
   * unrevoked, and an approved attestation that still verifies every delegated scope (KYA re-checked
   * at every exchange).
   */
  async function stillEntitled(
    tx: Queryable,
    client: AuthenticatedClient,
    delegation: Grant,
    now: Date,
  ): Promise<AgentRow> {
    const agent = await registeredAgent(tx, client);
    const refusal = checkGrantUse(delegation, {
      nowSeconds: now.getTime() / 1000,
      callerSpiffeId: client.spiffeId,
      certificateThumbprint: client.thumbprint,
      isRevoked: () => false,
    });
    if (refusal === "agent_mismatch")
      throw new OAuthError("invalid_grant", "the delegation was granted to another agent");
    if (refusal) throw new OAuthError("invalid_grant", `the delegation is ${refusal.replace(/_/g, " ")}`);
    if (delegation.tenant !== agent.tenant)
      throw new OAuthError("invalid_grant", "the delegation belongs to another tenant than the agent");
    const { rows: held } = await tx.query<{ revoked: boolean }>(
      "SELECT revoked_at IS NOT NULL AS revoked FROM delegations WHERE id = $1::uuid",
      [delegation.delegationId],
    );
    if (held.length === 0) throw new OAuthError("invalid_grant", "the delegation is unknown");
    if (held[0]!.revoked || (await isRevoked(tx, delegation)))
      throw new OAuthError("invalid_grant", "the delegation has been revoked");
    const verified = await verifiedCapabilities(tx, agent.id, now);
    if (verified === null)
      throw new OAuthError("unauthorized_client", "the agent has no approved KYA attestation");
    const unverified = delegation.scopes.filter((scope) => !covers(verified, scope));
    if (unverified.length)
      throw new OAuthError(
        "invalid_grant",
        `the agent's attestation no longer verifies: ${unverified.join(" ")}`,
      );
    return agent;
  }

  const handle =
    (
      work: (request: FastifyRequest, reply: FastifyReply, form: Record<string, string>) => Promise<unknown>,
    ) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        return await work(request, reply, formOf(request));
      } catch (error) {
        if (error instanceof OAuthError) return sendOAuthError(reply, error);
        throw error;
      }
    };

  server.post(
    "/oauth2/token",
    handle(async (request, reply, form) => {
      if (form.grant_type === "client_credentials") return clientCredentials(request, reply, form);
      if (form.grant_type === TOKEN_EXCHANGE_GRANT) return tokenExchange(request, reply, form);
      clientOf(request, form);
      if (form.grant_type === undefined) throw new OAuthError("invalid_request", "grant_type is required");
      throw new OAuthError("unsupported_grant_type", `supported: ${GRANT_TYPES.join(", ")}`);
    }),
  );

  // RFC 7009: a client revokes access tokens issued to it. An unknown or invalid token is a success.
  server.post(
    "/oauth2/revoke",
    handle(async (request, reply, form) => {
      const client = clientOf(request, form);
      if (!form.token) throw new OAuthError("invalid_request", "token is required");
      const grant = await ourToken(form.token);
      if (!grant) return reply.header("cache-control", "no-store").send({});
      if (grant.kind !== "access_token")
        throw new OAuthError(
          "unsupported_token_type",
          "only access tokens are revoked here; revoke a delegation through the API",
        );
      if (grant.agentSpiffeId !== client.spiffeId)
        throw new OAuthError("unauthorized_client", "the token was not issued to this client");
      await app.db.transaction(async (tx) => {
        const agent = await registeredAgent(tx, client).catch(() => null);
        const { rowCount } = await tx.query(
          `INSERT INTO oauth_revoked_tokens (jti, tenant, client_id, expires_at, revoked_at, revoked_by)
           VALUES ($1, $2, $3, to_timestamp($4), $5, $3) ON CONFLICT (jti) DO NOTHING`,
          [grant.tokenId, grant.tenant, client.spiffeId, grant.expiresAt, app.now()],
        );
        if (rowCount === 0) return;
        await audit(tx, request, {
          tenant: grant.tenant,
          action: "oauth.token_revoked",
          agent,
          client: client.spiffeId,
          jti: grant.tokenId,
          userId: grant.userId,
          delegationId: grant.delegationId,
          details: {},
        });
        await notifyRevocation(
          tx,
          { by: "token", tenant: grant.tenant },
          [{ id: grant.tokenId, expires_at: new Date(grant.expiresAt * 1000) }],
          app.now(),
        );
      });
      return reply.header("cache-control", "no-store").send({});
    }),
  );

  // RFC 7662: resource servers (registered agents and MCP servers, or Warden's own components) ask
  // whether a token is active and what it carries.
  server.post(
    "/oauth2/introspect",
    handle(async (request, reply, form) => {
      const client = clientOf(request, form);
      if (!form.token) throw new OAuthError("invalid_request", "token is required");
      const ownComponent = /^spiffe:\/\/[^/]+\/warden\//.test(client.spiffeId);
      const caller = ownComponent ? null : await registeredAgent(app.db, client);
      const inactive = () => reply.header("cache-control", "no-store").send({ active: false });
      const grant = await ourToken(form.token);
      if (!grant) return inactive();
      // Only those entitled to the token learn about it (RFC 7662 §2.2 allows answering inactive):
      // Warden's own components, the client it was issued to, and resource servers of its tenant.
      if (caller && grant.agentSpiffeId !== client.spiffeId && grant.tenant !== caller.tenant)
        return inactive();
      const now = app.now();
      const nowSeconds = now.getTime() / 1000;
      if (grant.expiresAt <= nowSeconds || grant.notBefore > nowSeconds + 5) return inactive();
      if (await isRevoked(app.db, grant)) return inactive();
      // The agent the token was issued to must still be active and attested (the data plane checks the same).
      const holder = await registeredAgent(app.db, { spiffeId: grant.agentSpiffeId }).catch(() => null);
      if (!holder || (await verifiedCapabilities(app.db, holder.id, now)) === null) return inactive();
      return reply.header("cache-control", "no-store").send({
        active: true,
        token_type: grant.kind === "access_token" ? "Bearer" : "N_A",
        scope: grant.scopes.join(" "),
        client_id: grant.agentSpiffeId,
        sub: grant.userId ?? grant.agentSpiffeId,
        aud: grant.audience,
        iss: grant.issuer,
        iat: grant.issuedAt,
        nbf: grant.notBefore,
        exp: grant.expiresAt,
        jti: grant.tokenId,
        tenant: grant.tenant,
        ...(grant.userId !== null
          ? { act: { sub: grant.agentSpiffeId }, delegation_id: grant.delegationId }
          : {}),
        ...(grant.destinations.length ? { destinations: grant.destinations } : {}),
        ...(grant.certificateThumbprint ? { cnf: { "x5t#S256": grant.certificateThumbprint } } : {}),
      });
    }),
  );
}
