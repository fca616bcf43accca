import { WardenError } from "../../../lib/src/errors.js";
import type { Logger } from "../../../lib/src/logger.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import { isSafeKvSegment, type KvSecret } from "../../../lib/src/vault/kv.js";
import type { MaybeAsync } from "../providers.js";
import type { LlmKeySource } from "./key-source.js";
import { SecretScrubber } from "./scrub.js";
import { cacheCounter } from "../../../lib/src/metrics/cache.js";

/** Reads `llm/<tenant>/<provider>` from the secret store (KV v2 in production). */
export type LlmKeyReader = (tenant: string, provider: string) => Promise<KvSecret | null>;

export interface CachedLlmKeysOptions {
  /** How long a read key is used without asking the store again. */
  ttlMs: number;
  /** How long past `ttlMs` a key may still be used while the store is unreachable (0: never). */
  maxStaleMs: number;
  logger: Logger;
  now?: () => number;
}

interface Entry {
  /** null: the store has no key for this tenant and provider (cached too, so a missing key costs no read per request). */
  readonly key: string | null;
  readonly version: number;
  readonly readAt: number;
}

export const STORE_UNAVAILABLE = "the LLM key store is unavailable; no request was sent upstream";

/**
 * LLM keys cached per tenant and provider for a short TTL. After the TTL the next request reads the
 * store again (one read per key at a time, however many requests wait); a read that returns a new
 * KV version replaces the key at once, and a provider's 401 drops it. When the store cannot be
 * reached, a key read within `ttlMs + maxStaleMs` is still used; with nothing usable the request is
 * refused with 503, never sent without a key.
 */
const lookups = cacheCounter("llm_keys");

export class CachedLlmKeys implements LlmKeySource {
  private readonly entries = new Map<string, Entry>();
  private readonly reads = new Map<string, Promise<string>>();
  private currentScrubber = new SecretScrubber([]);
  private readonly now: () => number;

  constructor(
    private readonly read: LlmKeyReader,
    private readonly options: CachedLlmKeysOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  keyFor(tenant: string, provider: string): MaybeAsync<string> {
    const id = `${tenant}/${provider}`;
    const entry = this.entries.get(id);
    if (entry && this.now() - entry.readAt < this.options.ttlMs) {
      lookups.hit();
      return usable(entry, tenant, provider);
    }
    lookups.miss();
    let reading = this.reads.get(id);
    if (!reading) {
      reading = this.readThrough(id, tenant, provider).finally(() => this.reads.delete(id));
      this.reads.set(id, reading);
    }
    return reading;
  }

  invalidate(tenant: string, provider: string): void {
    if (this.entries.delete(`${tenant}/${provider}`)) this.rebuildScrubber();
  }

  scrubber(): SecretScrubber {
    return this.currentScrubber;
  }

  private async readThrough(id: string, tenant: string, provider: string): Promise<string> {
    if (!isSafeKvSegment(tenant))
      throw new WardenError("forbidden", "the tenant name cannot name an LLM key");
    const previous = this.entries.get(id);
    let secret: KvSecret | null;
    try {
      secret = await this.read(tenant, provider);
    } catch (error) {
      return this.whenStoreFails(error, previous, tenant, provider);
    }
    const key =
      secret && typeof secret.data.api_key === "string" && secret.data.api_key !== ""
        ? secret.data.api_key
        : null;
    if (secret && key === null) {
      this.options.logger.error(
        { tenant, provider, version: secret.version },
        "LLM key secret has no api_key",
      );
    }
    const entry: Entry = { key, version: secret?.version ?? 0, readAt: this.now() };
    this.entries.set(id, entry);
    if (previous?.key !== entry.key) {
      if (previous)
        this.options.logger.info(
          { tenant, provider, version: entry.version },
          "LLM key changed in the store",
        );
      this.rebuildScrubber();
    }
    return usable(entry, tenant, provider);
  }

  private whenStoreFails(
    error: unknown,
    previous: Entry | undefined,
    tenant: string,
    provider: string,
  ): string {
    const unavailable = !(error instanceof VaultError) || error.unavailable;
    const reason = error instanceof Error ? error.message : String(error);
    const age = previous ? this.now() - previous.readAt : Number.POSITIVE_INFINITY;
    if (unavailable && previous?.key && age < this.options.ttlMs + this.options.maxStaleMs) {
      this.options.logger.warn(
        { tenant, provider, reason, age_ms: age },
        "key store unreachable; using the cached LLM key",
      );
      return previous.key;
    }
    this.options.logger.error({ tenant, provider, reason, unavailable }, "cannot read the LLM key");
    throw new WardenError("unavailable", STORE_UNAVAILABLE);
  }

  private rebuildScrubber(): void {
    const keys: string[] = [];
    for (const entry of this.entries.values()) if (entry.key) keys.push(entry.key);
    this.currentScrubber = new SecretScrubber(keys);
  }
}

function usable(entry: Entry, tenant: string, provider: string): string {
  if (entry.key === null) {
    throw new WardenError("forbidden", `no ${provider} API key is configured for tenant ${tenant}`);
  }
  return entry.key;
}
