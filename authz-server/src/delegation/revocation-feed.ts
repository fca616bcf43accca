import { performance } from "node:perf_hooks";
import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import {
  DELEGATIONS_CHANNEL,
  parseRevocationNotice,
  type RevocationNotice,
} from "../../../lib/src/tokens/revocation-notice.js";
import type { RevocationSet } from "./revocation-set.js";

/**
 * Keeps the in-memory revocation set in step with the control plane: `LISTEN warden_delegations`
 * (a notice's ids are applied at once; a bulk revocation named by its selector is read back from
 * the database), a full read of every unexpired revocation at start, after a reconnect and
 * periodically. Reads run one at a time; since the set only grows, their order does not matter.
 */
const REVOKED = "revoked_at IS NOT NULL AND expires_at > now()";
const FULL_SELECT = `
  SELECT id::text AS id, extract(epoch FROM expires_at)::float8 AS exp FROM delegations WHERE ${REVOKED}
  UNION ALL
  SELECT jti::text, extract(epoch FROM expires_at)::float8 FROM oauth_revoked_tokens WHERE expires_at > now()`;
const RETRY_MS = 1_000;

type Selector = Pick<RevocationNotice, "by" | "tenant" | "user_id" | "agent_spiffe_id" | "revoked_at">;

/** The rows one bulk revocation revoked (they share its `revoked_at`); undefined: resync instead. */
function selectorQuery(selector: Selector): { sql: string; params: unknown[] } | undefined {
  if (selector.revoked_at === undefined) return undefined;
  const base = `SELECT id::text AS id, extract(epoch FROM expires_at)::float8 AS exp FROM delegations
                 WHERE revoked_at = $1::timestamptz AND expires_at > now() AND tenant = $2`;
  const params = [selector.revoked_at, selector.tenant];
  switch (selector.by) {
    case "agent":
      return selector.agent_spiffe_id
        ? { sql: `${base} AND agent_spiffe_id = $3`, params: [...params, selector.agent_spiffe_id] }
        : undefined;
    case "user":
      return selector.user_id
        ? { sql: `${base} AND user_id = $3`, params: [...params, selector.user_id] }
        : undefined;
    case "tenant":
      return { sql: base, params };
    default:
      return undefined;
  }
}

export interface RevocationFeedOptions {
  db: Database;
  set: RevocationSet;
  logger: Logger;
  resyncMs: number;
}

export interface RevocationFeedStatus {
  loaded: boolean;
  listening: boolean;
  revoked: number;
  notices: number;
  full_syncs: number;
  last_full_sync_ms: number | null;
  last_error: string | null;
}

export class RevocationFeed {
  private readonly pending: Selector[] = [];
  private fullSyncWanted = true;
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private stopped = false;
  private readonly state = {
    loaded: false,
    notices: 0,
    fullSyncs: 0,
    lastFullSyncMs: null as number | null,
    lastError: null as string | null,
  };

  constructor(private readonly options: RevocationFeedOptions) {}

  get loaded(): boolean {
    return this.state.loaded;
  }

  async start(): Promise<void> {
    this.resyncTimer = setInterval(() => this.requestFullSync(), this.options.resyncMs);
    this.resyncTimer.unref();
    await this.subscribe();
    await this.draining;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    await this.draining?.catch(() => undefined);
    await this.unlisten?.().catch(() => undefined);
  }

  status(): RevocationFeedStatus {
    return {
      loaded: this.state.loaded,
      listening: this.unlisten !== undefined,
      revoked: this.options.set.size,
      notices: this.state.notices,
      full_syncs: this.state.fullSyncs,
      last_full_sync_ms: this.state.lastFullSyncMs,
      last_error: this.state.lastError,
    };
  }

  requestFullSync(): void {
    this.fullSyncWanted = true;
    this.kick();
  }

  // LISTEN before the first read, so no revocation between the two is missed.
  private async subscribe(): Promise<void> {
    if (this.stopped) return;
    try {
      this.unlisten = await this.options.db.listen(DELEGATIONS_CHANNEL, (payload) => this.onNotice(payload), {
        onReconnect: () => this.requestFullSync(),
      });
      this.requestFullSync();
    } catch (error) {
      this.failed("revocation LISTEN failed", error);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.subscribe();
      }, RETRY_MS);
    }
  }

  private onNotice(payload: string): void {
    this.state.notices += 1;
    const notice = parseRevocationNotice(payload);
    if (!notice) {
      this.options.logger.warn({ payload: payload.slice(0, 200) }, "revocation notice not understood");
      this.requestFullSync();
      return;
    }
    if (notice.ids) {
      for (const [id, expiresAt] of notice.ids) this.options.set.add(id, expiresAt);
      return;
    }
    this.pending.push(notice);
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.retryTimer || this.stopped || !this.unlisten) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.fullSyncWanted || this.pending.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (this.fullSyncWanted || this.pending.length > 0)) {
      try {
        if (this.fullSyncWanted) {
          this.fullSyncWanted = false;
          this.pending.length = 0;
          await this.fullSync();
        } else {
          const selector = this.pending.shift()!;
          const query = selectorQuery(selector);
          if (!query) this.fullSyncWanted = true;
          else
            this.apply(
              (await this.options.db.query<{ id: string; exp: number }>(query.sql, query.params)).rows,
            );
        }
      } catch (error) {
        this.failed("revocation read failed; retrying with a full resync", error);
        this.fullSyncWanted = true;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, RETRY_MS);
        return;
      }
    }
  }

  private async fullSync(): Promise<void> {
    const started = performance.now();
    const { rows } = await this.options.db.query<{ id: string; exp: number }>(FULL_SELECT);
    this.apply(rows);
    this.options.set.prune(Date.now() / 1000);
    const s = this.state;
    s.lastFullSyncMs = Math.round((performance.now() - started) * 10) / 10;
    s.fullSyncs += 1;
    s.lastError = null;
    if (!s.loaded) this.options.logger.info({ revoked: this.options.set.size }, "revocations loaded");
    s.loaded = true;
  }

  private apply(rows: readonly { id: string; exp: number }[]): void {
    for (const row of rows) this.options.set.add(row.id, Number(row.exp));
  }

  private failed(message: string, error: unknown): void {
    this.state.lastError = error instanceof Error ? error.message : String(error);
    this.options.logger.warn({ err: error }, message);
  }
}
