import { appendFile } from "node:fs/promises";
import { isConnectionError, sqlState } from "../db/errors.js";
import type { Database, Queryable } from "../db/types.js";
import type { Logger } from "../logger.js";
import type { AuditRecord } from "./chain.js";
import { normalizeAuditEvent, normalizeTypedEvent, type AuditEntry, type AuditEventInput } from "./event.js";
import { AuditSpool } from "./spool.js";
import { appendAuditEntries } from "./store.js";

/**
 * The audit writer every component uses. `append` resolves once the event is durable: committed in
 * PostgreSQL, or fsync'd to the local spool when PostgreSQL is unreachable. While the spool holds
 * anything, new events queue behind it, so the database receives events in the order they were
 * appended; the spool is drained with backoff when PostgreSQL is back.
 */
export interface AuditWriterOptions {
  db: Pick<Database, "transaction">;
  /** The spool file (NDJSON); one per process. */
  spoolPath: string;
  batchSize?: number;
  retryDelayMs?: { min: number; max: number };
  logger?: Pick<Logger, "warn" | "error" | "info">;
  now?: () => Date;
  /**
   * Runs in the transaction that appended `inserted` (redelivered events are not in it), e.g. to
   * store a row derived from each event: it commits exactly when the events do, and is retried
   * from the spool with them.
   */
  afterAppend?: (tx: Queryable, inserted: readonly AuditRecord[]) => Promise<void>;
}

export interface AuditWriterStatus {
  mode: "direct" | "spooling";
  queued: number;
  spooled: number;
  deadLettered: number;
}

interface Pending {
  entry: AuditEntry;
  /** Absent for `submitTyped` (fire and forget): nothing to settle. */
  resolve?: () => void;
  reject: (error: Error) => void;
}

/** Worth retrying later: the database is unreachable, restarting, or the transaction lost a race. */
export function isRetryableDatabaseError(error: unknown): boolean {
  if (isConnectionError(error)) return true;
  const state = sqlState(error);
  return (
    state !== undefined &&
    (state.startsWith("40") || state.startsWith("53") || state === "57014" || state === "55P03")
  );
}

export class AuditWriter {
  private queue: Pending[] = [];
  private pumping: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private closed = false;
  private deadLettered = 0;
  private readonly batchSize: number;
  private readonly now: () => Date;

  private constructor(
    private readonly options: AuditWriterOptions,
    private readonly spool: AuditSpool,
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.retryDelay = options.retryDelayMs?.min ?? 100;
    this.now = options.now ?? (() => new Date());
  }

  static async open(options: AuditWriterOptions): Promise<AuditWriter> {
    const writer = new AuditWriter(options, await AuditSpool.open(options.spoolPath));
    if (writer.spool.pending > 0) {
      options.logger?.info(
        { spooled: writer.spool.pending },
        "audit spool has undelivered events; delivering",
      );
      writer.kick();
    }
    return writer;
  }

  /** Validates (throws InvalidAuditEventError) and queues an event; resolves once it is durable. */
  append(event: unknown): Promise<AuditEntry> {
    return this.enqueue(() => normalizeAuditEvent(event, this.now));
  }

  /** `append` for an event built from typed values in this process (normalizeTypedEvent): cheaper. */
  appendTyped(event: AuditEventInput): Promise<AuditEntry> {
    return this.enqueue(() => normalizeTypedEvent(event, this.now));
  }

  /**
   * `appendTyped` without a promise per event, for the busiest caller (one event per authorization
   * decision): `onError` hears of an event that was refused or could not be made durable.
   */
  submitTyped(event: AuditEventInput, onError: (error: Error) => void): void {
    if (this.closed) return onError(new Error("audit writer is closed"));
    let entry: AuditEntry;
    try {
      entry = normalizeTypedEvent(event, this.now);
    } catch (error) {
      return onError(error instanceof Error ? error : new Error(String(error)));
    }
    this.queue.push({ entry, reject: onError });
    this.kick();
  }

