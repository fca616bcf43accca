import type { PlainTokens, SealedTokens } from "../../../lib/src/saas/sealed-tokens.js";
import { openTokens, sealTokens } from "../../../lib/src/saas/sealed-tokens.js";
import {
  readProviderClient,
  readStoredTokens,
  writeStoredTokens,
  type ConnectionKey,
  type OAuthVaultPaths,
} from "../../../lib/src/saas/token-store.js";
import type { ProviderClient } from "../../../lib/src/saas/oauth-client.js";
import type { VaultCertSession } from "../credentials/vault-cert-session.js";
import type { TokenVault } from "./token-vault.js";

/** The TokenVault of production: KV v2 and transit through extproc-server's cert-auth session. */
export function vaultTokenVault(
  session: VaultCertSession,
  paths: OAuthVaultPaths,
  now: () => Date,
): TokenVault {
  return {
    read: (key: ConnectionKey) => session.run((client) => readStoredTokens(client, paths.kvMount, key)),
    open: (tenant: string, sealed: SealedTokens, withRefresh: boolean) =>
      session.run((client) => openTokens(client, paths.transitMount, tenant, sealed, withRefresh)),
    seal: (tenant: string, tokens: PlainTokens, scopes: readonly string[]) =>
      session.run((client) => sealTokens(client, paths.transitMount, tenant, tokens, scopes, now())),
    write: (key: ConnectionKey, sealed: SealedTokens, cas: number) =>
      session.run((client) => writeStoredTokens(client, paths.kvMount, key, sealed, cas)),
    providerClient: (service: string): Promise<ProviderClient | null> =>
      session.run((client) => readProviderClient(client, paths.kvMount, service)),
  };
}
