import { pino, type DestinationStream, type Logger } from "pino";
import { redactUrl } from "./redact-url.js";

export type { Logger };

/**
 * Top-level log fields that hold a URL or request target. Their secret query parameters (OAuth
 * codes and states, tokens, keys) are redacted on every line, whoever logs them (lib/src/redact-url.ts).
 */
const URL_FIELDS = ["url", "path", "uri", "href", "location", "redirect_uri", "target"] as const;

/** pino `formatters.log`: copies the line only when a URL field actually carries a query or fragment. */
export function redactUrlFields(object: Record<string, unknown>): Record<string, unknown> {
  let out = object;
  for (const field of URL_FIELDS) {
    const value = object[field];
    if (typeof value !== "string") continue;
    const redacted = redactUrl(value);
    if (redacted === value) continue;
    if (out === object) out = { ...object };
    out[field] = redacted;
  }
  return out;
}

/**
 * JSON logs (pino). Credential-bearing paths are censored and URLs redacted as a second line of
 * defence; the first is that no code logs a credential value at all.
 */
export function createLogger(
  component: string,
  level: string = process.env.WARDEN_LOG_LEVEL ?? "info",
  destination?: DestinationStream,
): Logger {
  const options = {
    name: component,
    level,
    base: { component },
    formatters: { log: redactUrlFields },
    redact: {
      paths: [
        "*.authorization",
        "*.cookie",
        "*.headers.authorization",
        "*.headers.cookie",
        '*.headers["x-api-key"]',
        '*.headers["api-key"]',
        '*.headers["proxy-authorization"]',
        "*.api_key",
        "*.access_token",
        "*.refresh_token",
        "*.token",
        "*.client_secret",
        "*.code_verifier",
        "*.id_token",
      ],
      // Not `*.code`/`*.state`: error codes (err.code, ECONNREFUSED) must stay readable.
      censor: "[REDACTED]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
