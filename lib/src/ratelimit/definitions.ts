import { z } from "zod";

/**
 * Rate-limit definitions as the API stores them and as both renderers (the rate-limit service's
 * YAML, the policy's data) read them. One definition limits one subject of one tenant: the whole
 * tenant, a team, an agent (its SPIFFE ID), a route (the sidecar's destination name, e.g. `openai`)
 * or an MCP tool, in requests or LLM tokens per minute.
 *
 * `failureMode` is what the sidecar does with a request under this limit while the rate-limit
 * service cannot be reached: `open` lets it through (availability first), `closed` refuses it (the
 * limit is a control, not a courtesy). docs/rate-limits.md.
 */
export const RATE_LIMIT_SCOPES = ["tenant", "team", "agent", "route", "tool"] as const;
export const RATE_LIMIT_UNITS = ["requests", "tokens"] as const;
export const FAILURE_MODES = ["open", "closed"] as const;

export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];
export type RateLimitUnit = (typeof RATE_LIMIT_UNITS)[number];
export type FailureMode = (typeof FAILURE_MODES)[number];

/** Descriptor values the service matches exactly: no spaces or control characters. */
const subjectText = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9._:/@-]+$/, "letters, digits and . _ : / @ - only");

export const rateLimitDefinitionSchema = z
  .object({
    tenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a tenant slug"),
    scope: z.enum(RATE_LIMIT_SCOPES),
    /** The tenant itself for scope `tenant`; else the team, agent SPIFFE ID, route or tool name. */
    subject: subjectText,
    unit: z.enum(RATE_LIMIT_UNITS),
    perMinute: z.number().int().positive().max(1_000_000_000),
    failureMode: z.enum(FAILURE_MODES),
  })
  .superRefine((definition, ctx) => {
    if (definition.scope === "tenant" && definition.subject !== definition.tenant)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["subject"],
        message: "a tenant limit's subject is the tenant itself",
      });
    if (definition.scope === "agent" && !definition.subject.startsWith("spiffe://"))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["subject"],
        message: "an agent limit names the agent's SPIFFE ID",
      });
  });

export type RateLimitDefinition = z.output<typeof rateLimitDefinitionSchema>;

/**
 * The descriptor every limit is matched by, the same on both sides: the sidecar builds it from the
 * ext_authz decision (lib/src/envoy/rate-limits.ts) and the service's YAML nests its limits in this
 * order (service-config.ts).
 */
export const DESCRIPTOR_KEYS = {
  unit: "unit",
  scope: "scope",
  tenant: "tenant",
  subject: "subject",
} as const;

/**
 * The decision metadata key (inside the policy's `metadata`) that puts a request under a fail-closed
 * limit: the sidecar then also asks the service a question that counts nothing, and refuses the
 * request (503) when no answer comes. docs/rate-limits.md.
 */
export const FAIL_CLOSED_METADATA_KEY = "rate_limit_fail_closed";

/** The rate-limit service's domain for Warden's limits. */
export const RATE_LIMIT_DOMAIN = "warden";
