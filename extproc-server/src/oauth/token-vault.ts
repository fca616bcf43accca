import type { ProviderClient } from "../../../lib/src/saas/oauth-client.js";
import type { PlainTokens, SealedTokens } from "../../../lib/src/saas/sealed-tokens.js";
import type { ConnectionKey, StoredTokens } from "../../../lib/src/saas/token-store.js";

/**
 * What the user-token cache needs from Vault, as one small interface (the real one is
 * `vault-token-vault.ts`; unit tests use an in-memory one). `write` with `cas` throws
 * KvCasConflictError when another sidecar wrote first.
 */
export interface TokenVault {
  read(key: ConnectionKey): Promise<StoredTokens | null>;
  open(
    tenant: string,
    sealed: SealedTokens,
    withRefresh: boolean,
  ): Promise<{ accessToken: string | null; refreshToken: string | null }>;
  seal(tenant: string, tokens: PlainTokens, scopes: readonly string[]): Promise<SealedTokens>;
  write(key: ConnectionKey, sealed: SealedTokens, cas: number): Promise<number>;
  providerClient(service: string): Promise<ProviderClient | null>;
}
