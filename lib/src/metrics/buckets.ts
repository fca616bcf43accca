/**
 * Histogram bucket boundaries, in the metric's base unit, chosen once.
 *
 * The GenAI and MCP ones are the explicit bucket boundaries the OpenTelemetry semantic conventions
 * (v1.41, "Semantic conventions for generative AI metrics" and "... for MCP") recommend for those
 * instruments, so dashboards and SLOs written against the conventions read our histograms unchanged.
 */

/** `gen_ai.client.token.usage`, in tokens. */
export const GEN_AI_TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/** `gen_ai.client.operation.duration`, in seconds. */
export const GEN_AI_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** `gen_ai.server.time_to_first_token`, in seconds. */
export const GEN_AI_TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/** `mcp.client.operation.duration`, in seconds. */
export const MCP_DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/**
 * The sidecar's own work per request: tens of microseconds to a few milliseconds (Envoy's
 * ext_authz timeout is 250 ms, so nothing above it matters).
 */
export const SIDECAR_STAGE_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/** Calls to OpenBao, PostgreSQL and HTTP handlers: a millisecond to several seconds. */
export const IO_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** From a revocation's commit to its effect on the data plane (the target is under a second). */
export const REVOCATION_LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
