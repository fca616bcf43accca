import { z } from "zod";

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

const decisionSchema = z
  .object({
    allow: z.boolean(),
    status: z.number().int().min(100).max(599),
    reason: z.string().min(1),
    headers: z.record(z.string().regex(HEADER_NAME, "header names must be lower-case tokens"), z.string()),
    metadata: z.record(z.unknown()),
  })
  .superRefine((d, ctx) => {
    if (d.allow && (d.status < 200 || d.status > 299)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["status"],
        message: `an allow must carry a 2xx status, got ${d.status}`,
      });
    }
    if (!d.allow && d.status < 400) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["status"],
        message: `a denial must carry a 4xx/5xx status, got ${d.status}`,
      });
    }
  });

/**
 * The policy's answer, checked before anyone acts on it (as opa-envoy-plugin does): a result of
 * the wrong shape, or one that contradicts itself (allowed with an error status), becomes a denial
 * with a reason that says so. Nothing the policy returns can turn into a silent allow.
 */
export type PolicyDecision = z.infer<typeof decisionSchema>;

/** A denial produced by the engine itself (evaluation failure, invalid result). */
export function engineDenial(
  status: number,
  reason: string,
  detail: string,
  revision: string | null,
): PolicyDecision {
  return { allow: false, status, reason, headers: {}, metadata: { detail, policy_revision: revision } };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "decision"}: ${i.message}`)
    .join("; ");
}

/**
 * `results` is what opa-wasm's evaluate returns: `[{ result }]` when the entrypoint is defined,
 * `[]` when it is not.
 */
export function decisionFromResults(results: unknown, revision: string): PolicyDecision {
  if (!Array.isArray(results) || results.length !== 1) {
    const detail =
      Array.isArray(results) && results.length === 0
        ? "the entrypoint is undefined for this input"
        : "unexpected result set";
    return engineDenial(500, "policy_decision_invalid", detail, revision);
  }
  const first: unknown = results[0];
  const result =
    typeof first === "object" && first !== null ? (first as { result?: unknown }).result : undefined;
  const parsed = decisionSchema.safeParse(result);
  if (!parsed.success)
    return engineDenial(500, "policy_decision_invalid", describeIssues(parsed.error), revision);
  parsed.data.metadata.policy_revision = revision;
  return parsed.data;
}
