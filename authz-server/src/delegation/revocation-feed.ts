import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import {
  DELEGATIONS_CHANNEL,
  parseRevocationNotice,
  type RevocationNotice,
} from "../../../lib/src/tokens/revocation-notice.js";
import { FULL_SYNC, NotifyFeed, type NotificationOutcome } from "../feed/notify-feed.js";
import type { RevocationSet } from "./revocation-set.js";
import { recordRevocationApplied } from "../metrics/state.js";

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

export class RevocationFeed extends NotifyFeed<Selector> {
  constructor(private readonly options: RevocationFeedOptions) {
    super({ ...options, channel: DELEGATIONS_CHANNEL, subject: "revocation" });
  }

  status(): RevocationFeedStatus {
    const counters = this.counters();
    return {
      loaded: counters.loaded,
      listening: counters.listening,
      revoked: this.options.set.size,
      notices: counters.notifications,
      full_syncs: counters.fullSyncs,
      last_full_sync_ms: counters.lastFullSyncMs,
      last_error: counters.lastError,
    };
  }

  /** A notice's ids take effect here, at once; a bulk revocation's selector is read back in turn. */
  protected onNotification(payload: string): NotificationOutcome<Selector> {
    const notice = parseRevocationNotice(payload);
    if (!notice) {
      this.options.logger.warn({ payload: payload.slice(0, 200) }, "revocation notice not understood");
      return FULL_SYNC;
    }
    if (notice.ids) {
      for (const [id, expiresAt] of notice.ids) this.options.set.add(id, expiresAt);
      recordRevocationApplied(notice.revoked_at);
      return [];
    }
    return [notice];
  }

  protected async applyIncremental(selectors: Selector[]): Promise<void> {
    for (const selector of selectors) {
      const query = selectorQuery(selector);
      if (!query) {
        this.requestFullSync();
        return;
      }
      this.apply((await this.options.db.query<{ id: string; exp: number }>(query.sql, query.params)).rows);
      recordRevocationApplied(selector.revoked_at);
    }
  }

  protected async fullSync(): Promise<void> {
    const { rows } = await this.options.db.query<{ id: string; exp: number }>(FULL_SELECT);
    this.apply(rows);
    this.options.set.prune(Date.now() / 1000);
  }

  protected override onFullSync({ first }: { first: boolean }): void {
    if (first) this.options.logger.info({ revoked: this.options.set.size }, "revocations loaded");
  }

  private apply(rows: readonly { id: string; exp: number }[]): void {
    for (const row of rows) this.options.set.add(row.id, Number(row.exp));
  }
}
