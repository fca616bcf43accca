import { WardenError } from "../../../lib/src/errors.js";
import type { OutboundClient } from "../../../lib/src/http/outbound.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { SaasService } from "../../../lib/src/saas/catalogue.js";
import {
  OAuthProviderError,
  refreshAccessToken,
  type ProviderClient,
} from "../../../lib/src/saas/oauth-client.js";
import type { PlainTokens, SealedTokens } from "../../../lib/src/saas/sealed-tokens.js";
import type { ConnectionKey, StoredTokens } from "../../../lib/src/saas/token-store.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import { isSafeKvSegment, KvCasConflictError } from "../../../lib/src/vault/kv.js";
import { SecretScrubber } from "../credentials/scrub.js";
import type { MaybeAsync } from "../providers.js";
import type { OAuthEvents, RequestIdentity } from "./events.js";
import type { TokenVault } from "./token-vault.js";

export type Refresh = (
  service: SaasService,
  client: ProviderClient,
  refreshToken: string,
) => Promise<PlainTokens>;

/** Tells the control plane's database that a connection needs the user's consent again. */
export type ReconsentMarker = (key: ConnectionKey, reason: string) => Promise<void>;

export interface UserTokensOptions {
  vault: TokenVault;
  events: OAuthEvents;
  logger: Logger;
  /** Refresh this long before the provider's expiry, so no request carries a token about to lapse. */
  refreshMarginMs: number;
  providerTimeoutMs: number;
  /** The hardened client every provider call goes through (lib/src/http/outbound.ts). */
  http: OutboundClient;
  /**
   * How long a cached token is used before Vault is asked again (one KV read; no decryption when the
   * version is unchanged), so a disconnect or a re-consent elsewhere reaches this sidecar in time.
   */
  cacheTtlMs: number;
  markReconsent?: ReconsentMarker;
  refresh?: Refresh;
  now?: () => number;
}

interface Entry {
  readonly accessToken: string;
  /** ms epoch; null: the provider gave no expiry. */
  readonly expiresAt: number | null;
  readonly version: number;
  readonly readAt: number;
}

export const ACCOUNT_NOT_CONNECTED = (service: SaasService) =>
  `the user has not connected a ${service.display_name} account; connect it through the control plane (POST /v1/connections/${service.name}/authorize); nothing was sent upstream`;
export const RECONSENT_REQUIRED = (service: SaasService) =>
  `${service.display_name} no longer accepts the user's authorization; the user must connect the account again; nothing was sent upstream`;
const STORE_UNAVAILABLE = "the token store (Vault) is unavailable; nothing was sent upstream";
const PROVIDER_UNAVAILABLE = (service: SaasService) =>
  `${service.display_name} could not refresh the user's token; try again; nothing was sent upstream`;

/**
 * Users' OAuth access tokens, decrypted on first use and cached in memory until shortly before they
 * expire (never logged). A token within the refresh margin is refreshed at the provider; requests for
 * the same token share one read or refresh (single flight), however many arrive at once. A refreshed
 * token is written back with KV v2 check-and-set on the version read, so two sidecars refreshing at
 * once cannot lose a rotated refresh token: the loser re-reads and uses the winner's token. A provider
 * that refuses the refresh for good marks the connection `needs_reconsent` (Vault and database).
 */
export class UserTokens {
  private readonly entries = new Map<string, Entry>();
  private readonly flights = new Map<string, Promise<string>>();
  private currentScrubber = new SecretScrubber([]);
  private readonly now: () => number;
  private readonly refresh: Refresh;
  /** Refreshes done at the provider by this process (figures for tests and metrics). */
  refreshes = 0;

  constructor(private readonly options: UserTokensOptions) {
    this.now = options.now ?? Date.now;
    this.refresh =
      options.refresh ??
      ((service, client, refreshToken) =>
        refreshAccessToken(service, client, refreshToken, {
          http: options.http,
          timeoutMs: options.providerTimeoutMs,
        }));
  }

  /** The access token to inject; synchronous when a fresh one is cached. */
  tokenFor(service: SaasService, identity: RequestIdentity): MaybeAsync<string> {
    const key = { tenant: identity.tenant, userId: identity.userId, service: service.name };
    const id = cacheId(key);
    const entry = this.entries.get(id);
    if (entry && this.fresh(entry.expiresAt) && this.now() - entry.readAt < this.options.cacheTtlMs)
      return entry.accessToken;
    return this.fly(id, () => this.load(key, service, identity, null));
  }

