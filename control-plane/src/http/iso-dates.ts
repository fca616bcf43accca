/** A row as the API writes it: every Date (timestamptz column) as its ISO-8601 string. */
export function withIsoDates(row: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([key, value]) => [key, value instanceof Date ? value.toISOString() : value]),
  );
}
