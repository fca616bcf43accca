import { performance } from "node:perf_hooks";
import type { Database } from "../../../lib/src/db/types.js";

/**
 * The machinery shared by the feeds that keep an in-memory view in step with PostgreSQL:
 * `LISTEN <channel>` (retried until it succeeds), a full sync once listening, after the listening
 * connection reconnects, on request and every `resyncMs`, and incremental work named by
 * notifications in between. All work runs one piece at a time, in arrival order, so an older read
 * never overwrites a newer one; incremental work queued during a read is coalesced into the next,
 * and a full sync supersedes whatever incremental work is queued. After a failed read nothing is
 * read for `retryMs`, then a full sync is done.
 *
 * A feed extends it with what to read: `onNotification` (synchronous: it may apply a change on the
 * spot, queue incremental items, or ask for a full sync), `fullSync` and `applyIncremental`.
 */
export const FULL_SYNC = "full-sync";

/** What one notification asks for: these incremental items (none: handled already) or a full sync. */
export type NotificationOutcome<Work> = readonly Work[] | typeof FULL_SYNC;

export interface NotifyFeedSettings {
  db: Pick<Database, "listen">;
  channel: string;
  /** Starts the log messages, e.g. "registry" gives "registry LISTEN failed". */
  subject: string;
  logger: { warn(fields: { err: unknown }, message: string): void };
  resyncMs: number;
  retryMs?: number;
}

export interface NotifyFeedCounters {
  loaded: boolean;
  listening: boolean;
  notifications: number;
  fullSyncs: number;
  lastFullSyncAt: Date | null;
  lastFullSyncMs: number | null;
  lastIncrementalAt: Date | null;
  lastError: string | null;
}

const DEFAULT_RETRY_MS = 1_000;

export abstract class NotifyFeed<Work> {
  private readonly pending = new Set<Work>();
  private fullSyncWanted = true;
  private draining: Promise<void> | undefined;
  private subscribing: Promise<void> | undefined;
  /** Set while backing off after a failure: nothing is read until it fires. */
  private retryTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private isStopped = false;
  private readonly state: Omit<NotifyFeedCounters, "listening"> = {
    loaded: false,
    notifications: 0,
    fullSyncs: 0,
    lastFullSyncAt: null,
    lastFullSyncMs: null,
    lastIncrementalAt: null,
    lastError: null,
  };

  constructor(private readonly settings: NotifyFeedSettings) {}

  /** Called for each notification; items equal to ones still queued are coalesced with them. */
  protected abstract onNotification(payload: string): NotificationOutcome<Work>;
  protected abstract fullSync(): Promise<void>;
  /** May call `requestFullSync()` when the items cannot be applied on their own. */
  protected abstract applyIncremental(items: Work[]): Promise<void>;
  /** After each successful full sync; `first` for the one that made the feed loaded. */
  protected onFullSync(_sync: { first: boolean; durationMs: number }): void {}

  protected get stopped(): boolean {
    return this.isStopped;
  }

  /** Whether a full sync has completed at least once. */
  get loaded(): boolean {
    return this.state.loaded;
  }

  /** Subscribes and syncs once; on failure keeps retrying in the background. */
  async start(): Promise<void> {
    this.resyncTimer = setInterval(() => this.requestFullSync(), this.settings.resyncMs);
    this.resyncTimer.unref();
    this.subscribing = this.subscribe();
    await this.subscribing;
    await this.draining;
  }

  /** Lets the work in progress finish, then unsubscribes; nothing runs afterwards. */
  async stop(): Promise<void> {
    this.isStopped = true;
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.subscribing;
    await this.draining?.catch(() => undefined);
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.().catch(() => undefined);
  }

  protected counters(): NotifyFeedCounters {
    return { ...this.state, listening: this.unlisten !== undefined };
  }

  requestFullSync(): void {
    this.fullSyncWanted = true;
    this.kick();
  }

  // LISTEN before the first full sync, so no change between the two is missed.
  private async subscribe(): Promise<void> {
    if (this.isStopped) return;
    try {
      const unlisten = await this.settings.db.listen(
        this.settings.channel,
        (payload) => this.receive(payload),
        { onReconnect: () => this.requestFullSync() },
      );
      if (this.isStopped) {
        await unlisten().catch(() => undefined);
        return;
      }
      this.unlisten = unlisten;
      this.requestFullSync();
    } catch (error) {
      this.failed(`${this.settings.subject} LISTEN failed`, error);
      this.retryAfter(() => {
        this.subscribing = this.subscribe();
      });
    }
  }

  private receive(payload: string): void {
    this.state.notifications += 1;
    const outcome = this.onNotification(payload);
    if (outcome === FULL_SYNC) {
      this.requestFullSync();
      return;
    }
    if (outcome.length === 0) return;
    for (const item of outcome) this.pending.add(item);
    this.kick();
  }

  private kick(): void {
    if (this.draining || this.retryTimer || this.isStopped || !this.unlisten) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.fullSyncWanted || this.pending.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.isStopped && (this.fullSyncWanted || this.pending.size > 0)) {
      try {
        if (this.fullSyncWanted) {
          this.fullSyncWanted = false;
          this.pending.clear();
          await this.runFullSync();
        } else {
          const items = [...this.pending];
          this.pending.clear();
          await this.applyIncremental(items);
          this.state.lastIncrementalAt = new Date();
        }
      } catch (error) {
        this.failed(`${this.settings.subject} read failed; retrying with a full resync`, error);
        this.fullSyncWanted = true;
        this.retryAfter(() => this.kick());
        return;
      }
    }
  }

  private async runFullSync(): Promise<void> {
    const started = performance.now();
    await this.fullSync();
    const s = this.state;
    s.lastFullSyncMs = Math.round((performance.now() - started) * 10) / 10;
    s.lastFullSyncAt = new Date();
    s.fullSyncs += 1;
    s.lastError = null;
    const first = !s.loaded;
    s.loaded = true;
    this.onFullSync({ first, durationMs: s.lastFullSyncMs });
  }

  private retryAfter(retry: () => void): void {
    if (this.retryTimer || this.isStopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      retry();
    }, this.settings.retryMs ?? DEFAULT_RETRY_MS);
  }

  private failed(message: string, error: unknown): void {
    this.state.lastError = error instanceof Error ? error.message : String(error);
    this.settings.logger.warn({ err: error }, message);
  }
}
