import { createHash } from "node:crypto";

/**
 * The digest a tool call's arguments are known by in decisions, approvals and audit rows (the
 * arguments themselves are never stored unless a tool opts in). SHA-256 over a canonical JSON form:
 * object keys sorted by UTF-16 code units at every depth, no whitespace, as JSON.stringify writes
 * strings and numbers. Absent arguments digest like `{}`.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(",")}}`;
}

export function argumentsDigest(args: unknown): string {
  return `sha256:${createHash("sha256")
    .update(canonicalJson(args ?? {}))
    .digest("hex")}`;
}