  private enqueue(normalize: () => AuditEntry): Promise<AuditEntry> {
    if (this.closed) return Promise.reject(new Error("audit writer is closed"));
    let entry: AuditEntry;
    try {
      entry = normalize();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve: () => resolve(entry), reject });
      this.kick();
    });
  }

  status(): AuditWriterStatus {
    return {
      mode: this.spool.pending > 0 ? "spooling" : "direct",
      queued: this.queue.length,
      spooled: this.spool.pending,
      deadLettered: this.deadLettered,
    };
  }

  /** Resolves when every appended event is durable (in the database or the spool). */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Resolves when every appended event is in the database; rejects after `timeoutMs`. */
  async delivered(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.flush();
      if (this.queue.length === 0 && this.spool.pending === 0) return;
      if (Date.now() > deadline)
        throw new Error(`audit events not delivered after ${timeoutMs} ms (${this.spool.pending} spooled)`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.flush();
    await this.spool.close();
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump()
      .catch((error: unknown) => this.options.logger?.error({ err: error }, "audit writer failed"))
      .finally(() => {
        this.pumping = null;
        if (this.queue.length > 0 && !this.retryTimer) this.kick();
      });
  }

  private async pump(): Promise<void> {
    for (;;) {
      if (this.spool.pending > 0) {
        await this.moveQueueToSpool();
        if (this.retryTimer || this.closed) return;
        if (!(await this.deliverFromSpool())) return;
        continue;
      }
      if (this.queue.length === 0) return;
      const batch = this.queue.splice(0, this.batchSize);
      try {
        await this.write(
          batch.map((p) => p.entry),
          true,
        );
        for (const p of batch) p.resolve?.();
        this.retryDelay = this.options.retryDelayMs?.min ?? 100;
      } catch (error) {
        this.queue.unshift(...batch);
        if (isRetryableDatabaseError(error)) {
          this.options.logger?.warn(
            { err: error, queued: this.queue.length },
            "audit database unreachable; spooling events locally",
          );
          await this.moveQueueToSpool();
          this.scheduleRetry();
          return;
        }
        await this.writeOneByOne();
      }
    }
  }

  /** `fresh`: straight from the queue, never in a committed transaction (no duplicate look-up needed). */
  private write(entries: AuditEntry[], fresh: boolean): Promise<unknown> {
    const { afterAppend } = this.options;
    return this.options.db.transaction(async (tx) => {
      const result = await appendAuditEntries(tx, entries, this.now(), { fresh });
      if (afterAppend && result.inserted.length > 0) await afterAppend(tx, result.inserted);
    });
  }

  private async moveQueueToSpool(): Promise<void> {
    if (this.queue.length === 0) return;
    const moving = this.queue.splice(0);
    try {
      await this.spool.append(moving.map((p) => p.entry));
    } catch (error) {
      this.options.logger?.error({ err: error, lost: moving.length }, "audit spool write failed");
      for (const p of moving) p.reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    for (const p of moving) p.resolve?.();
  }

  /** Delivers the oldest spooled batch; false when the database is still unreachable. */
  private async deliverFromSpool(): Promise<boolean> {
    const batch = await this.spool.peek(this.batchSize);
    try {
      await this.write(batch.entries, false);
    } catch (error) {
      if (isRetryableDatabaseError(error)) {
        this.scheduleRetry();
        return false;
      }
      for (const entry of batch.entries) {
        try {
          await this.write([entry], false);
        } catch (single) {
          if (isRetryableDatabaseError(single)) {
            this.scheduleRetry();
            return false; // the ones delivered so far are skipped as duplicates next time
          }
          await this.deadLetter(entry, single);
        }
      }
    }
    await this.spool.acknowledge(batch.endOffset, batch.entries.length);
    this.retryDelay = this.options.retryDelayMs?.min ?? 100;
    if (this.spool.pending === 0) this.options.logger?.info("audit spool drained; writing directly again");
    return true;
  }

  /** A batch failed for a reason other than connectivity: isolate the event(s) the database refuses. */
  private async writeOneByOne(): Promise<void> {
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      try {
        await this.write([next.entry], true);
        this.queue.shift();
        next.resolve?.();
      } catch (error) {
        if (isRetryableDatabaseError(error)) {
          await this.moveQueueToSpool();
          this.scheduleRetry();
          return;
        }
        this.queue.shift();
        await this.deadLetter(next.entry, error);
        next.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /** Kept on disk next to the spool, never dropped: an operator can inspect and replay it. */
  private async deadLetter(entry: AuditEntry, error: unknown): Promise<void> {
    this.deadLettered += 1;
    this.options.logger?.error(
      { err: error, event_id: entry.event_id },
      "database refused an audit event; kept in the dead-letter file",
    );
    await appendFile(
      `${this.options.spoolPath}.rejected`,
      `${JSON.stringify({ entry, error: String(error) })}\n`,
      { mode: 0o600 },
    );
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.options.retryDelayMs?.max ?? 2_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }
}
