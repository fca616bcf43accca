import { z } from "zod";

/** Where extproc-server charges LLM tokens (docs/rate-limits.md#token-limits). */
export const tokenChargesConfigShape = {
  WARDEN_RATELIMIT_GRPC_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, "must be host:port")
    .optional()
    .describe(
      "The rate-limit service (envoyproxy/ratelimit) gRPC address, host:port (plaintext: loopback or a private network). Each LLM call's tokens are charged to it after the response, which enforces the `tokens` limits; unset: token limits are checked but never charged.",
    ),
  WARDEN_RATELIMIT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(1_000)
    .describe("How long one token charge may take before it is given up (and logged)."),
};
