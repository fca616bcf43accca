import type { Logger } from "../../../lib/src/logger.js";
import type { LoadOptions, LoadedPolicy } from "../policy/engine.js";
import { PolicyHolder, type PolicyStatus } from "../policy/holder.js";
import type { BundleSource } from "./sources.js";

/**
 * Keeps the active policy fresh: polls a bundle source and hands new bytes to the PolicyHolder,
 * which verifies and instantiates them off the request path and swaps atomically. A refused bundle
 * is logged with its reason; the last good policy keeps deciding.
 */
export interface BundleStatus extends PolicyStatus {
  source: string;
  last_fetch_error: string | null;
}

export class BundleLoader {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private fetchError: string | null = null;
  /** Called after a new policy is activated (e.g. to report SERVING once the first one is in). */
  onActivated: (() => void) | undefined;

  constructor(
    private readonly source: BundleSource,
    private readonly holder: PolicyHolder,
    private readonly loadOptions: LoadOptions,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  readonly current = (): LoadedPolicy | undefined => this.holder.current();

  status(): BundleStatus {
    return { source: this.source.description, last_fetch_error: this.fetchError, ...this.holder.status() };
  }

  /** One poll; concurrent callers share the same run. Never throws. */
  refresh(): Promise<void> {
    this.running ??= this.poll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async poll(): Promise<void> {
    let bytes: Buffer;
    try {
      const fetched = await this.source.fetch();
      this.fetchError = null;
      if (fetched.kind === "unchanged") return;
      bytes = fetched.bytes;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.fetchError) {
        this.logger.warn({ source: this.source.description, reason: message }, "policy bundle fetch failed");
      }
      this.fetchError = message;
      return;
    }
    const swapped = await this.holder.load(bytes, this.loadOptions);
    const status = this.holder.status();
    if (swapped) {
      this.logger.info(
        { policy_revision: status.revision, source: this.source.description },
        "policy bundle activated",
      );
      this.onActivated?.();
    } else {
      this.logger.error(
        { source: this.source.description, reason: status.last_error, serving_revision: status.revision },
        "policy bundle refused; the last good policy keeps deciding",
      );
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