  /**
   * The provider answered 401 to `token`: it is dropped and a new one obtained now (a refresh unless
   * another request or sidecar already replaced it), so the agent's next call succeeds.
   */
  async unauthorized(service: SaasService, identity: RequestIdentity, token: string): Promise<void> {
    const key = { tenant: identity.tenant, userId: identity.userId, service: service.name };
    const id = cacheId(key);
    if (this.entries.get(id)?.accessToken === token) this.forget(id);
    await this.fly(id, () => this.load(key, service, identity, token)).catch(() => undefined);
  }

  scrubber(): SecretScrubber {
    return this.currentScrubber;
  }

  private fly(id: string, work: () => Promise<string>): Promise<string> {
    let flight = this.flights.get(id);
    if (!flight) {
      flight = work().finally(() => this.flights.delete(id));
      this.flights.set(id, flight);
    }
    return flight;
  }

  private fresh(expiresAt: number | null): boolean {
    return expiresAt === null || expiresAt - this.options.refreshMarginMs > this.now();
  }

  private async load(
    key: ConnectionKey,
    service: SaasService,
    identity: RequestIdentity,
    rejected: string | null,
  ): Promise<string> {
    if (!isSafeKvSegment(key.tenant))
      throw new WardenError("forbidden", "the tenant name cannot name a token");
    const stored = await this.read(key);
    this.options.events.record({
      kind: "token_read",
      service: service.name,
      identity,
      details: { version: stored?.version ?? null },
    });
    const sealed = usable(stored, service);
    const expiresAt = sealed.expires_at === null ? null : Date.parse(sealed.expires_at);
    const cached = this.entries.get(cacheId(key));
    if (rejected === null && cached?.version === stored!.version && this.fresh(expiresAt))
      return this.remember(key, cached.accessToken, expiresAt, stored!.version);
    if (this.fresh(expiresAt) || rejected !== null) {
      const { accessToken } = await this.guard(() => this.options.vault.open(key.tenant, sealed, false));
      // A 401 for a token still stored means it must be refreshed; a different one was refreshed by someone else.
      if (accessToken !== null && accessToken !== rejected && this.fresh(expiresAt))
        return this.remember(key, accessToken, expiresAt, stored!.version);
    }
    return this.refreshNow(key, service, identity, stored!, rejected !== null ? "unauthorized" : "expiring");
  }

  private async refreshNow(
    key: ConnectionKey,
    service: SaasService,
    identity: RequestIdentity,
    stored: StoredTokens,
    why: "expiring" | "unauthorized",
  ): Promise<string> {
    const started = this.now();
    const { refreshToken, accessToken } = await this.guard(() =>
      this.options.vault.open(key.tenant, stored.sealed, true),
    );
    if (refreshToken === null) {
      return this.needsReconsent(
        key,
        service,
        identity,
        stored,
        "no refresh token is stored and the access token has expired",
      );
    }
    const client = await this.guard(() => this.options.vault.providerClient(service.name));
    if (!client)
      throw new WardenError("unavailable", `${service.display_name} has no OAuth client configured`);
    let tokens: PlainTokens;
    try {
      this.refreshes++;
      tokens = await this.refresh(service, client, refreshToken);
    } catch (error) {
      if (!(error instanceof OAuthProviderError)) throw error;
      // Only a refusal of the grant means re-consent; an unreadable answer (redirect, oversized) is the provider's fault.
      if (error.failure === "invalid_grant" || error.failure === "refused")
        return this.needsReconsent(key, service, identity, stored, error.message);
      this.options.events.record({
        kind: "token_refresh_failed",
        service: service.name,
        identity,
        reason: error.message,
        details: { failure: error.failure, trigger: why },
      });
      // The provider is down: a token not yet expired still works for a while.
      const expiresAt = stored.sealed.expires_at === null ? null : Date.parse(stored.sealed.expires_at);
      if (accessToken !== null && why === "expiring" && (expiresAt === null || expiresAt > this.now()))
        return accessToken;
      throw new WardenError("upstream_unavailable", PROVIDER_UNAVAILABLE(service));
    }
    const sealed = await this.guard(() => this.options.vault.seal(key.tenant, tokens, stored.sealed.scopes));
    let version: number;
    try {
      version = await this.guard(() => this.options.vault.write(key, sealed, stored.version));
    } catch (error) {
      if (!(error instanceof KvCasConflictError)) throw error;
      // Another sidecar refreshed first and stored its tokens: ours may already be void (rotation), so use theirs.
      const theirs = await this.read(key);
      const winner = usable(theirs, service);
      const opened = await this.guard(() => this.options.vault.open(key.tenant, winner, false));
      if (opened.accessToken === null)
        return this.needsReconsent(
          key,
          service,
          identity,
          theirs!,
          "no access token after a concurrent refresh",
        );
      this.options.events.record({
        kind: "token_refreshed",
        service: service.name,
        identity,
        details: { trigger: why, cas: "lost_to_another_writer", version: theirs!.version },
      });
      return this.remember(
        key,
        opened.accessToken,
        winner.expires_at === null ? null : Date.parse(winner.expires_at),
        theirs!.version,
      );
    }
    this.options.events.record({
      kind: "token_refreshed",
      service: service.name,
      identity,
      details: {
        trigger: why,
        cas: "written",
        version,
        rotated_refresh_token: tokens.refreshToken !== refreshToken,
        expires_at: tokens.expiresAt?.toISOString() ?? null,
        refresh_ms: this.now() - started,
      },
    });
    return this.remember(key, tokens.accessToken, tokens.expiresAt?.getTime() ?? null, version);
  }

