import { WardenError } from "../../../lib/src/errors.js";
import type { Database } from "../../../lib/src/db/types.js";
import {
  budgetCounter,
  reserve,
  settle,
  sweepExpired,
  type ReservationHandle,
} from "../../../lib/src/llm/budget-reservations.js";
import { PICO_PER_MICRO } from "../../../lib/src/llm/money.js";
import { periodStart, type Spender } from "../../../lib/src/llm/budgets.js";
import type { Logger } from "../../../lib/src/logger.js";
import { estimateUsage, loadTokenCounter, requestText, type TokenCounter } from "../usage/estimate.js";
import { costOf, type PriceTable } from "../usage/prices.js";
import { NO_TOKENS, type UsageRecord } from "../usage/record.js";
import type { BudgetBook } from "./budget-book.js";
import { budgetExceededMessage, budgetNoRoomMessage } from "./budget-guard.js";
import { worstCaseCostPico } from "./worst-case.js";

export interface BudgetReserverOptions {
  readonly db: Database;
  readonly book: BudgetBook;
  readonly prices: PriceTable;
  /** This instance's id, on its reservations. */
  readonly reservedBy: string;
  readonly ttlMs: number;
  readonly defaultMaxOutputTokens: number;
  readonly logger: Pick<Logger, "warn" | "error">;
  readonly tokenCounter?: () => Promise<TokenCounter>;
  readonly now?: () => Date;
}

/** What a call to reserve for: who pays, where it goes, what it asks for. */
export interface ReservationCall {
  readonly spender: Spender;
  readonly provider: string;
  /** The model sent upstream first, then the one the agent named (priced as usage is). */
  readonly models: readonly (string | null)[];
  readonly body: Record<string, unknown>;
}

/** What an LLM exchange needs of budget reservations (BudgetReserver; a test may pass its own). */
export interface BudgetReservations {
  reserve(call: ReservationCall): Promise<ReservationHandle | null>;
  settle(handle: ReservationHandle, record: UsageRecord | null): void;
}

/** Waits before each new settlement attempt (well within the reservation's expiry). */
const SETTLE_RETRY_DELAYS_MS = [1_000, 5_000, 30_000];

const CHARACTERS: TokenCounter = { count: (text) => text.length };

export const RESERVATIONS_UNAVAILABLE =
  "the shared budget store (PostgreSQL) cannot be reached, so this call's budget cannot be checked; nothing was sent upstream";

/**
 * The authority on hard budgets shared by sidecars: before a budgeted call is forwarded, its
 * worst-case cost is reserved in PostgreSQL (lib/src/llm/budget-reservations.ts); after it ends,
 * the reservation is settled at the cost its usage row is priced at. A call no hard budget applies
 * to costs no database round trip (the book, kept by BudgetFeed, says which budgets apply).
 */
export class BudgetReserver implements BudgetReservations {
  private readonly now: () => Date;

  constructor(private readonly options: BudgetReserverOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Reserves the call's worst case against every hard budget it falls under. Returns null when none
   * applies; throws WardenError `budget_exceeded` (402) when one has no room, `unavailable` (503)
   * when PostgreSQL cannot be reached (fail closed).
   */
  async reserve(call: ReservationCall): Promise<ReservationHandle | null> {
    const { book, prices, db } = this.options;
    const budgets = book.hardBudgets(call.spender);
    if (budgets.length === 0) return null;
    // Without the tokenizer, a character per token: more than any tokenizer counts.
    const tokens = await (this.options.tokenCounter ?? loadTokenCounter)().catch(() => CHARACTERS);
    const amountPico = worstCaseCostPico({
      body: call.body,
      inputTokens: estimateUsage(tokens, requestText(call.body), { text: "", scale: 1 }).inputTokens,
      defaultMaxOutputTokens: this.options.defaultMaxOutputTokens,
      price: prices.priceOfFirst(call.provider, call.models),
    });
    const now = this.now();
    let reservation;
    try {
      reservation = await reserve(db, {
        budgets,
        amountPico,
        reservedBy: this.options.reservedBy,
        ttlMs: this.options.ttlMs,
        now,
      });
    } catch (error) {
      this.options.logger.error({ err: error }, "budget reservation failed; call refused (fail closed)");
      throw new WardenError("unavailable", RESERVATIONS_UNAVAILABLE);
    }
    if (reservation.ok) return reservation.handle;
    const { budget } = reservation;
    const counter = await budgetCounter(db, budget, now).catch(() => null);
    const status = {
      budget,
      periodStart: periodStart(budget.period, now),
      spentPico: counter?.spentPico ?? 0n,
    };
    const usedUp = counter !== null && counter.spentPico >= budget.limitMicros * PICO_PER_MICRO;
    throw new WardenError(
      "budget_exceeded",
      usedUp
        ? budgetExceededMessage(status)
        : budgetNoRoomMessage(status, amountPico, counter?.reservedPico ?? 0n),
    );
  }

  /** Settles at the cost the call's usage row is priced at (0 for one that was never forwarded). */
  settle(handle: ReservationHandle, record: UsageRecord | null): void {
    const price = record
      ? this.options.prices.priceOfFirst(record.provider, [record.model, record.responseModel])
      : null;
    const cost = record && price ? costOf(record.usage ?? NO_TOKENS, price) : 0n;
    void this.settleWithRetries(handle, cost, 0);
  }

  /**
   * A settlement that fails (PostgreSQL briefly away) is tried again: given up, the call's cost would
   * be missing from the shared counter (its usage row still lands, through the spool). A settlement
   * whose commit went through but whose answer was lost is charged twice: the safe side.
   */
  private async settleWithRetries(handle: ReservationHandle, cost: bigint, attempt: number): Promise<void> {
    try {
      await settle(this.options.db, handle, cost);
    } catch (error) {
      const delay = SETTLE_RETRY_DELAYS_MS[attempt];
      if (delay === undefined) {
        this.options.logger.error(
          { err: error, reservations: handle.ids, cost_pico_usd: cost.toString() },
          "budget reservation could not be settled: its cost is missing from the shared counter; the sweeper gives the reservation back at its expiry",
        );
        return;
      }
      this.options.logger.warn({ err: error, attempt: attempt + 1 }, "budget settlement failed; retrying");
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      await this.settleWithRetries(handle, cost, attempt + 1);
    }
  }

  /** Gives back reservations whose sidecar never settled them (it died); runs every `everyMs`. */
  startSweeper(everyMs: number): () => void {
    const timer = setInterval(() => {
      sweepExpired(this.options.db, this.now()).catch((error: unknown) =>
        this.options.logger.warn({ err: error }, "sweeping expired budget reservations failed"),
      );
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
