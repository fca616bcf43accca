import type { VaultClient } from "../vault/client.js";
import { VaultError } from "../vault/client.js";
import { destroyKvSecret, readKvSecret, writeKvSecret } from "../vault/kv.js";
import { providerClientSchema, type ProviderClient } from "./oauth-client.js";
import { oauthSecretPath, sealedTokensSchema, type SealedTokens } from "./sealed-tokens.js";

/** Where Warden keeps OAuth material in Vault KV v2 (the layout of the architecture brief). */
export interface OAuthVaultPaths {
  kvMount: string;
  transitMount: string;
}

export interface ConnectionKey {
  tenant: string;
  userId: string;
  service: string;
}

export interface StoredTokens {
  sealed: SealedTokens;
  /** KV version: the check-and-set value of the next write. */
  version: number;
}

/** The provider's OAuth client (`<kv>/providers/<service>` → `{ client_id, client_secret }`); null if none. */
export async function readProviderClient(
  client: VaultClient,
  kvMount: string,
  service: string,
): Promise<ProviderClient | null> {
  const secret = await readKvSecret(client, kvMount, ["providers", service]);
  if (!secret) return null;
  const parsed = providerClientSchema.safeParse(secret.data);
  if (!parsed.success) throw new VaultError(`providers/${service} has no client_id and client_secret`, 500);
  return parsed.data;
}

export async function readStoredTokens(
  client: VaultClient,
  kvMount: string,
  key: ConnectionKey,
): Promise<StoredTokens | null> {
  const secret = await readKvSecret(client, kvMount, oauthSecretPath(key.tenant, key.userId, key.service));
  if (!secret) return null;
  const parsed = sealedTokensSchema.safeParse(secret.data);
  if (!parsed.success)
    throw new VaultError(`the OAuth secret of ${key.service} is not in Warden's format`, 500);
  return { sealed: parsed.data, version: secret.version };
}

/** Writes tokens; with `cas` only over that version (KvCasConflictError when another writer was first). */
export function writeStoredTokens(
  client: VaultClient,
  kvMount: string,
  key: ConnectionKey,
  sealed: SealedTokens,
  cas?: number,
): Promise<number> {
  return writeKvSecret(
    client,
    kvMount,
    oauthSecretPath(key.tenant, key.userId, key.service),
    sealed,
    cas === undefined ? {} : { cas },
  );
}

export function destroyStoredTokens(client: VaultClient, kvMount: string, key: ConnectionKey): Promise<void> {
  return destroyKvSecret(client, kvMount, oauthSecretPath(key.tenant, key.userId, key.service));
}
