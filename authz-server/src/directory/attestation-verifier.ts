import { compactVerify, createRemoteJWKSet, errors } from "jose";

/**
 * Checks an attestation's JWS against the control plane's published keys (`/.well-known/jwks.json`,
 * one key per transit key version, by `kid`). Keys are cached; an unknown `kid` (a rotated key)
 * refetches the set, at most once a second.
 */
export type VerifyOutcome =
  | { ok: true; payload: unknown }
  /** The token is not a valid attestation signed by a published key. */
  | { ok: false; unavailable: false; reason: string }
  /** The keys could not be fetched: nothing is known about the token yet; try again later. */
  | { ok: false; unavailable: true; reason: string };

export interface AttestationVerifier {
  verify(jws: string): Promise<VerifyOutcome>;
}

const ATTESTATION_TYPE = "kya+jwt";
const ALGORITHMS = ["ES256", "ES384", "ES512"];

const TOKEN_ERRORS = [
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKInvalid,
];

export function jwksAttestationVerifier(jwksUrl: string): AttestationVerifier {
  const keys = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 1_000, timeoutDuration: 5_000 });
  return {
    async verify(jws) {
      try {
        const { payload, protectedHeader } = await compactVerify(jws, keys, { algorithms: ALGORITHMS });
        // The same organisation key may sign other token types (delegations): only attestations count.
        if (protectedHeader.typ !== ATTESTATION_TYPE)
          return { ok: false, unavailable: false, reason: `typ is not ${ATTESTATION_TYPE}` };
        return { ok: true, payload: JSON.parse(new TextDecoder().decode(payload)) as unknown };
      } catch (error) {
        const reason = error instanceof errors.JOSEError ? error.code : String(error);
        if (TOKEN_ERRORS.some((kind) => error instanceof kind) || error instanceof SyntaxError)
          return { ok: false, unavailable: false, reason };
        return {
          ok: false,
          unavailable: true,
          reason: error instanceof Error ? `${reason}: ${error.message}` : reason,
        };
      }
    },
  };
}
