import type { MaybeAsync } from "../providers.js";
import type { SecretScrubber } from "./scrub.js";

/**
 * Where LLM API keys come from. `keyFor` answers synchronously from a fresh cache entry (the common
 * case costs no promise) and otherwise asks the store. It throws a WardenError the agent sees:
 * 503 when the store is unreachable and nothing usable is cached, 403 when the tenant has no key.
 */
export interface LlmKeySource {
  keyFor(tenant: string, provider: string): MaybeAsync<string>;
  /** The provider refused the key (401): the next request reads it again. */
  invalidate(tenant: string, provider: string): void;
  /** Scrubs every key this source currently holds (the "known credentials" of response scrubbing). */
  scrubber(): SecretScrubber;
}
