const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * The policy's answer, checked before anyone acts on it (as opa-envoy-plugin does): a result of
 * the wrong shape, or one that contradicts itself (allowed with an error status), becomes a denial
 * with a reason that says so. Nothing the policy returns can turn into a silent allow.
 */
export interface PolicyDecision {
  allow: boolean;
  status: number;
  reason: string;
  headers: Record<string, string>;
  metadata: Record<string, unknown>;
}

/** A denial produced by the engine itself (evaluation failure, invalid result). */
export function engineDenial(
  status: number,
  reason: string,
  detail: string,
  revision: string | null,
): PolicyDecision {
  return { allow: false, status, reason, headers: {}, metadata: { detail, policy_revision: revision } };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * What is wrong with a decision, or null when it is well formed. Written by hand rather than as a
 * schema: it runs once per request, and a schema library's parse both costs CPU and allocates
 * per-call state that outlives young-generation collections (measured: it was what pushed
 * authz-server into a major GC every second under load; docs/benchmarks.md, "The authz tail").
 * At most three problems are named, in field order.
 */
export function decisionProblems(value: unknown): string | null {
  if (!isRecord(value)) return "decision: expected an object";
  const problems: string[] = [];
  const { allow, status, reason, headers, metadata } = value;
  if (typeof allow !== "boolean") problems.push("allow: expected a boolean");
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599)
    problems.push("status: expected an integer from 100 to 599");
  else if (allow === true && (status < 200 || status > 299))
    problems.push(`status: an allow must carry a 2xx status, got ${status}`);
  else if (allow === false && status < 400)
    problems.push(`status: a denial must carry a 4xx/5xx status, got ${status}`);
  if (typeof reason !== "string" || reason.length === 0) problems.push("reason: expected a non-empty string");
  if (!isRecord(headers)) problems.push("headers: expected an object");
  else {
    for (const name in headers) {
      if (!Object.hasOwn(headers, name)) continue;
      if (!HEADER_NAME.test(name)) problems.push(`headers.${name}: header names must be lower-case tokens`);
      else if (typeof headers[name] !== "string") problems.push(`headers.${name}: expected a string`);
      if (problems.length >= 3) break;
    }
  }
  if (!isRecord(metadata)) problems.push("metadata: expected an object");
  return problems.length === 0 ? null : problems.slice(0, 3).join("; ");
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
  const result = isRecord(first) ? first.result : undefined;
  const problems = decisionProblems(result);
  if (problems !== null) return engineDenial(500, "policy_decision_invalid", problems, revision);
  // Checked field by field above; only the five fields are kept (as the schema did), and the
  // metadata is a fresh object from JSON.parse, ours to annotate.
  const { allow, status, reason, headers, metadata } = result as unknown as PolicyDecision;
  metadata.policy_revision = revision;
  return { allow, status, reason, headers, metadata };
}
