import type { VaultClient } from "../../../lib/src/vault/client.js";
import {
  readTransitKey,
  signJwsWithTransit,
  transitJwks,
  type PublicJwk,
  type TransitKey,
} from "../../../lib/src/vault/transit.js";

/**
 * Signs attestations with the organisation's key in Vault transit and publishes its public keys.
 * Key metadata is read from Vault each time (approvals and JWKS fetches are rare), so a key rotated
 * in Vault is used and published at once.
 */
export interface AttestationSigner {
  sign(
    header: Record<string, unknown>,
    claims: Record<string, unknown>,
  ): Promise<{ jws: string; kid: string }>;
  jwks(): Promise<PublicJwk[]>;
  healthy(): Promise<boolean>;
}

export function createTransitSigner(client: VaultClient, key: TransitKey): AttestationSigner {
  return {
    async sign(header, claims) {
      return signJwsWithTransit(client, key, await readTransitKey(client, key), header, claims);
    },
    async jwks() {
      return transitJwks(key, await readTransitKey(client, key));
    },
    healthy: () => client.healthy(),
  };
}
