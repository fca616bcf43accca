import { randomUUID } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { SaasCatalogue, SaasService } from "../../../lib/src/saas/catalogue.js";
import { providerScopesFor } from "../../../lib/src/saas/catalogue.js";
import type { OutboundClient } from "../../../lib/src/http/outbound.js";
import {
  identityFromClaims,
  idTokenClaims,
  type AccountIdentity,
} from "../../../lib/src/saas/account-identity.js";
import {
  exchangeAuthorizationCode,
  fetchUserinfo,
  OAuthProviderError,
  revokeToken,
  type ProviderClient,
} from "../../../lib/src/saas/oauth-client.js";
import {
  openTokens,
  sealedTokensSchema,
  sealTokens,
  transitDecrypt,
  transitEncrypt,
} from "../../../lib/src/saas/sealed-tokens.js";
import {
  destroyStoredTokens,
  readProviderClient,
  readStoredTokens,
  writeStoredTokens,
  type OAuthVaultPaths,
} from "../../../lib/src/saas/token-store.js";
import type { Queryable } from "../../../lib/src/db/types.js";
import type { VaultClient } from "../../../lib/src/vault/client.js";
import { recordAction } from "../audit/record.js";
import type { AppContext } from "../context.js";
import { hasRole, userTenantOf, type Principal } from "../http/auth.js";
import { ApiError, notFound } from "../http/errors.js";
import { principalOf, type Handlers } from "../http/routes.js";
import { badField, badState, browserMismatch, issuerRefusal, failureOf } from "./errors.js";
import {
  bindingCookie,
  bindingFrom,
  bindingHash,
  bindingMatches,
  clearedBindingCookie,
  newBinding,
} from "./browser-binding.js";
import { authorizationUrl, newPkcePair, newState, stateHash } from "./pkce.js";
import {
  findConnection,
  findPendingLink,
  holdPendingLink,
  insertState,
  listConnections,
  markRevoked,
  clearPendingLink,
  takeState,
  upsertConnection,
  type ConnectionRow,
  type PendingLinkRow,
} from "./repository.js";

export interface ConnectionsContext {
  catalogue: SaasCatalogue;
  vault: VaultClient | null;
  paths: OAuthVaultPaths;
  /** Fixed once the API listens (or configured). */
  callbackUrl: () => string;
  stateTtlSeconds: number;
  providerTimeoutMs: number;
  /** The hardened client for every provider call (lib/src/http/outbound.ts). */
  http: OutboundClient;
}

type ServiceParams = { service: string };
type LinkParams = { link_id: string };
type AuthorizeBody = { scopes: string[] };
type CallbackQuery = { state?: string; code?: string; error?: string; iss?: string };
type ListQuery = { user_id?: string };
type DisconnectQuery = { user_id?: string };

export function toApi(row: ConnectionRow) {
  return {
    id: row.id,
    tenant: row.tenant,
    user_id: row.user_id,
    service: row.service,
    status: row.status,
    scopes: row.scopes,
    provider_scopes: row.provider_scopes === "" ? [] : row.provider_scopes.split(" "),
    expires_at: row.expires_at?.toISOString() ?? null,
    connected_at: row.connected_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
    status_reason: row.status_reason,
  };
}

function userTenant(principal: Principal): string {
  return userTenantOf(principal, "connecting an account");
}

interface LinkCaller {
  principal: Principal;
  tenant: string;
  linkId: string;
}

/** Who confirms or declines which pending link; a principal without a tenant is refused here. */
function linkCaller(request: FastifyRequest): LinkCaller {
  const principal = principalOf(request);
  return { principal, tenant: userTenant(principal), linkId: (request.params as LinkParams).link_id };
}

/** The caller's pending link: another user's (or tenant's) is not found, so its existence does not leak. */
async function ownPendingLink(
  tx: Queryable,
  { principal, tenant, linkId }: LinkCaller,
): Promise<PendingLinkRow> {
  const found = await findPendingLink(tx, linkId);
  if (!found || found.tenant !== tenant || found.user_id !== principal.subject)
    throw notFound("pending link");
  return found;
}

