import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import { WARDEN_AUDIENCE } from "../../../lib/src/tokens/claims.js";
import type { VerificationKey } from "../../../lib/src/tokens/jws.js";
import { JwksKeyStore } from "./key-store.js";
import { RevocationFeed, type RevocationFeedStatus } from "./revocation-feed.js";
import { RevocationSet } from "./revocation-set.js";
import { TokenVerifier, type VerifierStats } from "./token-verifier.js";

/**
 * Delegation enforcement on the data plane, wired once by main.ts: the control plane's token keys
 * (JWKS), the revocation set fed by `LISTEN warden_delegations`, and the verifier the authorizer
 * calls for every `x-warden-delegation` header.
 */
export interface DelegationEnforcementOptions {
  db: Database;
  jwksUrl: string;
  /** When set, a token's `iss` must equal it. */
  issuer: string | undefined;
  jwksRefreshMs: number;
  resyncMs: number;
  logger: Logger;
}

export interface DelegationEnforcementStatus {
  keys: number;
  keys_error: string | null;
  revocations: RevocationFeedStatus;
  verifier: VerifierStats;
}

export class DelegationEnforcement {
  readonly verifier: TokenVerifier;
  private readonly keys: JwksKeyStore;
  private readonly feed: RevocationFeed;
  private readonly revoked = new RevocationSet();

  constructor(options: DelegationEnforcementOptions) {
    const revoked = this.revoked;
    this.feed = new RevocationFeed({
      db: options.db,
      set: revoked,
      logger: options.logger,
      resyncMs: options.resyncMs,
    });
    this.keys = new JwksKeyStore({
      jwksUrl: options.jwksUrl,
      refreshMs: options.jwksRefreshMs,
      onChange: () => {
        this.verifier.clear();
        options.logger.info({ keys: this.keys.size }, "token keys updated");
      },
      onError: (error) =>
        options.logger.warn({ err: error }, "token keys could not be fetched; keeping the ones we have"),
    });
    this.verifier = new TokenVerifier({
      keyFor: (kid) => this.keys.keyFor(kid),
      expectations: {
        issuer: options.issuer,
        delegationAudience: WARDEN_AUDIENCE,
        accessTokenAudiences: new Set([WARDEN_AUDIENCE]),
      },
      isRevoked: (id) => revoked.has(id),
      revocationsLoaded: () => this.feed.loaded,
    });
  }

  /** The token keys of the moment, for other token kinds (an inbound sidecar's bearer tokens). */
  keyFor(kid: string): VerificationKey | undefined {
    return this.keys.keyFor(kid);
  }

  /** A revoked token id (jti) or delegation id; false for all until the set is loaded. */
  isRevoked(id: string): boolean {
    return this.revoked.has(id);
  }

  /** Loads keys and revocations (each keeps retrying in the background on failure). */
  async start(): Promise<void> {
    await Promise.all([this.keys.start(), this.feed.start()]);
  }

  async stop(): Promise<void> {
    this.keys.stop();
    await this.feed.stop();
  }

  /**
   * Waits (at most `timeoutMs`) for a key refresh in flight, true if there was one. A token signed by
   * a key published a moment ago asks for a refresh; the caller decides again once it lands instead
   * of refusing the first call after a key rotation. Unknown `kid`s ask at most once a second, so a
   * flood of made-up ones costs one JWKS fetch per second.
   */
  async keysRefreshed(timeoutMs: number): Promise<boolean> {
    const pending = this.keys.pendingRefresh();
    if (!pending) return false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([pending, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return true;
  }

  /** Ready once the revocation set is loaded; until then every delegation is refused anyway. */
  ready(): boolean {
    return this.feed.loaded;
  }

  status(): DelegationEnforcementStatus {
    return {
      keys: this.keys.size,
      keys_error: this.keys.lastError,
      revocations: this.feed.status(),
      verifier: this.verifier.status(),
    };
  }
}
