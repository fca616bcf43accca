import { REDACTED } from "../../../../lib/src/credentials.js";

/**
 * OAuth token fields a provider may echo in a JSON answer (a token-info endpoint, an error that
 * quotes the request, an integration's connection object): their values never reach the agent,
 * whatever the token is (one Warden injected or another). Names are matched case-insensitively at
 * any depth.
 */
const TOKEN_FIELDS: ReadonlySet<string> = new Set(["access_token", "refresh_token", "id_token"]);
const MAY_HOLD_TOKEN_FIELD = /"(access_token|refresh_token|id_token)"/i;

function redactFields(value: unknown): boolean {
  if (Array.isArray(value)) {
    let changed = false;
    for (const item of value) changed = redactFields(item) || changed;
    return changed;
  }
  if (value === null || typeof value !== "object") return false;
  const record = value as Record<string, unknown>;
  let changed = false;
  for (const [name, field] of Object.entries(record)) {
    if (TOKEN_FIELDS.has(name.toLowerCase()) && field !== REDACTED) {
      record[name] = REDACTED;
      changed = true;
    } else {
      changed = redactFields(field) || changed;
    }
  }
  return changed;
}

/**
 * The JSON text with every token field's value replaced by `[REDACTED]`, or undefined when it has
 * none (the caller sends the original). Text that is not JSON but names a token field is refused
 * as a whole (undefined never hides one): the caller gets null and must withhold the body.
 */
export function redactTokenFields(text: string): string | undefined | null {
  if (!MAY_HOLD_TOKEN_FIELD.test(text)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  return redactFields(parsed) ? JSON.stringify(parsed) : undefined;
}
