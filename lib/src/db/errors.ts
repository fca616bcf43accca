/**
 * Classifies database errors. A connection-level failure means "try again later" (the audit spool
 * keeps the event); anything else is a problem with the statement or the data.
 */
const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
]);

function field(error: unknown, name: string): unknown {
  return typeof error === "object" && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

/** The SQLSTATE of a PostgreSQL error, if there is one. */
export function sqlState(error: unknown): string | undefined {
  const code = field(error, "code");
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isConnectionError(error: unknown): boolean {
  const code = field(error, "code");
  if (typeof code === "string" && CONNECTION_ERROR_CODES.has(code)) return true;
  const state = sqlState(error);
  // 08: connection exception; 57P01..57P03: admin/crash shutdown, cannot connect now; 53300: too many connections.
  if (state !== undefined) return state.startsWith("08") || /^57P0[1-3]$/.test(state) || state === "53300";
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|connection (?:is )?closed|Client has encountered a connection error|timeout exceeded when trying to connect|Client was closed/i.test(
    message,
  );
}

export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === "23505";
}

/** The constraint a PostgreSQL error names, if any. */
export function constraintName(error: unknown): string | undefined {
  const name = field(error, "constraint");
  return typeof name === "string" ? name : undefined;
}
