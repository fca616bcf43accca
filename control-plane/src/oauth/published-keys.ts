import type { Logger } from "../../../lib/src/logger.js";
import { VaultError } from "../../../lib/src/vault/client.js";
import type { AttestationSigner } from "../kya/signer.js";
import type { TokenSigner } from "./token-signer.js";

/**
 * `/.well-known/jwks.json` publishes both keys: the KYA attestation key and the token key (their
 * `kid`s differ by key name, and each token type is checked by its `typ`). A token key that Vault
 * does not have (not created yet) leaves the attestation keys published and is logged; Vault being
 * unavailable fails the whole set, so verifiers keep the keys they have rather than lose some.
 */
export function withTokenKeys(
  attestations: AttestationSigner,
  tokens: TokenSigner,
  logger: Logger,
): AttestationSigner {
  return {
    ...attestations,
    async jwks() {
      const [attestationKeys, tokenKeys] = await Promise.all([
        attestations.jwks(),
        tokens.jwks().catch((error: unknown) => {
          if (error instanceof VaultError && !error.unavailable) {
            logger.warn(
              { err: error },
              "the token signing key cannot be read; delegations and access tokens are unavailable",
            );
            return [];
          }
          throw error;
        }),
      ]);
      return [...attestationKeys, ...tokenKeys];
    },
  };
}
