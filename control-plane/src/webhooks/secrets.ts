import { randomBytes } from "node:crypto";
import { transitDecrypt, transitEncrypt } from "../../../lib/src/saas/sealed-tokens.js";
import type { VaultClient } from "../../../lib/src/vault/client.js";

/**
 * Signing secrets: 256 random bits made by the control plane, shown once when the subscription is
 * created, kept only sealed with the tenant's OpenBao transit key (the same key as users' OAuth
 * tokens; vault/control-plane.hcl). Opened again only to sign, held in memory for a short while.
 */
export const SECRET_PREFIX = "whsec_";

export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString("base64url")}`;
}

export interface SecretSealer {
  seal(tenant: string, secret: string): Promise<string>;
  open(tenant: string, sealed: string): Promise<string>;
}

export function transitSealer(vault: VaultClient, transitMount: string): SecretSealer {
  return {
    async seal(tenant, secret) {
      const [sealed] = await transitEncrypt(vault, transitMount, tenant, [secret]);
      return sealed!;
    },
    async open(tenant, sealed) {
      const [secret] = await transitDecrypt(vault, transitMount, tenant, [sealed]);
      return secret!;
    },
  };
}

/** Opened secrets by sealed value, for `ttlMs` (a rotated or deleted subscription has another value). */
export function cachedOpener(sealer: SecretSealer, ttlMs: number, now: () => number = Date.now) {
  const cache = new Map<string, { secret: string; until: number }>();
  return async (tenant: string, sealed: string): Promise<string> => {
    const key = `${tenant}\u0000${sealed}`;
    const hit = cache.get(key);
    if (hit && hit.until > now()) return hit.secret;
    const secret = await sealer.open(tenant, sealed);
    cache.set(key, { secret, until: now() + ttlMs });
    for (const [k, v] of cache) if (v.until <= now()) cache.delete(k);
    return secret;
  };
}