  private async needsReconsent(
    key: ConnectionKey,
    service: SaasService,
    identity: RequestIdentity,
    stored: StoredTokens,
    reason: string,
  ): Promise<never> {
    this.forget(cacheId(key));
    const marked: SealedTokens = {
      ...stored.sealed,
      access_token: null,
      refresh_token: null,
      status: "needs_reconsent",
      updated_at: new Date(this.now()).toISOString(),
    };
    // Every sidecar learns it from Vault at its next read; a CAS loss means someone else changed it first.
    await this.options.vault.write(key, marked, stored.version).catch((error: unknown) => {
      this.options.logger.warn(
        { err: error, service: service.name, tenant: key.tenant },
        "could not mark the stored tokens as needing re-consent",
      );
    });
    await this.options.markReconsent?.(key, reason).catch((error: unknown) => {
      this.options.logger.warn(
        { err: error, service: service.name, tenant: key.tenant },
        "could not mark the connection as needing re-consent in the database",
      );
    });
    this.options.events.record({
      kind: "token_refresh_failed",
      service: service.name,
      identity,
      reason,
      details: { failure: "needs_reconsent" },
    });
    throw new WardenError("reconsent_required", RECONSENT_REQUIRED(service));
  }

  private async read(key: ConnectionKey): Promise<StoredTokens | null> {
    return this.guard(() => this.options.vault.read(key));
  }

  /** Vault failures become the agent's 503; a Vault refusal is logged as the misconfiguration it is. */
  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (
        error instanceof WardenError ||
        error instanceof KvCasConflictError ||
        error instanceof OAuthProviderError
      )
        throw error;
      const unavailable = !(error instanceof VaultError) || error.unavailable;
      this.options.logger.error(
        { reason: error instanceof Error ? error.message : String(error), unavailable },
        "cannot use the user token store",
      );
      throw new WardenError("unavailable", STORE_UNAVAILABLE);
    }
  }

  private remember(
    key: ConnectionKey,
    accessToken: string,
    expiresAt: number | null,
    version: number,
  ): string {
    const id = cacheId(key);
    const previous = this.entries.get(id);
    this.entries.set(id, { accessToken, expiresAt, version, readAt: this.now() });
    if (previous?.accessToken !== accessToken) this.rebuildScrubber();
    return accessToken;
  }

  private forget(id: string): void {
    if (this.entries.delete(id)) this.rebuildScrubber();
  }

  private rebuildScrubber(): void {
    this.currentScrubber = new SecretScrubber([...this.entries.values()].map((entry) => entry.accessToken));
  }
}

function cacheId(key: ConnectionKey): string {
  return `${key.tenant}\u0000${key.userId}\u0000${key.service}`;
}

function usable(stored: StoredTokens | null, service: SaasService): SealedTokens {
  if (!stored) throw new WardenError("account_not_connected", ACCOUNT_NOT_CONNECTED(service));
  if (stored.sealed.status === "needs_reconsent")
    throw new WardenError("reconsent_required", RECONSENT_REQUIRED(service));
  return stored.sealed;
}
