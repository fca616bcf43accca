import { z } from "zod";
import { env } from "../../../lib/src/config.js";
import { parseCidr } from "../../../lib/src/http/outbound.js";

/** Settings of webhooks and the SIEM push; part of the control plane's one schema (config.ts). */
const cidrList = z
  .string()
  .optional()
  .transform((value, context) => {
    const cidrs = (value ?? "")
      .split(",")
      .map((c) => c.trim())
      .filter((c) => c !== "");
    for (const cidr of cidrs)
      if (!parseCidr(cidr))
        context.addIssue({
          code: z.ZodIssueCode.custom,
          message: `"${cidr}" is not a CIDR (address/prefix, e.g. 10.1.0.0/16 or 127.0.0.1/32)`,
        });
    return cidrs;
  });

export const webhookConfigShape = {
  WARDEN_WEBHOOKS: env
    .bool(true)
    .describe("Run the webhook dispatcher and deliverer (subscriptions can be managed either way)."),
  WARDEN_WEBHOOK_ALLOW_CIDRS: cidrList.describe(
    "Comma-separated non-public networks webhook receivers (and the syslog collector) may be on, e.g. `10.20.0.0/16`; `127.0.0.1/32` for a receiver on this machine. Empty: only public addresses. Plain `http://` is accepted only for receivers in these networks.",
  ),
  WARDEN_WEBHOOK_TIMEOUT_MS: env
    .positiveInt(10_000)
    .describe("Time limit of one delivery attempt (connect, TLS, answer)."),
  WARDEN_WEBHOOK_RETRY_BASE_MS: env
    .positiveInt(5_000)
    .describe("Ceiling of the first retry's wait; it doubles with every attempt, up to the cap."),
  WARDEN_WEBHOOK_RETRY_CAP_MS: env.positiveInt(3_600_000).describe("Longest wait between two attempts."),
  WARDEN_WEBHOOK_JITTER: z
    .enum(["full", "equal"])
    .default("full")
    .describe(
      "`full`: wait a random time up to the ceiling; `equal`: half the ceiling plus a random half (waits always grow).",
    ),
  WARDEN_WEBHOOK_MAX_ATTEMPTS: env
    .positiveInt(12)
    .describe("Attempts of one delivery before it is given up (`failed`)."),
  WARDEN_WEBHOOK_DISABLE_AFTER: env
    .positiveInt(50)
    .describe("Failed attempts in a row (across a subscription's deliveries) that disable the subscription."),
  WARDEN_WEBHOOK_POLL_MS: env
    .positiveInt(5_000)
    .describe(
      "Safety-net poll of the audit log and of due retries (new audit rows wake the dispatcher at once).",
    ),
  WARDEN_SYSLOG_TARGET: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/, "must be host:port")
    .optional()
    .describe(
      "Syslog collector (RFC 5424 over TLS, RFC 5425 framing) the audit stream is pushed to; unset: no push.",
    ),
  WARDEN_SYSLOG_CA_FILE: env
    .path()
    .optional()
    .describe("PEM CA bundle the collector's certificate is checked against (default: the system's CAs)."),
  WARDEN_SYSLOG_TENANTS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? "")
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== ""),
    )
    .describe(
      "Comma-separated tenants whose audit stream goes to the syslog collector (required with the target).",
    ),
};

export type WebhookConfig = z.infer<z.ZodObject<typeof webhookConfigShape>>;

/** Rules between the settings above, one line per problem. */
export function webhookConfigProblems(config: WebhookConfig): string[] {
  const problems: string[] = [];
  if (config.WARDEN_SYSLOG_TARGET !== undefined && config.WARDEN_SYSLOG_TENANTS.length === 0)
    problems.push("WARDEN_SYSLOG_TENANTS: name the tenants whose audit stream goes to WARDEN_SYSLOG_TARGET");
  if (config.WARDEN_SYSLOG_TARGET === undefined && config.WARDEN_SYSLOG_TENANTS.length > 0)
    problems.push("WARDEN_SYSLOG_TARGET: required with WARDEN_SYSLOG_TENANTS (host:port of the collector)");
  if (config.WARDEN_WEBHOOK_RETRY_CAP_MS < config.WARDEN_WEBHOOK_RETRY_BASE_MS)
    problems.push("WARDEN_WEBHOOK_RETRY_CAP_MS: must be at least WARDEN_WEBHOOK_RETRY_BASE_MS");
  return problems;
}
