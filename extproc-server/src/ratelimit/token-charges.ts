import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import {
  RateLimitServiceDefinition,
  rateLimit,
  type IRateLimitRequest,
} from "../../../lib/src/envoy/services.js";
import type { Logger } from "../../../lib/src/logger.js";
import { RATE_LIMIT_DOMAIN } from "../../../lib/src/ratelimit/definitions.js";
import { limitDescriptors, type TokenChargeSubjects } from "../../../lib/src/ratelimit/descriptors.js";
import type { TokenUsage } from "../usage/record.js";

/**
 * Token limits (LLM tokens per minute) are charged after the response, when the call's usage is
 * known: one ShouldRateLimit to the rate-limit service with the call's token descriptors and
 * `hits_addend` = its tokens. The sidecar already counted 1 for each when it checked the call
 * (the service never adds 0), so the charge is the rest. The service's answer is not acted on (the
 * call is over); the next call of a subject past its limit is refused by the sidecar's check.
 *
 * Why from extproc-server rather than Envoy's `apply_on_stream_done`: the tokens are known here
 * only, at the end of a body or stream this server reads anyway; handing them to a filter earlier
 * in the chain would take dynamic metadata from ext_proc plus a per-request `hits_addend`
 * substitution, two more moving parts for the same single call. docs/rate-limits.md#token-limits.
 */
export interface TokenCharges {
  charge(subjects: TokenChargeSubjects, usage: TokenUsage, decisionId: string): void;
  close(): void;
}

export const NO_TOKEN_CHARGES: TokenCharges = { charge: () => undefined, close: () => undefined };

/** Every billed token of a call, prompt (cached or not) and output (reasoning included). */
export function billedTokens(usage: TokenUsage): number {
  return usage.inputTokens + usage.cachedInputTokens + usage.cacheWriteTokens + usage.outputTokens;
}

/** The request the service gets for one call; null when nothing is left to charge. Pure. */
export function tokenChargeRequest(
  subjects: TokenChargeSubjects,
  usage: TokenUsage,
): IRateLimitRequest | null {
  // The sidecar's check before the call added 1 already.
  const rest = billedTokens(usage) - 1;
  if (rest <= 0) return null;
  return {
    domain: RATE_LIMIT_DOMAIN,
    descriptors: limitDescriptors("tokens", subjects),
    hitsAddend: Math.min(rest, 0xffff_ffff),
  };
}

export class RateLimitTokenCharges implements TokenCharges {
  private readonly client: Client;

  constructor(
    address: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly onResult: (result: "charged" | "failed") => void = () => undefined,
  ) {
    this.client = new Client(address, credentials.createInsecure());
  }

  charge(subjects: TokenChargeSubjects, usage: TokenUsage, decisionId: string): void {
    const request = tokenChargeRequest(subjects, usage);
    if (request === null) return;
    const method = RateLimitServiceDefinition.shouldRateLimit;
    this.client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      rateLimit.RateLimitRequest.create(request),
      { deadline: Date.now() + this.timeoutMs },
      (error: ServiceError | null) => {
        if (error === null) return this.onResult("charged");
        this.onResult("failed");
        // The tokens go uncounted: token limits fail open for the charge (documented).
        this.logger.warn(
          { decision_id: decisionId, tokens: request.hitsAddend, grpc_code: error.code },
          "LLM tokens could not be charged to the rate-limit service",
        );
      },
    );
  }

  close(): void {
    this.client.close();
  }
}
