import type { Database } from "../../../lib/src/db/types.js";
import { BUDGET_CHANNEL } from "../../../lib/src/llm/budgets.js";
import { budgetSpend, loadBudgets } from "../../../lib/src/llm/budget-store.js";
import type { Logger } from "../../../lib/src/logger.js";
import type { BudgetBook } from "./budget-book.js";

export interface BudgetFeedOptions {
  db: Pick<Database, "query" | "listen">;
  book: BudgetBook;
  /** This instance's `recorded_by` on usage rows. */
  recordedBy: string;
  /** Resolves true once every usage row this instance handed over so far is in the database. */
  ownRowsStored: () => Promise<boolean>;
  resyncMs: number;
  logger: Pick<Logger, "info" | "warn" | "debug">;
  now?: () => Date;
}

/**
 * Keeps the BudgetBook in step with PostgreSQL without a query per request: a full read at start,
 * another whenever the control plane announces a budget change (LISTEN on `warden_budgets`) or the
 * listening connection comes back, and one every `resyncMs` to learn what other sidecars spent.
 *
 * A read counts this instance's own rows up to a mark (all of them stored, or the read is put off)
 * and leaves out the later ones, which the book already counts: nothing is counted twice or missed.
 */
export class BudgetFeed {
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private loaded = false;
  private readonly now: () => Date;

  constructor(private readonly options: BudgetFeedOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Whether budgets were read at least once (until then nothing is enforced). */
  get ready(): boolean {
    return this.loaded;
  }

  /** First read and subscription; failures are logged and retried on the resync timer. */
  async start(): Promise<void> {
    await this.subscribe();
    await this.resync();
    this.timer = setInterval(() => {
      if (!this.unlisten) void this.subscribe();
      void this.resync();
    }, this.options.resyncMs);
    this.timer.unref();
  }

  /** LISTEN; once it is up, the connection reconnects by itself (and says so: onReconnect). */
  private async subscribe(): Promise<void> {
    try {
      this.unlisten = await this.options.db.listen(BUDGET_CHANNEL, () => void this.resync(), {
        onReconnect: () => void this.resync(),
      });
    } catch (error) {
      this.options.logger.warn(
        { err: error },
        "cannot listen for budget changes yet; relying on the periodic resync",
      );
    }
  }

  /** Re-reads budgets and spend; concurrent calls share one read and ask for one more after it. */
  resync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.read()
      .catch((error: unknown) =>
        this.options.logger.warn({ err: error }, "budget resync failed; keeping the counters"),
      )
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          void this.resync();
        }
      });
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.unlisten?.().catch(() => undefined);
  }

  private async read(): Promise<void> {
    const { book, db } = this.options;
    const mark = book.lastSeq;
    if (!(await this.options.ownRowsStored())) {
      this.options.logger.debug("own usage rows not all stored yet (spooled); budget resync put off");
      return;
    }
    const now = this.now();
    const budgets = await loadBudgets(db);
    const spend = await budgetSpend(db, now, {
      leaveOut: { recordedBy: this.options.recordedBy, afterSeq: mark },
    });
    book.resync(budgets, spend, mark, now);
    if (!this.loaded) this.options.logger.info({ budgets: budgets.length }, "budgets loaded");
    this.loaded = true;
  }
}
