import type { Grant } from "../../../lib/src/tokens/claims.js";
import type { VerificationKey } from "../../../lib/src/tokens/jws.js";
import { pemLeafThumbprint } from "../../../lib/src/tokens/thumbprint.js";
import {
  checkGrantUse,
  verifyTokenSignature,
  type SignatureOutcome,
  type TokenExpectations,
} from "../../../lib/src/tokens/verify.js";
import type { DelegationVerifier } from "../authorizer.js";
import { NO_DELEGATION, type DelegationFacts } from "../policy-input.js";

/**
 * The `x-warden-delegation` header on the hot path: a delegation (or an access token exchanged for
 * one) becomes the policy's `delegation` facts. The signature is verified once per token string and
 * remembered; every request then checks only the clock, that the token is bound to the calling SVID
 * (`act.sub` = the verified peer SPIFFE ID; for access tokens also `cnf.x5t#S256` = the peer
 * certificate's thumbprint) and the revocation set. Synchronous: no await inside a Check.
 */
export interface TokenVerifierOptions {
  keyFor: (kid: string) => VerificationKey | undefined;
  expectations: TokenExpectations;
  isRevoked: (id: string) => boolean;
  /** False until the revocation set is loaded: until then no token is accepted. */
  revocationsLoaded: () => boolean;
  /** Verified tokens remembered at most (the cache is cleared when full). */
  maxCached?: number;
}

export interface VerifierStats {
  cached_tokens: number;
  signature_checks: number;
  cache_hits: number;
}

const invalid = (error: string): DelegationFacts => ({ ...NO_DELEGATION, present: true, error });

export function factsOf(grant: Grant): DelegationFacts {
  return {
    present: true,
    valid: true,
    error: null,
    id: grant.delegationId,
    user: grant.userId === null ? null : { id: grant.userId, tenant: grant.tenant },
    scopes: grant.scopes,
    destinations: grant.destinations,
    expires_at: grant.expiresAt * 1e9,
  };
}

export class TokenVerifier implements DelegationVerifier {
  private readonly verified = new Map<string, SignatureOutcome>();
  private readonly thumbprints = new Map<string, string | null>();
  private readonly maxCached: number;
  readonly stats = { signature_checks: 0, cache_hits: 0 };

  constructor(private readonly options: TokenVerifierOptions) {
    this.maxCached = options.maxCached ?? 10_000;
  }

  /** Forget every verified token (the published keys changed). */
  clear(): void {
    this.verified.clear();
  }

  status(): VerifierStats {
    return { cached_tokens: this.verified.size, ...this.stats };
  }

  verify(
    token: string,
    callerSpiffeId: string | null,
    nowNs: number,
    peerCertificate: string | { thumbprint: string | null } = "",
  ): DelegationFacts {
    const outcome = this.signatureOutcome(token);
    if (!outcome.ok) return invalid(outcome.error);
    if (!this.options.revocationsLoaded()) return invalid("revocation_status_unknown");
    const grant = outcome.grant;
    const refusal = checkGrantUse(grant, {
      nowSeconds: nowNs / 1e9,
      callerSpiffeId,
      certificateThumbprint:
        grant.certificateThumbprint === null
          ? null
          : typeof peerCertificate === "string"
            ? this.thumbprint(peerCertificate)
            : peerCertificate.thumbprint,
      isRevoked: this.options.isRevoked,
    });
    if (refusal === "expired") return { ...invalid("expired"), expires_at: grant.expiresAt * 1e9 };
    if (refusal) return invalid(refusal);
    // A client-credentials token is the agent acting as itself: bound and valid, but no user's grant.
    if (grant.userId === null) return NO_DELEGATION;
    return factsOf(grant);
  }

  private signatureOutcome(token: string): SignatureOutcome {
    const known = this.verified.get(token);
    if (known) {
      this.stats.cache_hits += 1;
      return known;
    }
    this.stats.signature_checks += 1;
    const outcome = verifyTokenSignature(token, this.options.keyFor, this.options.expectations);
    // An unknown key may be published a moment later: only remember verdicts that cannot change.
    if (outcome.ok || outcome.error !== "unknown_key") {
      if (this.verified.size >= this.maxCached) this.verified.clear();
      this.verified.set(token, outcome);
    }
    return outcome;
  }

  private thumbprint(peerCertificate: string): string | null {
    if (peerCertificate === "") return null;
    let thumbprint = this.thumbprints.get(peerCertificate);
    if (thumbprint === undefined) {
      try {
        thumbprint = pemLeafThumbprint(decodeURIComponent(peerCertificate));
      } catch {
        thumbprint = null;
      }
      if (this.thumbprints.size >= 1_024) this.thumbprints.clear();
      this.thumbprints.set(peerCertificate, thumbprint);
    }
    return thumbprint;
  }
}
