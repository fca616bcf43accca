import { isCredentialHeader, isCredentialQueryParam, REDACTED } from "../../../lib/src/credentials.js";
import { redactUrl } from "../../../lib/src/redact-url.js";
import type { SecretScrubber } from "../credentials/scrub.js";

/** Longest arguments kept in an audit row (the row's details are bounded at 16 KiB in all). */
export const MAX_AUDITED_ARGUMENTS_BYTES = 8 * 1024;
/** Argument names whose values are secrets whatever the tool (beyond the credential header and query names). */
const SECRET_NAME = /passw(or)?d|secret|token|api[_-]?key|credential|private[_-]?key|authorization/i;

/**
 * A tool call's arguments as an audit row may keep them: values of secret-looking names replaced,
 * URLs with credential parameters redacted (lib/src/redact-url.ts), and every value the scrubber
 * knows (injected tokens, keys) replaced anywhere. Too large: only a note that it was.
 */
export function auditableArguments(args: unknown, scrubber: SecretScrubber): unknown {
  const redacted = redactValue(args, scrubber, 0);
  const text = JSON.stringify(redacted ?? null);
  if (Buffer.byteLength(text, "utf8") > MAX_AUDITED_ARGUMENTS_BYTES)
    return { truncated: true, bytes: Buffer.byteLength(text, "utf8") };
  return redacted;
}

function redactValue(value: unknown, scrubber: SecretScrubber, depth: number): unknown {
  if (typeof value === "string") {
    const url = redactUrl(value);
    return scrubber.scrubText(url) ?? url;
  }
  if (value === null || typeof value !== "object") return value;
  if (depth > 32) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, scrubber, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    const secret = SECRET_NAME.test(name) || isCredentialHeader(name) || isCredentialQueryParam(name);
    out[name] = secret ? REDACTED : redactValue(item, scrubber, depth + 1);
  }
  return out;
}
