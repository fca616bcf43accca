import { z } from "zod";
import { env } from "../../../lib/src/config.js";

/**
 * Settings of the approval gate (docs/approvals.md); part of authz-server's one schema. The gate
 * uses the registry database (the data plane's login) and is on whenever that database is.
 */
const WEEK_S = 7 * 86_400;

export const approvalGateConfigShape = {
  WARDEN_APPROVAL_PENDING_TTL_S: z.coerce
    .number()
    .int("must be a whole number of seconds")
    .min(10, "must be at least 10 seconds (a person must have time to decide)")
    .max(WEEK_S, "must be at most 604800 seconds (7 days)")
    .default(900)
    .describe("How long a held MCP call's approval request stays open; a retry after that opens a new one."),
  WARDEN_APPROVAL_TIMEOUT_MS: z.coerce
    .number()
    .int("must be a whole number of milliseconds")
    .min(10, "must be at least 10 ms")
    .max(240, "must stay below Envoy's ext_authz timeout (250 ms)")
    .default(150)
    .describe(
      "Longest wait for the approval store (PostgreSQL) on a held call; past it the call is refused with 503.",
    ),
  WARDEN_CP_PUBLIC_URL: env
    .url()
    .optional()
    .describe(
      "The control plane's external base URL: approval links (`<url>/v1/approvals/<id>`) in held calls' errors; default: the origin of `WARDEN_JWKS_URL`.",
    ),
};

type GateConfig = z.infer<z.ZodObject<typeof approvalGateConfigShape>> & {
  WARDEN_JWKS_URL?: string | undefined;
};

export function approvalGateProblems(config: GateConfig): string[] {
  const url = config.WARDEN_CP_PUBLIC_URL;
  if (url !== undefined && !/^https?:\/\//.test(url))
    return [`WARDEN_CP_PUBLIC_URL: must be an http(s) URL (got "${url}")`];
  return [];
}

/** Where approval links point: the configured public URL, else the control plane that serves the JWKS. */
export function approvalBaseUrl(config: GateConfig): string | undefined {
  if (config.WARDEN_CP_PUBLIC_URL) return config.WARDEN_CP_PUBLIC_URL;
  return config.WARDEN_JWKS_URL ? new URL(config.WARDEN_JWKS_URL).origin : undefined;
}
