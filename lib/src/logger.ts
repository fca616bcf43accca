import { pino, type Logger } from "pino";

export type { Logger };

/**
 * JSON logs (pino). Credential-bearing paths are censored as a second line of defence; the first is
 * that no code logs a credential value at all.
 */
export function createLogger(
  component: string,
  level: string = process.env.WARDEN_LOG_LEVEL ?? "info",
): Logger {
  return pino({
    name: component,
    level,
    base: { component },
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
      ],
      censor: "[REDACTED]",
    },
  });
}
