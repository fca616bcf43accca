import type { Database } from "../../../lib/src/db/types.js";
import type { Logger } from "../../../lib/src/logger.js";
import {
  applicableLimits,
  groupByTenant,
  type LimitSubjects,
  type LimitsByTenant,
  type RateLimitFacts,
} from "../../../lib/src/ratelimit/applicable.js";
import {
  rateLimitDefinitionSchema,
  type RateLimitDefinition,
} from "../../../lib/src/ratelimit/definitions.js";
import { FULL_SYNC, NotifyFeed, type NotificationOutcome } from "../feed/notify-feed.js";

/** What the authorizer asks: the stored limits a request falls under. */
export interface RateLimitBook {
  applying(subjects: LimitSubjects): RateLimitFacts[];
}

export const NO_RATE_LIMITS: RateLimitBook = { applying: () => [] };

/** The limits in memory, replaced whole on every reload; requests only read it. */
export class RateLimitIndex implements RateLimitBook {
  private limits: LimitsByTenant = new Map();
  private count = 0;

  replaceAll(definitions: readonly RateLimitDefinition[]): void {
    this.limits = groupByTenant(definitions);
    this.count = definitions.length;
  }

  get size(): number {
    return this.count;
  }

  applying(subjects: LimitSubjects): RateLimitFacts[] {
    return applicableLimits(this.limits, subjects);
  }
}

export const RATE_LIMITS_CHANNEL = "warden_rate_limits";

/**
 * Keeps the index in step with `rate_limits` (migration 026): a full load at start, then on every
 * NOTIFY warden_rate_limits, and periodically. A row the schema refuses is skipped and logged (the
 * service's YAML is rendered from the same rows and schema).
 */
export class RateLimitFeed extends NotifyFeed<never> {
  constructor(
    private readonly options: {
      db: Database;
      index: RateLimitIndex;
      logger: Logger;
      resyncMs: number;
    },
  ) {
    super({ ...options, channel: RATE_LIMITS_CHANNEL, subject: "rate limits" });
  }

  protected onNotification(): NotificationOutcome<never> {
    return FULL_SYNC;
  }

  protected async applyIncremental(): Promise<void> {
    this.requestFullSync();
  }

  protected async fullSync(): Promise<void> {
    const { rows } = await this.options.db.query<Record<string, unknown>>(
      "SELECT tenant_id, scope, subject, unit, per_minute, failure_mode FROM rate_limits",
    );
    const definitions: RateLimitDefinition[] = [];
    for (const row of rows) {
      const parsed = rateLimitDefinitionSchema.safeParse({
        tenant: row.tenant_id,
        scope: row.scope,
        subject: row.subject,
        unit: row.unit,
        perMinute: row.per_minute,
        failureMode: row.failure_mode,
      });
      if (parsed.success) definitions.push(parsed.data);
      else this.options.logger.error({ problem: parsed.error.issues[0]?.message }, "rate limit row skipped");
    }
    this.options.index.replaceAll(definitions);
  }

  protected override onFullSync({ first }: { first: boolean; durationMs: number }): void {
    this.options.logger[first ? "info" : "debug"](
      { rate_limits: this.options.index.size },
      "rate limits loaded",
    );
  }
}
