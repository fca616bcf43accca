import type { VaultClient } from "../../../lib/src/vault/client.js";
import {
  readTransitKey,
  signJwsWithTransit,
  transitJwks,
  type PublicJwk,
  type TransitKey,
  type TransitKeyInfo,
} from "../../../lib/src/vault/transit.js";
import { verificationKeysFromJwks, type VerificationKey } from "../../../lib/src/tokens/jws.js";
import type { AttestationSigner } from "../kya/signer.js";
import { publishedVersions, signingVersion, type KeyVersion, type RotationPolicy } from "./key-rotation.js";

/**
 * Signs delegations and access tokens with the token key in Vault transit (`warden-tokens` by
 * default; the private key never leaves Vault), choosing the version by the rotation policy
 * (key-rotation.ts), and publishes the public half. It is the KYA signer's interface over the same
 * lib/src/vault/transit.ts code, plus key selection and verification keys for the token service.
 * Key metadata is cached briefly: tokens are issued far more often than keys rotate.
 */
export interface TokenSigner extends AttestationSigner {
  /** The keys tokens are verified with here (the published ones), by kid. */
  verificationKeys(): Promise<Map<string, VerificationKey>>;
}

export interface TokenSignerOptions {
  key: TransitKey;
  rotation: RotationPolicy;
  /** How long key metadata read from Vault is reused. */
  cacheMs?: number;
  now?: () => Date;
}

export function createTokenSigner(client: VaultClient, options: TokenSignerOptions): TokenSigner {
  const now = options.now ?? (() => new Date());
  const cacheMs = options.cacheMs ?? 1_000;
  let cached: { info: TransitKeyInfo; readAt: number } | undefined;
  let keys: { published: string; map: Map<string, VerificationKey> } | undefined;

  async function keyInfo(): Promise<TransitKeyInfo> {
    const at = Date.now();
    if (cached && at - cached.readAt < cacheMs) return cached.info;
    const info = await readTransitKey(client, options.key);
    cached = { info, readAt: at };
    return info;
  }

  const versionsOf = (info: TransitKeyInfo): KeyVersion[] =>
    [...info.publicKeys.keys()].map((version) => ({
      version,
      createdAt: info.createdAt.get(version) ?? null,
    }));

  async function jwks(): Promise<PublicJwk[]> {
    const info = await keyInfo();
    return transitJwks(options.key, info, publishedVersions(versionsOf(info), now(), options.rotation));
  }

  return {
    async sign(header, claims) {
      const info = await keyInfo();
      const version = signingVersion(versionsOf(info), now(), options.rotation);
      return signJwsWithTransit(client, options.key, info, header, claims, version);
    },
    jwks,
    async verificationKeys() {
      const published = await jwks();
      const fingerprint = published.map((k) => k.kid).join(",");
      if (keys?.published !== fingerprint)
        keys = { published: fingerprint, map: verificationKeysFromJwks({ keys: published }) };
      return keys.map;
    },
    healthy: () => client.healthy(),
  };
}
