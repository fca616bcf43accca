import type { Logger } from "../../../lib/src/logger.js";
import { readKvSecret } from "../../../lib/src/vault/kv.js";
import { CachedLlmKeys } from "./cached-llm-keys.js";
import type { LlmKeysConfig, VaultCertConfig } from "./config.js";
import { VaultCertSession } from "./vault-cert-session.js";

/** LLM keys from Vault KV v2 (`<mount>/llm/<tenant>/<provider>` → `{ api_key }`), cached. */
export function vaultLlmKeys(
  vault: VaultCertConfig,
  config: LlmKeysConfig,
  logger: Logger,
): { keys: CachedLlmKeys; session: VaultCertSession } {
  const session = new VaultCertSession(vault);
  const keys = new CachedLlmKeys(
    (tenant, provider) =>
      session.run((client) => readKvSecret(client, vault.kvMount, ["llm", tenant, provider])),
    { ttlMs: config.WARDEN_LLM_KEY_CACHE_TTL_MS, maxStaleMs: config.WARDEN_LLM_KEY_MAX_STALE_MS, logger },
  );
  return { keys, session };
}