/**
 * Account connections: a user starts the OAuth authorization-code flow with PKCE for a service
 * (`authorize` → the provider's consent page), the provider sends the browser back to `callback`
 * with a code, and the control plane exchanges it, seals the tokens with the tenant's transit key
 * into Vault and keeps only metadata here. Disconnecting revokes at the provider (RFC 7009) when it
 * can and destroys the secret. Every connect and disconnect is audited in its transaction.
 */
export function connectionHandlers(ctx: AppContext, c: ConnectionsContext): Handlers {
  function vault(): VaultClient {
    if (!c.vault) throw new ApiError("unavailable", "account connections need Vault (VAULT_ADDR)");
    return c.vault;
  }

  function serviceOf(name: string): SaasService {
    const service = c.catalogue.service(name);
    if (!service)
      throw badField(
        "path.service",
        `unknown service; known: ${c.catalogue.services.map((s) => s.name).join(", ")}`,
      );
    return service;
  }

  async function providerClient(service: SaasService): Promise<ProviderClient> {
    const client = await readProviderClient(vault(), c.paths.kvMount, service.name);
    if (!client)
      throw new ApiError(
        "unavailable",
        `${service.display_name} has no OAuth client configured (Vault providers/${service.name})`,
      );
    return client;
  }

  return {
    startConnection: async (request, reply) => {
      const principal = principalOf(request);
      const tenant = userTenant(principal);
      const service = serviceOf((request.params as ServiceParams).service);
      const { scopes } = request.body as AuthorizeBody;
      const unknown = scopes.filter((scope) => !Object.hasOwn(service.scopes, scope));
      if (unknown.length) throw badField("scopes", `not scopes of ${service.name}: ${unknown.join(", ")}`);
      const now = ctx.now();
      try {
        const client = await providerClient(service);
        const pkce = newPkcePair();
        const state = newState();
        const [sealedVerifier] = await transitEncrypt(vault(), c.paths.transitMount, tenant, [pkce.verifier]);
        const expiresAt = new Date(now.getTime() + c.stateTtlSeconds * 1000);
        const redirectUri = c.callbackUrl();
        const binding = newBinding();
        await insertState(
          ctx.db,
          stateHash(state),
          {
            tenant,
            user_id: principal.subject,
            service: service.name,
            scopes: [...new Set(scopes)],
            code_verifier: sealedVerifier!,
            redirect_uri: redirectUri,
            expires_at: expiresAt,
            browser_binding: bindingHash(binding),
          },
          now,
        );
        void reply.code(201).header("set-cookie", bindingCookie(binding, c.stateTtlSeconds * 2));
        return {
          service: service.name,
          authorization_url: authorizationUrl(service.authorize_url, {
            clientId: client.client_id,
            redirectUri,
            scope: providerScopesFor(service, scopes).join(" "),
            state,
            challenge: pkce.challenge,
            extra: service.authorize_params,
          }),
          state_expires_at: expiresAt.toISOString(),
        };
      } catch (error) {
        throw failureOf(error);
      }
    },

    completeConnection: async (request) => {
      const query = request.query as CallbackQuery;
      if (!query.state) throw badField("query.state", "is required");
      const now = ctx.now();
      const hash = stateHash(query.state);
      const pending = await ctx.db.transaction(async (tx) => {
        const row = await takeState(tx, hash, now);
        if (!row) return badState("state_unknown");
        if (row.used_at !== null) return badState("state_replayed");
        if (row.expires_at.getTime() <= now.getTime()) return badState("state_expired");
        return row;
      });
      if (pending instanceof ApiError) throw pending;
      // Before anything else: a browser other than the one that started the flow gets nothing.
      if (!bindingMatches(bindingFrom(request.headers.cookie), pending.browser_binding))
        throw browserMismatch();
      const service = serviceOf(pending.service);
      // RFC 9207 §2.4: compare the issuer before the code is used or an error is believed.
      const issuer = issuerRefusal(query.iss, service);
      if (issuer) throw badState(issuer);
      if (query.error) throw badState("consent_denied");
      if (!query.code) throw badField("query.code", "is required");
      try {
        const client = await providerClient(service);
        const [verifier] = await transitDecrypt(vault(), c.paths.transitMount, pending.tenant, [
          pending.code_verifier,
        ]);
        const call = { http: c.http, timeoutMs: c.providerTimeoutMs, now: ctx.now };
        const { tokens, idToken } = await exchangeAuthorizationCode(
          service,
          client,
          { code: query.code, redirectUri: pending.redirect_uri, codeVerifier: verifier! },
          call,
        );
        const account = await accountOf(service, tokens.accessToken, idToken, call);
        const sealed = await sealTokens(
          vault(),
          c.paths.transitMount,
          pending.tenant,
          tokens,
          pending.scopes,
          now,
        );
        const linkId = randomUUID();
        const expiresAt = new Date(now.getTime() + c.stateTtlSeconds * 1000);
        await holdPendingLink(ctx.db, hash, {
          link_id: linkId,
          tokens: JSON.stringify(sealed),
          account: account ? { ...account } : null,
          provider_scopes: tokens.providerScope,
          expires_at: expiresAt,
        });
        return {
          status: "pending_confirmation",
          link_id: linkId,
          service: service.name,
          display_name: service.display_name,
          tenant: pending.tenant,
          user_id: pending.user_id,
          account,
          scopes: pending.scopes,
          provider_scopes: tokens.providerScope === "" ? [] : tokens.providerScope.split(" "),
          confirm_url: `/v1/connections/links/${linkId}/confirm`,
          expires_at: expiresAt.toISOString(),
        };
      } catch (error) {
        throw failureOf(error);
      }
    },

    confirmConnection: async (request, reply) => {
      const caller = linkCaller(request);
      const now = ctx.now();
      const link = await ctx.db.transaction(async (tx) => {
        const found = await ownPendingLink(tx, caller);
        if (!bindingMatches(bindingFrom(request.headers.cookie), found.browser_binding))
          throw browserMismatch();
        await clearPendingLink(tx, caller.linkId);
        if (found.pending_expires_at.getTime() <= now.getTime())
          return new ApiError("bad_request", "link_expired: the pending link has expired; connect again", [
            { field: "path.link_id", message: "link_expired" },
          ]);
        return found;
      });
      if (link instanceof ApiError) throw link;
      const service = serviceOf(link.service);
      const sealed = sealedTokensSchema.parse(JSON.parse(link.pending_tokens));
      const key = { tenant: link.tenant, userId: link.user_id, service: service.name };
      try {
        await writeStoredTokens(vault(), c.paths.kvMount, key, sealed);
      } catch (error) {
        throw failureOf(error);
      }
      const row = await ctx.db.transaction(async (tx) => {
        const saved = await upsertConnection(
          tx,
          {
            id: randomUUID(),
            tenant: link.tenant,
            user_id: link.user_id,
            service: service.name,
            status: "active",
            scopes: link.scopes,
            provider_scopes: link.pending_provider_scopes,
            expires_at: sealed.expires_at === null ? null : new Date(sealed.expires_at),
          },
          now,
        );
        await recordAction(
          tx,
          request,
          {
            tenant: link.tenant,
            action: "oauth.connected",
            userId: link.user_id,
            resourceType: "oauth_connection",
            resourceId: saved.id,
            details: {
              service: service.name,
              scopes: link.scopes,
              provider_scopes: link.pending_provider_scopes,
              provider_account: link.pending_account,
              refresh_token: sealed.refresh_token !== null,
              expires_at: sealed.expires_at,
            },
          },
          now,
        );
        return saved;
      });
      void reply.header("set-cookie", clearedBindingCookie());
      return toApi(row);
    },

    declineConnection: async (request, reply) => {
      const caller = linkCaller(request);
      const { principal, tenant, linkId } = caller;
      const now = ctx.now();
      await ctx.db.transaction(async (tx) => {
        const found = await ownPendingLink(tx, caller);
        // Declining needs no cookie: the user may always refuse a link, from wherever they see it.
        await clearPendingLink(tx, linkId);
        await recordAction(
          tx,
          request,
          {
            tenant,
            action: "oauth.link_declined",
            userId: principal.subject,
            resourceType: "oauth_connection",
            resourceId: linkId,
            details: { service: found.service, provider_account: found.pending_account },
          },
          now,
        );
      });
      return reply.status(204).header("set-cookie", clearedBindingCookie()).send();
    },

    listConnections: async (request) => {
      const principal = principalOf(request);
      const tenant = userTenant(principal);
      const { user_id: userId } = request.query as ListQuery;
      const admin = hasRole(principal, "admin");
      if (userId !== undefined && !admin && userId !== principal.subject)
        throw new ApiError("forbidden", "only admins list other users' connections");
      const rows = await listConnections(ctx.db, { tenant, user_id: admin ? userId : principal.subject });
      return { items: rows.map(toApi) };
    },

    disconnect: async (request) => disconnect(request),
  };

  /** The provider account being linked: from the ID token if there is one, else the service's userinfo. */
  async function accountOf(
    service: SaasService,
    accessToken: string,
    idToken: string | null,
    call: { http: OutboundClient; timeoutMs: number },
  ): Promise<AccountIdentity | null> {
    const claims = idToken === null ? null : idTokenClaims(idToken);
    if (claims) return identityFromClaims(claims);
    try {
      const info = await fetchUserinfo(service, accessToken, call);
      return info === null ? null : identityFromClaims(info);
    } catch (error) {
      if (!(error instanceof OAuthProviderError)) throw error;
      // The account cannot be named; the user still confirms (or not) knowing that.
      ctx.logger.warn({ service: service.name, reason: error.message }, "provider account lookup failed");
      return null;
    }
  }

  async function disconnect(request: FastifyRequest) {
    const principal = principalOf(request);
    const tenant = userTenant(principal);
    const service = serviceOf((request.params as ServiceParams).service);
    const { user_id: asked } = request.query as DisconnectQuery;
    if (asked !== undefined && asked !== principal.subject && !hasRole(principal, "admin"))
      throw new ApiError("forbidden", "only admins disconnect other users' accounts");
    const userId = asked ?? principal.subject;
    const existing = await findConnection(ctx.db, { tenant, user_id: userId, service: service.name });
    if (!existing || existing.status === "revoked") throw notFound("connection");
    const key = { tenant, userId, service: service.name };
    let revokedAtProvider = false;
    let providerProblem: string | null = null;
    try {
      const stored = await readStoredTokens(vault(), c.paths.kvMount, key);
      if (stored && service.revoke_url) {
        const opened = await openTokens(vault(), c.paths.transitMount, tenant, stored.sealed, true);
        const client = await providerClient(service);
        // Revoking the refresh token ends the grant (and, at most providers, its access tokens).
        const token = opened.refreshToken ?? opened.accessToken;
        if (token) {
          try {
            revokedAtProvider = await revokeToken(
              service,
              client,
              token,
              opened.refreshToken ? "refresh_token" : "access_token",
              { http: c.http, timeoutMs: c.providerTimeoutMs },
            );
          } catch (error) {
            // The user wants the account disconnected: the secret goes anyway; the audit says what failed.
            if (!(error instanceof OAuthProviderError)) throw error;
            providerProblem = error.message;
          }
        }
      }
      await destroyStoredTokens(vault(), c.paths.kvMount, key);
    } catch (error) {
      throw failureOf(error);
    }
    const now = ctx.now();
    const row = await ctx.db.transaction(async (tx) => {
      const revoked = await markRevoked(
        tx,
        existing.id,
        userId === principal.subject ? "disconnected by the user" : "disconnected by an admin",
        now,
      );
      await recordAction(
        tx,
        request,
        {
          tenant,
          action: "oauth.disconnected",
          userId,
          resourceType: "oauth_connection",
          resourceId: existing.id,
          reason: providerProblem,
          details: {
            service: service.name,
            scopes: existing.scopes,
            revoked_at_provider: revokedAtProvider,
            provider_supports_revocation: service.revoke_url !== null,
          },
        },
        now,
      );
      return revoked;
    });
    return { connection: toApi(row), revoked_at_provider: revokedAtProvider };
  }
}
