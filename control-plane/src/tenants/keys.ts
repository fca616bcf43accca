import { VaultError, type VaultClient } from "../../../lib/src/vault/client.js";
import type { Logger } from "../../../lib/src/logger.js";
import { ApiError } from "../http/errors.js";

/**
 * Each tenant's own transit keys (docs/tenancy.md): one that signs for the tenant (ECDSA P-256,
 * never exported) and one that seals its secrets (AES-256-GCM; the name the OAuth connections
 * already seal users' tokens with). Only their names are stored in the database.
 */
export interface TenantKeyNames {
  signing_key: string;
  sealing_key: string;
}

export function tenantKeyNames(tenant: string): TenantKeyNames {
  return { signing_key: `warden-tenant-${tenant}-signing`, sealing_key: `tenant-${tenant}` };
}

export interface TenantKeys {
  /** Creates both keys if they do not exist yet (idempotent, so a failed creation can be retried). */
  ensure(tenant: string): Promise<TenantKeyNames>;
}

export function createTenantKeys(vault: VaultClient, mount: string, logger: Logger): TenantKeys {
  async function ensureKey(name: string, type: string): Promise<void> {
    const path = `${mount}/keys/${encodeURIComponent(name)}`;
    try {
      // Read first: an existing key (the sealing key an account connection created on first use)
      // is left exactly as it is.
      const exists = await vault.request("GET", path).then(
        () => true,
        (error: unknown) => {
          if (error instanceof VaultError && error.status === 404) return false;
          throw error;
        },
      );
      if (!exists) await vault.request("POST", path, { type });
    } catch (error) {
      if (error instanceof VaultError) {
        logger.error({ key: name, status: error.status, err: error.message }, "tenant key not created");
        throw new ApiError("unavailable", "the tenant's keys could not be created in OpenBao");
      }
      throw error;
    }
  }
  return {
    async ensure(tenant) {
      const names = tenantKeyNames(tenant);
      await ensureKey(names.signing_key, "ecdsa-p256");
      await ensureKey(names.sealing_key, "aes256-gcm96");
      return names;
    },
  };
}
